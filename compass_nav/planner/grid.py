"""The grid planner: Dijkstra cost-to-go, path descent and route waypoints (numba kernels).

The simulator (:mod:`compass_nav.sim.env`) plans every episode's global route with
:func:`dijkstra` over :func:`compass_nav.planner.cost.planner_cost`, reads routes with
:func:`routes_batch`; the teacher, the world model's kinematics and the sim bridge follow
paths with :func:`descend_path`. Grid convention as in :mod:`compass_nav.contract.geometry`.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from compass_nav.contract import geometry
from compass_nav.contract.geometry import RESOLUTION

INF = 1e18

#: :func:`compass_nav.contract.geometry.resample_polyline`, compiled for the route kernel.
resample_polyline = nb.njit(cache=True)(geometry.resample_polyline)


@nb.njit(cache=True)
def dijkstra(cost, gi, gj):
    """Cost-to-go from every cell to goal cell (gi, gj), 8-connected.

    Args:
        cost: (G, G) float64 per-metre traversal cost; ``INF`` marks forbidden cells.
        gi: Goal cell row.
        gj: Goal cell column.

    Returns:
        (G, G) float64 cost-to-go in cost-weighted metres (``INF`` where unreachable).
    """
    g = cost.shape[0]
    dist = np.full((g, g), INF)
    if cost[gi, gj] >= INF:
        return dist
    # Binary heap of (dist, index).
    cap = g * g * 4
    hk = np.empty(cap)
    hv = np.empty(cap, np.int64)
    size = 0
    dist[gi, gj] = 0.0
    hk[0] = 0.0
    hv[0] = gi * g + gj
    size = 1
    di = (-1, -1, -1, 0, 0, 1, 1, 1)
    dj = (-1, 0, 1, -1, 1, -1, 0, 1)
    dl = (
        1.4142135623730951,
        1.0,
        1.4142135623730951,
        1.0,
        1.0,
        1.4142135623730951,
        1.0,
        1.4142135623730951,
    )
    while size > 0:
        d = hk[0]
        v = hv[0]
        size -= 1
        # Pop: move last to root and sift down.
        if size > 0:
            lk, lv = hk[size], hv[size]
            p = 0
            while True:
                c1 = 2 * p + 1
                if c1 >= size:
                    break
                c2 = c1 + 1
                cm = c2 if (c2 < size and hk[c2] < hk[c1]) else c1
                if hk[cm] < lk:
                    hk[p] = hk[cm]
                    hv[p] = hv[cm]
                    p = cm
                else:
                    break
            hk[p] = lk
            hv[p] = lv
        i = v // g
        j = v % g
        if d > dist[i, j]:
            continue
        for k in range(8):
            ni = i + di[k]
            nj = j + dj[k]
            if ni < 0 or nj < 0 or ni >= g or nj >= g:
                continue
            cn = cost[ni, nj]
            if cn >= INF:
                continue
            if di[k] != 0 and dj[k] != 0:  # no corner cutting past forbidden cells
                if cost[i, nj] >= INF or cost[ni, j] >= INF:
                    continue
            nd = d + dl[k] * RESOLUTION * 0.5 * (cn + cost[i, j])
            if nd < dist[ni, nj]:
                dist[ni, nj] = nd
                if size >= cap:
                    continue
                # Push and sift up.
                q = size
                size += 1
                while q > 0:
                    parent = (q - 1) // 2
                    if hk[parent] <= nd:
                        break
                    hk[q] = hk[parent]
                    hv[q] = hv[parent]
                    q = parent
                hk[q] = nd
                hv[q] = ni * g + nj
    return dist


@nb.njit(cache=True)
def _cheapest_near(ctg, i, j, r, best):
    """The cheapest cell within ``r`` cells of (i, j) that costs less than ``best``.

    Returns (its cost, i, j), or (``best``, i, j) when none does.
    """
    g = ctg.shape[0]
    bi, bj = i, j
    for a in range(-r, r + 1):
        for b in range(-r, r + 1):
            ni, nj = i + a, j + b
            if 0 <= ni < g and 0 <= nj < g and ctg[ni, nj] < best:
                best = ctg[ni, nj]
                bi, bj = ni, nj
    return best, bi, bj


@nb.njit(cache=True)
def descend_path(ctg, x, y, max_points):
    """Follow the cost-to-go downhill from (x, y); returns (M, 2) cell-centre points (world).

    Starts at the cell under (x, y), or at its cheapest neighbour within 5 cells when that
    cell is unreachable (e.g. the body brushed an inflated obstacle).
    """
    g = ctg.shape[0]
    out = np.empty((max_points, 2))
    i = int(math.floor(y / RESOLUTION))
    j = int(math.floor(x / RESOLUTION))
    i = min(max(i, 0), g - 1)
    j = min(max(j, 0), g - 1)
    if ctg[i, j] >= INF:
        best, bi, bj = _cheapest_near(ctg, i, j, 5, INF)
        if best >= INF:
            return out[:0]
        i, j = bi, bj
    n = 0
    out[n, 0] = (j + 0.5) * RESOLUTION
    out[n, 1] = (i + 0.5) * RESOLUTION
    n += 1
    while n < max_points and ctg[i, j] > 0.0:
        _best, bi, bj = _cheapest_near(ctg, i, j, 1, ctg[i, j])
        if bi == i and bj == j:
            break
        i, j = bi, bj
        out[n, 0] = (j + 0.5) * RESOLUTION
        out[n, 1] = (i + 0.5) * RESOLUTION
        n += 1
    return out[:n]


@nb.njit(parallel=True, cache=True)
def routes_batch(ctg, pose, goal, planned, k, spacing, out):
    """Route waypoints in the robot frame for N envs.

    Planned mode follows the cost-to-go field (the global plan, re-read every step from the
    robot's position); mapless mode is the straight line to the goal.

    Args:
        ctg: (N, G, G) float64 cost-to-go fields.
        pose: (N, 3) robot (x, y, yaw).
        goal: (N, 3) goal (x, y, yaw), world frame.
        planned: (N,) bool, True for planned routes.
        k: Number of waypoints.
        spacing: Metres between waypoints.
        out: (N, k, 2) float32, written.
    """
    n = pose.shape[0]
    max_pts = int(k * spacing / RESOLUTION * 2) + 4
    for e in nb.prange(n):
        x, y, yaw = pose[e, 0], pose[e, 1], pose[e, 2]
        world = np.empty((k, 2))
        if planned[e]:
            pts = descend_path(ctg[e], x, y, max_pts)
            # Skip the first cell centre (under the robot) to avoid a backwards kink.
            if pts.shape[0] > 1:
                pts = pts[1:]
            resample_polyline(pts, x, y, goal[e, 0], goal[e, 1], k, spacing, world)
        else:
            resample_polyline(np.empty((0, 2)), x, y, goal[e, 0], goal[e, 1], k, spacing, world)
        c, s = math.cos(yaw), math.sin(yaw)
        for q in range(k):
            wx, wy = world[q, 0] - x, world[q, 1] - y
            out[e, q, 0] = c * wx + s * wy
            out[e, q, 1] = -s * wx + c * wy


@nb.njit(cache=True)
def path_length(points):
    """Length of an (M, 2) polyline, m."""
    total = 0.0
    for q in range(1, points.shape[0]):
        total += math.hypot(points[q, 0] - points[q - 1, 0], points[q, 1] - points[q - 1, 1])
    return total


@nb.njit(cache=True)
def min_clearance_along(clearance, points):
    """Smallest clearance (m) over the cells of an (M, 2) polyline of cell centres."""
    g = clearance.shape[0]
    best = 1e9
    for q in range(points.shape[0]):
        i = int(math.floor(points[q, 1] / RESOLUTION))
        j = int(math.floor(points[q, 0] / RESOLUTION))
        if 0 <= i < g and 0 <= j < g:
            best = min(best, clearance[i, j])
    return best
