"""The exact footprint test on a height grid, shared by the simulator and the planners.

:func:`footprint_collides` is the simulator's collision test (:mod:`compass_nav.sim.kernels`
re-exports it for the body dynamics) and the car-like planner's
(:mod:`compass_nav.planner.hybrid`), so a planned path is free exactly where the simulated
body would not collide. Grid convention as in :mod:`compass_nav.contract.geometry`
(cell [i, j] <-> y, x; a cell is an obstacle where its height is > 0).
"""

from __future__ import annotations

import math

import numba as nb

from compass_nav.contract.geometry import RESOLUTION


@nb.njit(cache=True)
def _point_blocked(height, x, y, c, s, lx, ly):
    """True if body point (lx, ly) lies on an obstacle cell or off the grid.

    The body stands at (x, y) with heading cos, sin = c, s.
    """
    g = height.shape[0]
    i = int(math.floor((y + s * lx + c * ly) / RESOLUTION))
    j = int(math.floor((x + c * lx - s * ly) / RESOLUTION))
    return i < 0 or j < 0 or i >= g or j >= g or height[i, j] > 0


@nb.njit(cache=True)
def footprint_collides(height, x, y, yaw, length, width):
    """True if the rectangle (length x width) centred at (x, y, yaw) overlaps an obstacle.

    Samples the perimeter and the centre line at 4 cm: finer than a grid cell, so no obstacle
    cell can sit on the outline unseen (motion per sub-step is kept below a cell too).
    """
    c, s = math.cos(yaw), math.sin(yaw)
    hl, hw = 0.5 * length, 0.5 * width
    nl = max(2, int(math.ceil(length / 0.04)) + 1)
    nw = max(2, int(math.ceil(width / 0.04)) + 1)
    for side in range(3):
        for k in range(nl):
            lx = -hl + length * k / (nl - 1)
            ly = -hw if side == 0 else (hw if side == 1 else 0.0)
            if _point_blocked(height, x, y, c, s, lx, ly):
                return True
    for side in range(2):
        for k in range(nw):
            lx = -hl if side == 0 else hl
            ly = -hw + width * k / (nw - 1)
            if _point_blocked(height, x, y, c, s, lx, ly):
                return True
    return False
