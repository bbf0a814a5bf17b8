"""Hybrid-A* for car-like bodies (``compass_nav.planner.hybrid``): paths a car can drive."""

from __future__ import annotations

import math

import numpy as np
import pytest

from compass_nav.contract.geometry import GRID_CELLS, RESOLUTION
from compass_nav.planner import hybrid
from compass_nav.sim.env import clearance_field
from compass_nav.sim.kernels import footprint_collides

R_MIN, LENGTH, WIDTH = 0.7, 0.8, 0.5


def _room(door: float | None = None) -> np.ndarray:
    """A 10 x 6 m room from (2, 2); with ``door``, a wall across x = 7 with a door that wide."""
    h = np.full((GRID_CELLS, GRID_CELLS), 2.0, np.float32)
    cell = lambda v: int(round(v / RESOLUTION))  # noqa: E731
    h[cell(2) : cell(8), cell(2) : cell(12)] = 0.0
    if door is not None:
        h[cell(2) : cell(8), cell(7) : cell(7.3)] = 2.0
        h[cell(5 - door / 2) : cell(5 + door / 2), cell(7) : cell(7.3)] = 0.0
    return h


def _check(path, height, start, goal):
    assert path[0, :3] == pytest.approx(np.asarray(start, float), abs=1e-9)
    assert math.hypot(*(path[-1, :2] - goal[:2])) < hybrid.GOAL_DIST + 0.05
    err = (goal[2] - path[-1, 2] + math.pi) % (2 * math.pi) - math.pi
    assert abs(err) < hybrid.GOAL_HEADING + 0.03
    step = np.hypot(*np.diff(path[:, :2], axis=0).T)
    assert step.max() < hybrid.STEP + 1e-6
    # Drivable: the heading turns no faster than the minimum radius allows, and the body's
    # footprint is free at every sample.
    dyaw = np.abs((np.diff(path[:, 2]) + math.pi) % (2 * math.pi) - math.pi)
    assert (dyaw <= 1.01 * step / R_MIN + 1e-6).all()  # chord vs arc: 1 %
    for x, y, yaw, _ in path:
        assert not footprint_collides(height, x, y, yaw, LENGTH, WIDTH)
    assert set(np.unique(path[:, 3])) <= {-1.0, 1.0}


def test_turning_round_in_a_room():
    h = _room()
    clear = clearance_field(h > 0)
    start, goal = np.array([4.0, 5.0, 0.0]), np.array([4.5, 5.0, math.pi])
    path = hybrid.plan(h, clear, start, goal, R_MIN, LENGTH, WIDTH)
    assert path is not None
    _check(path, h, start, goal)


def test_through_a_door_and_into_the_goal_heading():
    h = _room(door=0.75)
    clear = clearance_field(h > 0)
    start, goal = np.array([4.0, 3.5, 0.5]), np.array([10.0, 6.5, -2.0])
    path = hybrid.plan(h, clear, start, goal, R_MIN, LENGTH, WIDTH)
    assert path is not None
    _check(path, h, start, goal)
    crossing = path[np.argmin(np.abs(path[:, 0] - 7.15))]
    assert abs(crossing[1] - 5.0) < 0.2, "it passes through the door"


def test_a_door_narrower_than_the_body_has_no_path():
    h = _room(door=0.45)
    clear = clearance_field(h > 0)
    start, goal = np.array([4.0, 5.0, 0.0]), np.array([10.0, 5.0, 0.0])
    assert hybrid.plan(h, clear, start, goal, R_MIN, LENGTH, WIDTH, max_expansions=20000) is None


def test_dubins_words_end_where_they_should():
    """The shot keeps only words whose integrated end is the goal: some word always does."""
    rng = np.random.default_rng(0)
    h = np.zeros((GRID_CELLS, GRID_CELLS), np.float32)
    clear = np.full(h.shape, 10.0, np.float32)
    buf = np.empty((4000, 3))
    for _ in range(20):
        s = np.array([*rng.uniform(8, 16, 2), rng.uniform(-math.pi, math.pi)])
        g = np.array([*rng.uniform(8, 16, 2), rng.uniform(-math.pi, math.pi)])
        for d in (1, -1):
            m = hybrid._shot(h, clear, *s, *g, R_MIN, d, LENGTH, WIDTH, 1.0, buf)
            assert m > 0
            assert math.hypot(*(buf[m - 1, :2] - g[:2])) < 0.06
