"""The planner's cost field really forbids cells: Dijkstra never enters them, never cuts a
corner between two of them, and reports a goal behind them as unreachable (``grid.INF``).

The clearance fields of real scenes are float32; the cost built from them must still hold
the exact forbidden marker (a float32 1e18 is 9.99999984e17, which ``>= INF`` misses).
"""

from __future__ import annotations

import math

import numpy as np

from compass_nav.contract.body import get_embodiment
from compass_nav.planner import grid
from compass_nav.planner.cost import planner_cost
from compass_nav.sim.env import scene_with_clearance
from compass_nav.sim.scenes import RESOLUTION

G = 32
BODY = get_embodiment("carter")


def _cells(path: np.ndarray) -> list[tuple[int, int]]:
    return [(int(y / RESOLUTION), int(x / RESOLUTION)) for x, y in path]


def _centre(i: int, j: int) -> tuple[float, float]:
    return (j + 0.5) * RESOLUTION, (i + 0.5) * RESOLUTION


def test_a_float32_clearance_gives_the_exact_forbidden_marker():
    _, clearance = scene_with_clearance("warehouse", 3)
    assert clearance.dtype == np.float32
    cost = planner_cost(clearance, BODY)
    forbidden = clearance < BODY.inscribed_radius + 0.02
    assert forbidden.any()
    assert (cost[forbidden] >= grid.INF).all()
    assert (cost[~forbidden] < 10.0).all()


def test_route_never_enters_a_forbidden_cell():
    clearance = np.full((G, G), 5.0, np.float32)
    clearance[:, 16] = 0.0  # a wall down the middle ...
    clearance[28:31, 16] = 5.0  # ... with a gap near the bottom
    cost = planner_cost(clearance, BODY)
    ctg = grid.dijkstra(cost, 4, 28)
    assert (ctg[clearance == 0.0] >= grid.INF).all()
    path = grid.descend_path(ctg, *_centre(4, 4), 4 * G)
    cells = _cells(path)
    assert cells[-1] == (4, 28)
    assert all(cost[c] < grid.INF for c in cells)
    assert any(i >= 28 for i, j in cells if j == 16)  # through the gap


def test_a_walled_in_goal_is_unreachable():
    clearance = np.full((G, G), 5.0, np.float32)
    clearance[10:21, 10] = clearance[10:21, 20] = 0.0
    clearance[10, 10:21] = clearance[20, 10:21] = 0.0
    cost = planner_cost(clearance, BODY)
    ctg = grid.dijkstra(cost, 15, 15)
    assert ctg[2, 2] >= grid.INF and ctg[15, 15] == 0.0
    assert grid.descend_path(ctg, *_centre(2, 2), 4 * G).shape[0] == 0


def test_no_corner_cutting_between_forbidden_cells():
    # A diagonal wall of single forbidden cells: 8-connected moves could slip between two of
    # them diagonally; the corner guard forbids that, so the far side is unreachable.
    clearance = np.full((G, G), 5.0, np.float32)
    for k in range(G):
        clearance[k, k] = 0.0
    cost = planner_cost(clearance, BODY)
    ctg = grid.dijkstra(cost, 25, 5)  # below the diagonal
    assert ctg[30, 1] < grid.INF
    assert ctg[5, 25] >= grid.INF  # above it
    assert math.isclose(ctg[25, 5], 0.0)


def test_progress_reward_stays_bounded_in_a_forbidden_cell():
    """A body whose centre reaches a forbidden cell gets no progress there (the cost-to-go
    keeps its last value), not a reward of minus the marker."""
    from compass_nav.planner.cost import planner_radii
    from compass_nav.sim.config import SimConfig
    from compass_nav.sim.env import NavVectorEnv

    env = NavVectorEnv(
        SimConfig(
            num_envs=1,
            embodiments=("g1",),
            families=("warehouse",),
            image_height=16,
            image_width=16,
        )
    )
    env.reset(seed=0)
    clearance = env.privileged()["clearance"][0]
    r_in, _ = planner_radii(env.env_bodies[0])
    inflated = np.argwhere((clearance > 0.0) & (clearance < r_in + 0.02))
    x, y = env.pose[0, :2]
    i, j = min(inflated, key=lambda c: math.hypot(_centre(*c)[0] - x, _centre(*c)[1] - y))
    assert env.cost_to_go[0, i, j] >= grid.INF
    env.pose[0, :2] = _centre(i, j)
    _, reward, *_ = env.step(np.zeros((1, 3), np.float32))
    assert np.isfinite(reward).all() and abs(float(reward[0])) < 100.0, reward
    env.close()
