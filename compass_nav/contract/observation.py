"""Geometry that turns a robot's inputs into the observation contract (numpy).

The simulator computes ``goal`` and ``route`` from its ground-truth pose; on a robot the
navigator computes the same quantities from odometry, the goal pose and an optional global
plan, and so do the log readers (:mod:`compass_nav.logs`) from a robot's logs, using the
simulator's own definitions (:func:`compass_nav.contract.geometry.resample_polyline` for both
the mapless straight line and the planned route) so that a policy sees the same thing in all
three places. No ROS types here: :mod:`compass_nav.ros.navigator_core` calls these functions
(through :mod:`compass_nav.ros.observation`) and the unit tests check them against
:class:`compass_nav.sim.env.NavVectorEnv`.
"""

from __future__ import annotations

import math

import numpy as np

from compass_nav.contract.geometry import resample_polyline, wrap_angle

__all__ = [
    "build_observation",
    "goal_in_robot_frame",
    "planned_route",
    "robot_to_world",
    "straight_route",
    "trim_route",
]


def goal_in_robot_frame(pose: np.ndarray, goal: np.ndarray) -> np.ndarray:
    """World goal (x, y, yaw) seen from the robot at ``pose`` -> (x, y, yaw) float32.

    Same formula as the simulator's ``goal`` observation.
    """
    c, s = math.cos(pose[2]), math.sin(pose[2])
    dx, dy = goal[0] - pose[0], goal[1] - pose[1]
    yaw = float(wrap_angle(np.float64(goal[2] - pose[2])))
    return np.array([c * dx + s * dy, -s * dx + c * dy, yaw], np.float32)


def robot_to_world(pose: np.ndarray, xyyaw: np.ndarray) -> np.ndarray:
    """A pose (x, y, yaw) given in the robot frame at ``pose`` -> the world (odometry) frame."""
    c, s = math.cos(pose[2]), math.sin(pose[2])
    return np.array(
        [
            pose[0] + c * xyyaw[0] - s * xyyaw[1],
            pose[1] + s * xyyaw[0] + c * xyyaw[1],
            float(wrap_angle(np.float64(pose[2] + xyyaw[2]))),
        ]
    )


def _route(
    plan: np.ndarray, pose: np.ndarray, goal: np.ndarray, k: int, spacing: float
) -> np.ndarray:
    """``k`` points every ``spacing`` m along robot -> ``plan`` (world) -> goal, robot frame."""
    world = np.empty((k, 2))
    resample_polyline(
        np.ascontiguousarray(plan, np.float64),
        float(pose[0]),
        float(pose[1]),
        float(goal[0]),
        float(goal[1]),
        k,
        spacing,
        world,
    )
    c, s = math.cos(pose[2]), math.sin(pose[2])
    wx, wy = world[:, 0] - pose[0], world[:, 1] - pose[1]
    return np.stack([c * wx + s * wy, -s * wx + c * wy], 1).astype(np.float32)


def straight_route(pose: np.ndarray, goal: np.ndarray, k: int, spacing: float) -> np.ndarray:
    """Mapless route: ``k`` points every ``spacing`` m on the line to the goal, robot frame."""
    return _route(np.empty((0, 2)), pose, goal, k, spacing)


def trim_route(points: np.ndarray, xy: np.ndarray, start: int = 0) -> int:
    """Index of the first route point still ahead of the robot at ``xy``.

    The robot is projected onto the closest segment at or after segment ``start`` (progress
    only moves forward, so a route that passes near itself does not jump back); the points
    up to that segment's start are behind. Returns a value in [start, M].
    """
    m = points.shape[0]
    if m < 2:
        return min(start, m)
    a, b = points[start:-1], points[start + 1 :]
    ab = b - a
    denom = np.maximum((ab * ab).sum(1), 1e-12)
    t = np.clip(((xy - a) * ab).sum(1) / denom, 0.0, 1.0)
    d2 = ((a + t[:, None] * ab - xy) ** 2).sum(1)
    i = int(np.argmin(d2))
    return start + i + 1


def planned_route(
    points: np.ndarray, pose: np.ndarray, goal: np.ndarray, k: int, spacing: float, start: int = 0
) -> tuple[np.ndarray, int]:
    """Route observation from a global plan (M, 2) in the world frame, robot frame (k, 2).

    Like the simulator's planned route: ``k`` points every ``spacing`` m along robot ->
    remaining plan -> goal. Returns the route and the progress index to pass next time.
    """
    idx = trim_route(points, pose[:2], start)
    return _route(points[idx:], pose, goal, k, spacing), max(idx - 1, 0)


def build_observation(
    rgb: np.ndarray | None,
    depth: np.ndarray | None,
    speed: np.ndarray,
    route: np.ndarray,
    goal: np.ndarray,
    descriptor: np.ndarray,
) -> dict[str, np.ndarray]:
    """One robot's inputs -> a batch-of-one observation dict in the simulator's contract.

    Args:
        rgb: (H, W, 3) uint8 or None when the model does not read colour.
        depth: (H, W) float32 metres (0 = no return) or None.
        speed: (3,) body (vx, vy, wz).
        route: (K, 2) waypoints in the robot frame.
        goal: (3,) goal (x, y, yaw) in the robot frame.
        descriptor: (D,) embodiment descriptor.
    """
    obs = {
        "speed": np.asarray(speed, np.float32)[None],
        "route": np.asarray(route, np.float32)[None],
        "goal": np.asarray(goal, np.float32)[None],
        "embodiment": np.asarray(descriptor, np.float32)[None],
    }
    if rgb is not None:
        obs["rgb"] = rgb[None]
    if depth is not None:
        obs["depth"] = depth[None]
    return obs
