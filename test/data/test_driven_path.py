"""The hindsight path target of stale_map recordings: the path the robot drove next."""

from __future__ import annotations

import numpy as np

from compass_nav.data.routes import driven_path


def test_points_lie_along_the_trajectory_in_each_steps_robot_frame():
    # An L: 2 m east, then 2 m north, at 0.1 m per step, heading along the motion.
    east = [(0.1 * i, 0.0, 0.0) for i in range(20)]
    north = [(2.0, 0.1 * i, np.pi / 2) for i in range(20)]
    pose = np.array(east + north)
    path = driven_path(pose, np.array([2.0, 2.0, np.pi / 2]), points=4, spacing=0.5)
    assert path.shape == (40, 4, 2) and path.dtype == np.float32
    # From the start: 0.5, 1.0, 1.5 m ahead, then round the corner 0.5 m to the left.
    np.testing.assert_allclose(path[0], [[0.5, 0], [1.0, 0], [1.5, 0], [2.0, 0]], atol=1e-6)
    # From (1.5, 0) facing east: 0.5 m to the corner, then up the left-hand side.
    np.testing.assert_allclose(path[15], [[0.5, 0], [0.5, 0.5], [0.5, 1.0], [0.5, 1.5]], atol=1e-6)
    # Facing north at (2, 1.5): the path ends at (2, 2), 0.5 m ahead, and repeats there.
    np.testing.assert_allclose(path[35], [[0.5, 0]] * 4, atol=1e-6)


def test_standing_still_and_a_one_step_episode_give_finite_points():
    pose = np.array([[1.0, 1.0, 0.3]] * 5 + [[1.5, 1.0, 0.0]])
    path = driven_path(pose, None, points=3, spacing=0.25)
    assert np.isfinite(path).all()
    # Waiting in place still points at where the robot went next.
    c, s = np.cos(0.3), np.sin(0.3)
    np.testing.assert_allclose(path[0, 0], [0.25 * c, -0.25 * s], atol=1e-6)
    single = driven_path(np.array([[0.0, 0.0, 1.0]]), None, points=2, spacing=0.5)
    np.testing.assert_array_equal(single, np.zeros((1, 2, 2), np.float32))
