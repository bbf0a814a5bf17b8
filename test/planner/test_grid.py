"""The planner's kernels against the plain numpy geometry the ROS navigator runs."""

from __future__ import annotations

import numpy as np
import pytest

from compass_nav.contract import geometry
from compass_nav.planner import grid


@pytest.mark.parametrize("points", [0, 1, 7])
def test_compiled_and_plain_resampling_agree(points):
    rng = np.random.default_rng(points)
    pts = rng.uniform(0.0, 8.0, (points, 2))
    plain, compiled = np.empty((10, 2)), np.empty((10, 2))
    args = (1.0, 2.0, 6.5, 7.0, 10, 0.4)
    geometry.resample_polyline(pts, *args, plain)
    grid.resample_polyline(pts, *args, compiled)
    np.testing.assert_allclose(plain, compiled, rtol=0, atol=1e-12)
    steps = np.linalg.norm(np.diff(np.vstack([[1.0, 2.0], plain]), axis=0), axis=1)
    assert np.all(steps <= 0.4 + 1e-9)  # never further apart than the spacing


def test_cost_to_go_descends_to_the_goal():
    cost = np.ones((20, 20))
    cost[5:15, 10] = grid.INF  # a wall with gaps at both ends
    ctg = grid.dijkstra(cost, 10, 15)
    assert ctg[10, 15] == 0.0 and ctg[10, 10] >= grid.INF
    path = grid.descend_path(ctg, 0.55, 1.05, 200)
    end = path[-1]
    assert (int(end[1] / geometry.RESOLUTION), int(end[0] / geometry.RESOLUTION)) == (10, 15)
    cells = {(int(y / geometry.RESOLUTION), int(x / geometry.RESOLUTION)) for x, y in path}
    assert not any(cost[c] >= grid.INF for c in cells)
