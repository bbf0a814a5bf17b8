"""Routes derived from what a recording holds: the mapless route and the driven path.

The simulator's ``mapless`` route mode (:func:`compass_nav.planner.grid.routes_batch`) is the
straight line from the robot to the goal resampled at ``route_spacing``, points past the goal
repeating the goal. Because that line needs nothing but the goal, the recorder derives it from
the ``goal`` observation and stores it next to the env's own ``route`` as ``route_mapless``,
so one recording serves imitation learning with either route mode; a robot without a map
builds the same route the same way.
"""

from __future__ import annotations

import numpy as np

__all__ = ["driven_path", "mapless_route"]


def mapless_route(goal: np.ndarray, points: int, spacing: float) -> np.ndarray:
    """Straight-line route to the goal in the robot frame, as the simulator's mapless mode.

    Waypoint ``q`` (1-based) lies ``q * spacing`` metres along the line from the robot to the
    goal, or on the goal once that is closer (a goal nearer than 1e-9 m fills every point).

    Args:
        goal: (..., 2+) robot-frame goal; only x and y are used (the ``goal`` observation).
        points: Number of waypoints K (``SimConfig.route_points``).
        spacing: Metres between waypoints (``SimConfig.route_spacing``).

    Returns:
        (..., K, 2) float32 waypoints.
    """
    g = np.asarray(goal, np.float64)[..., :2]
    dist = np.linalg.norm(g, axis=-1, keepdims=True)  # (..., 1)
    along = spacing * np.arange(1, points + 1, dtype=np.float64)  # (K,)
    frac = np.where(dist > 1e-9, np.minimum(along, dist) / np.maximum(dist, 1e-9), 1.0)
    return (frac[..., None] * g[..., None, :]).astype(np.float32)


def driven_path(
    pose: np.ndarray, final_pose: np.ndarray | None, points: int, spacing: float
) -> np.ndarray:
    """The path the robot drove next, seen from every step: the hindsight path target.

    In ``stale_map`` recordings the route shown to the policy runs through obstacles the map
    lacks, so it cannot be the world model's path target. The teacher's trajectory can: it
    went round them. For step ``t`` waypoint ``q`` (1-based) lies ``q * spacing`` metres
    along the trajectory from ``pose[t]`` (then ``final_pose``), in the robot frame at ``t``;
    points past the episode's end repeat its last pose, as routes repeat the goal.

    Args:
        pose: (T, 3) world poses (x, y, yaw) of the episode's steps.
        final_pose: (3,) pose after the last step, or None (the path ends at ``pose[-1]``).
        points: Waypoints K.
        spacing: Metres between waypoints.

    Returns:
        (T, K, 2) float32 waypoints.
    """
    pose = np.asarray(pose, np.float64).reshape(-1, 3)
    xy = pose[:, :2]
    if final_pose is not None:
        xy = np.concatenate([xy, np.asarray(final_pose, np.float64).reshape(1, 3)[:, :2]])
    seg = np.linalg.norm(np.diff(xy, axis=0), axis=1)
    # Arc length along the trajectory; standing still adds nothing, so drop repeated points
    # (np.interp needs increasing abscissae) and keep the first of each run.
    s = np.concatenate([[0.0], np.cumsum(seg)])
    keep = np.concatenate([[True], seg > 1e-9])
    s_k, xy_k = s[keep], xy[keep]
    along = s[: len(pose), None] + spacing * np.arange(1, points + 1)[None, :]  # (T, K)
    if len(s_k) == 1:
        wx = np.full_like(along, xy_k[0, 0])
        wy = np.full_like(along, xy_k[0, 1])
    else:
        wx = np.interp(along, s_k, xy_k[:, 0])
        wy = np.interp(along, s_k, xy_k[:, 1])
    dx, dy = wx - pose[:, :1], wy - pose[:, 1:2]
    c, sn = np.cos(pose[:, 2:3]), np.sin(pose[:, 2:3])
    return np.stack([c * dx + sn * dy, -sn * dx + c * dy], axis=-1).astype(np.float32)
