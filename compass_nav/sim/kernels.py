"""Compiled per-env kernels: body dynamics, footprint collision, grid planning, routes.

All run under numba; the batched ones are parallel over environments (``prange``).
Grid convention as in :mod:`compass_nav.sim.scenes.base` (cell [i, j] <-> y, x).
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from compass_nav.sim.scenes.base import RESOLUTION

INF = 1e18


@nb.njit(cache=True)
def footprint_collides(height, x, y, yaw, length, width):
    """True if the rectangle (length x width) centred at (x, y, yaw) overlaps an obstacle.

    Samples the perimeter and the centre line at 4 cm: finer than a grid cell, so no obstacle
    cell can sit on the outline unseen (motion per sub-step is kept below a cell too).
    """
    g = height.shape[0]
    c, s = math.cos(yaw), math.sin(yaw)
    hl, hw = 0.5 * length, 0.5 * width
    nl = max(2, int(math.ceil(length / 0.04)) + 1)
    nw = max(2, int(math.ceil(width / 0.04)) + 1)
    for side in range(3):
        for k in range(nl):
            lx = -hl + length * k / (nl - 1)
            ly = -hw if side == 0 else (hw if side == 1 else 0.0)
            px = x + c * lx - s * ly
            py = y + s * lx + c * ly
            i = int(math.floor(py / RESOLUTION))
            j = int(math.floor(px / RESOLUTION))
            if i < 0 or j < 0 or i >= g or j >= g or height[i, j] > 0:
                return True
    for side in range(2):
        for k in range(nw):
            lx = -hl if side == 0 else hl
            ly = -hw + width * k / (nw - 1)
            px = x + c * lx - s * ly
            py = y + s * lx + c * ly
            i = int(math.floor(py / RESOLUTION))
            j = int(math.floor(px / RESOLUTION))
            if i < 0 or j < 0 or i >= g or j >= g or height[i, j] > 0:
                return True
    return False


@nb.njit(parallel=True, cache=True)
def step_bodies(
    height, pose, vel, cmd, active, lim, acc, tau, dims, noise, dt, substeps, collided
):
    """Advance N bodies by one control period.

    Velocity follows the command through a first-order lag (time constant ``tau``) bounded by
    the acceleration limits; pose integrates body-frame velocity. A sub-step whose footprint
    would overlap an obstacle is undone, the body stops and ``collided`` is set.

    Args:
        height: (N, G, G) float32 grids.
        pose: (N, 3) float64 (x, y, yaw), updated in place.
        vel: (N, 3) float64 body velocity (vx, vy, wz), updated in place.
        cmd: (N, 3) float64 commands, already clipped to the limits.
        active: (N,) bool, envs to step.
        lim: (N, 3) float64 velocity limits (unused sign info is in cmd).
        acc: (N, 3) float64 acceleration limits.
        tau: (N,) float64 response time constants.
        dims: (N, 2) float64 footprint (length, width).
        noise: (N, 3) float64 multiplicative tracking noise for this step.
        dt: control period, s.
        substeps: integration sub-steps.
        collided: (N,) bool out.
    """
    n = pose.shape[0]
    h = dt / substeps
    for e in nb.prange(n):
        collided[e] = False
        if not active[e]:
            continue
        for _ in range(substeps):
            for k in range(3):
                target = cmd[e, k] * (1.0 + noise[e, k])
                alpha = 1.0 if tau[e] <= h else h / tau[e]
                dv = (target - vel[e, k]) * alpha
                dv_max = acc[e, k] * h
                if dv > dv_max:
                    dv = dv_max
                elif dv < -dv_max:
                    dv = -dv_max
                vel[e, k] += dv
                if abs(vel[e, k]) > lim[e, k] * 1.2 + 1e-9:
                    vel[e, k] = math.copysign(lim[e, k] * 1.2, vel[e, k])
            yaw = pose[e, 2]
            c, s = math.cos(yaw), math.sin(yaw)
            nx = pose[e, 0] + (c * vel[e, 0] - s * vel[e, 1]) * h
            ny = pose[e, 1] + (s * vel[e, 0] + c * vel[e, 1]) * h
            nyaw = yaw + vel[e, 2] * h
            nyaw = (nyaw + math.pi) % (2.0 * math.pi) - math.pi
            if footprint_collides(height[e], nx, ny, nyaw, dims[e, 0], dims[e, 1]):
                collided[e] = True
                vel[e, 0] = 0.0
                vel[e, 1] = 0.0
                vel[e, 2] = 0.0
                break
            pose[e, 0] = nx
            pose[e, 1] = ny
            pose[e, 2] = nyaw


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
        best = INF
        bi, bj = i, j
        for a in range(-5, 6):
            for b in range(-5, 6):
                ni, nj = i + a, j + b
                if 0 <= ni < g and 0 <= nj < g and ctg[ni, nj] < best:
                    best = ctg[ni, nj]
                    bi, bj = ni, nj
        if best >= INF:
            return out[:0]
        i, j = bi, bj
    n = 0
    out[n, 0] = (j + 0.5) * RESOLUTION
    out[n, 1] = (i + 0.5) * RESOLUTION
    n += 1
    while n < max_points and ctg[i, j] > 0.0:
        bi, bj = i, j
        best = ctg[i, j]
        for a in range(-1, 2):
            for b in range(-1, 2):
                ni, nj = i + a, j + b
                if 0 <= ni < g and 0 <= nj < g and ctg[ni, nj] < best:
                    best = ctg[ni, nj]
                    bi, bj = ni, nj
        if bi == i and bj == j:
            break
        i, j = bi, bj
        out[n, 0] = (j + 0.5) * RESOLUTION
        out[n, 1] = (i + 0.5) * RESOLUTION
        n += 1
    return out[:n]


@nb.njit(cache=True)
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
