"""Batched local-grid kernels of the classical planner (:mod:`compass_nav.policies.classical`).

The classical planner keeps a robot-centric costmap per env (cell size
:data:`compass_nav.contract.geometry.RESOLUTION`); every control step it needs, for each env,
the clearance of every local cell (:func:`clearance_stamp`) and the cost-to-go from every
local cell to a local target (:func:`local_cost_to_go`, the global planner's Dijkstra,
:func:`compass_nav.planner.grid.dijkstra`, on each env's local grid); both are parallel over
envs with ``numba.prange``.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from compass_nav.contract.geometry import RESOLUTION
from compass_nav.planner.grid import dijkstra

__all__ = ["clearance_stamp", "local_cost_to_go", "update_memory"]


@nb.njit(parallel=True, cache=True)
def local_cost_to_go(cost, target_i, target_j, out):
    """Cost-to-go to one target cell on each env's local grid.

    Args:
        cost: (N, G, G) float64 per-metre traversal cost (finite everywhere: obstacles are
            expensive, not forbidden, so the field is defined even when the target lies
            behind an obstacle the robot has just seen).
        target_i: (N,) int64 target cell row of each env (clamped into the grid).
        target_j: (N,) int64 target cell column of each env (clamped into the grid).
        out: (N, G, G) float64, written with the cost-to-go in cost-weighted metres.
    """
    n = cost.shape[0]
    g = cost.shape[1]
    for e in nb.prange(n):
        ti = min(max(target_i[e], 0), g - 1)
        tj = min(max(target_j[e], 0), g - 1)
        out[e] = dijkstra(cost[e], ti, tj)


@nb.njit(parallel=True, cache=True)
def clearance_stamp(occ, points, radius_cells, resolution, out):
    """Distance from each cell centre to the nearest observed obstacle point, up to a radius.

    Every obstacle cell holds one observed surface point (``points``); each stamps a disc of
    exact Euclidean distances from the cell centres around it to that point, so the field is
    not rounded to the cell size (a door a few centimetres wider than the body stays open).
    Cells farther than ``radius_cells`` from every obstacle keep the value ``out`` held on
    entry (the caller's "far" value); obstacle cells get 0. Cheaper than a full distance
    transform when only the near field matters (a local planner weighs about a metre).

    Args:
        occ: (N, G, G) bool obstacle cells (robot at the grid centre).
        points: (N, G, G, 2) float64 robot-frame (x, y) of an observed point in each
            obstacle cell (read where ``occ``).
        radius_cells: Stamp radius, cells.
        resolution: Cell size, m.
        out: (N, G, G) float64, preset to the far value; lowered in place.
    """
    n, g = occ.shape[0], occ.shape[1]
    r = radius_cells
    for e in nb.prange(n):
        for i in range(g):
            for j in range(g):
                if not occ[e, i, j]:
                    continue
                out[e, i, j] = 0.0
                px, py = points[e, i, j, 0], points[e, i, j, 1]
                for di in range(-r, r + 1):
                    ii = i + di
                    if ii < 0 or ii >= g:
                        continue
                    cy = (ii - 0.5 * g + 0.5) * resolution
                    for dj in range(-r, r + 1):
                        jj = j + dj
                        if jj < 0 or jj >= g or occ[e, ii, jj] or di * di + dj * dj > r * r:
                            continue
                        cx = (jj - 0.5 * g + 0.5) * resolution
                        d = math.sqrt((cx - px) ** 2 + (cy - py) ** 2)
                        if d < out[e, ii, jj]:
                            out[e, ii, jj] = d


@nb.njit(parallel=True, cache=True)
def update_memory(
    mem, dx, dy, dth, ranges, blind, hfov, keep_range, clear_range, occ, cell_points
):
    """Move the stored scan points by the ego-motion, clear the seen-through ones, rasterise.

    One pass over a robot-centric point memory (the classical planner's rolling costmap):
    every point is expressed in the robot's new frame; a point inside the camera's field of
    view that lies between the column's blind range and its current scan range (minus a
    margin) is free space now and is dropped (NaN); the rest mark their cell of ``occ``.

    Args:
        mem: (N, M, 2) float64 robot-frame points (NaN: empty slot), updated in place.
        dx: (N,) forward displacement since the last call, old robot frame, m.
        dy: (N,) leftward displacement since the last call, old robot frame, m.
        dth: (N,) rotation since the last call, rad (CCW positive).
        ranges: (N, W) horizontal range of the nearest obstacle per image column (inf: none).
        blind: (N, W) range below which a column sees nothing, m.
        hfov: (N,) horizontal field of view, rad.
        keep_range: Points nearer than this are never cleared, m (what is close matters
            most and is the easiest to see past: a column near the edge of the view).
        clear_range: Points farther than this are never cleared, m.
        occ: (N, G, G) bool, written: the cells holding a point (cells of
            :data:`compass_nav.contract.geometry.RESOLUTION`, robot at the centre).
        cell_points: (N, G, G, 2) float64, written where ``occ``: one point of each cell.
    """
    n, m = mem.shape[0], mem.shape[1]
    w = ranges.shape[1]
    g = occ.shape[1]
    for e in nb.prange(n):
        c, s = math.cos(dth[e]), math.sin(dth[e])
        f = 0.5 * w / math.tan(0.5 * hfov[e])
        half = 0.5 * hfov[e]
        for i in range(g):
            for j in range(g):
                occ[e, i, j] = False
        for k in range(m):
            px = mem[e, k, 0]
            if px != px:  # NaN: empty
                continue
            px -= dx[e]
            py = mem[e, k, 1] - dy[e]
            x = c * px + s * py
            y = -s * px + c * py
            r = math.sqrt(x * x + y * y)
            ang = math.atan2(y, x)
            if abs(ang) < half and r < clear_range:
                col = int(math.floor(0.5 * w - math.tan(ang) * f))
                near = max(blind[e, col] + 0.1, keep_range) if 0 <= col < w else 0.0
                if 0 <= col < w and r > near and r < ranges[e, col] - 0.25:
                    mem[e, k, 0] = np.nan
                    mem[e, k, 1] = np.nan
                    continue
            mem[e, k, 0] = x
            mem[e, k, 1] = y
            gj = int(math.floor(x / RESOLUTION + 0.5 * g))
            gi = int(math.floor(y / RESOLUTION + 0.5 * g))
            if 0 <= gi < g and 0 <= gj < g:
                occ[e, gi, gj] = True
                cell_points[e, gi, gj, 0] = x
                cell_points[e, gi, gj, 1] = y
