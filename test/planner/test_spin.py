"""Straight-and-turn lattice search (``compass_nav.planner.spin``): a long body that turns on
the spot."""

from __future__ import annotations

import math

import numpy as np

from compass_nav.contract.body import get_embodiment
from compass_nav.contract.geometry import GRID_CELLS, RESOLUTION
from compass_nav.planner import spin
from compass_nav.sim.env import clearance_field
from compass_nav.sim.kernels import footprint_collides

CRAWLER = get_embodiment("crawler")  # 1.2 m x 0.95 m, circumscribed radius 0.77 m


def _cell(v: float) -> int:
    return int(round(v / RESOLUTION))


def _corridor_with_side_door(corridor: float, door: float) -> np.ndarray:
    """A corridor along x from y = 5 with a door in its top wall from x = 8 into a room up to
    y = 9.5: from the corridor the body must turn 90 degrees into the door."""
    h = np.full((GRID_CELLS, GRID_CELLS), 2.0, np.float32)
    h[_cell(5.0) : _cell(5.0 + corridor), _cell(2) : _cell(14)] = 0.0
    h[_cell(5.0 + corridor) : _cell(9.5), _cell(8.0) : _cell(8.0 + door)] = 0.0
    return h


def _check(path, height, start, goal, tol, length, width):
    assert np.allclose(path[0, :3], start)
    assert math.hypot(*(path[-1, :2] - goal[:2])) < spin.GOAL_DIST + 1e-9
    assert abs((goal[2] - path[-1, 2] + math.pi) % (2 * math.pi) - math.pi) <= tol + 1e-9
    kinds = path[1:, 3]
    assert set(np.unique(kinds)) <= {-1.0, 0.0, 1.0}
    for (x0, y0, t0, _), (x1, y1, t1, k) in zip(path[:-1], path[1:], strict=True):
        if k == 0:  # a turn on the spot: no translation
            assert math.hypot(x1 - x0, y1 - y0) < 1e-9
        else:  # a straight move along the heading
            assert t1 == t0
            along = (x1 - x0) * math.cos(t0) + (y1 - y0) * math.sin(t0)
            assert along == np.float64(k * spin.MOVE) or abs(along - k * spin.MOVE) < 1e-9
        assert not footprint_collides(height, x1, y1, t1, length, width)


def test_a_long_body_turns_out_of_a_corridor_into_a_side_door():
    h = _corridor_with_side_door(1.3, 1.3)
    clear = clearance_field(h > 0)
    start = np.array([4.0, 5.65, 0.0])  # facing along the corridor
    goal = np.array([8.65, 8.5, math.pi / 2])  # in the room, facing into it
    # The corridor (1.3 m) is narrower than the body's turning circle (1.54 m): it can only
    # turn where the door gives its corners room.
    assert 2 * CRAWLER.circumscribed_radius > 1.3
    path = spin.plan(h, clear, start, goal, CRAWLER.length, CRAWLER.width, 0.1, inflate=0.02)
    assert path is not None
    _check(path, h, start, goal, 0.1, CRAWLER.length, CRAWLER.width)
    assert (path[1:, 3] == 0).any()


def test_no_path_where_the_body_cannot_turn():
    # A 1.1 m corridor: the 1.2 m long body finds no heading sequence into the door.
    h = _corridor_with_side_door(1.1, 1.3)
    clear = clearance_field(h > 0)
    start = np.array([4.0, 5.55, 0.0])
    goal = np.array([8.65, 8.5, math.pi / 2])
    path = spin.plan(
        h, clear, start, goal, CRAWLER.length, CRAWLER.width, 0.1, max_expansions=20000
    )
    assert path is None


def test_a_holonomic_body_may_move_sideways():
    # A box-shaped body in a corridor exactly its length wide: it cannot turn, but slides.
    body_l, body_w = 0.6, 0.6
    h = np.full((GRID_CELLS, GRID_CELLS), 2.0, np.float32)
    h[_cell(5.0) : _cell(5.8), _cell(2) : _cell(8)] = 0.0
    h[_cell(5.0) : _cell(9.0), _cell(7.0) : _cell(7.8)] = 0.0  # a side shaft going up
    clear = clearance_field(h > 0)
    start, goal = np.array([3.0, 5.4, 0.0]), np.array([7.4, 8.4, 0.0])
    args = (h, clear, start, goal, body_l, body_w, 0.1)
    assert spin.plan(*args, inflate=0.02, max_expansions=20000) is None
    path = spin.plan(*args, inflate=0.02, max_expansions=20000, sideways=True)
    assert path is not None
    assert (np.abs(path[1:, 3]) == 2).any()
