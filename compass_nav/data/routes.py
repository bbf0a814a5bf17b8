"""The mapless route computed from the goal observation alone.

The simulator's ``mapless`` route mode (:func:`compass_nav.planner.grid.routes_batch`) is the
straight line from the robot to the goal resampled at ``route_spacing``, points past the goal
repeating the goal. Because that line needs nothing but the goal, the recorder derives it from
the ``goal`` observation and stores it next to the env's own ``route`` as ``route_mapless``,
so one recording serves imitation learning with either route mode; a robot without a map
builds the same route the same way.
"""

from __future__ import annotations

import numpy as np

__all__ = ["mapless_route"]


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
