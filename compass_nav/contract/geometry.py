"""Numpy geometry the simulator, the planner and the ROS navigator share.

Grid convention (:data:`RESOLUTION`, :data:`GRID_CELLS`): cell ``[i, j]`` covers world
``x in [j*res, (j+1)*res)``, ``y in [i*res, (i+1)*res)``; world frame REP-103. Plain numpy
and Python, so the navigator process runs them without numba; the planner compiles
:func:`resample_polyline` with numba for its batched route kernel.
"""

from __future__ import annotations

import math

import numpy as np

RESOLUTION = 0.1  # metres per cell
GRID_CELLS = 240  # grid side, cells (24 m)


def wrap_angle(a: np.ndarray) -> np.ndarray:
    """Wrap angles to [-pi, pi)."""
    return (a + np.pi) % (2 * np.pi) - np.pi


def resample_polyline(points, start_x, start_y, goal_x, goal_y, k, spacing, out):
    """Write k points spaced ``spacing`` along start -> points -> goal into out (k, 2).

    Points past the goal repeat the goal.
    """
    m = points.shape[0]
    # Build the polyline: start, interior points, goal.
    px = np.empty(m + 2)
    py = np.empty(m + 2)
    px[0], py[0] = start_x, start_y
    for q in range(m):
        px[q + 1] = points[q, 0]
        py[q + 1] = points[q, 1]
    px[m + 1], py[m + 1] = goal_x, goal_y
    seg = 0
    pos = 0.0  # distance along current segment
    target = spacing
    filled = 0
    travelled = 0.0
    while filled < k:
        if seg >= m + 1:
            out[filled, 0] = goal_x
            out[filled, 1] = goal_y
            filled += 1
            continue
        sx, sy = px[seg + 1] - px[seg], py[seg + 1] - py[seg]
        length = math.sqrt(sx * sx + sy * sy)
        if travelled + (length - pos) >= target and length > 1e-9:
            adv = target - travelled
            pos += adv
            travelled = target
            out[filled, 0] = px[seg] + sx * pos / length
            out[filled, 1] = py[seg] + sy * pos / length
            filled += 1
            target += spacing
        else:
            travelled += length - pos
            seg += 1
            pos = 0.0
