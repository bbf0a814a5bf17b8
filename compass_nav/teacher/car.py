"""Car-like tracker for the planner teacher: forward and reverse arcs, no turning in place.

An Ackermann body (``min_turn_radius`` > 0) cannot rotate on the spot, so the pure-pursuit
tracker of :mod:`compass_nav.teacher.teacher` (which stops and turns when the path bends)
would stall. This tracker searches, every control step, a two-level tree of motion
primitives -- arcs of curvature within ``+-1 / r_min``, driven forwards or in reverse -- and
scores the end pose of each branch by

* the simulator's cost-to-go to the goal at that point (planner metres, privileged),
* near the goal, the heading error to the goal heading (success needs it within 0.1 rad),
* a penalty for reversing and for changing direction (so it does not dither),

discarding any arc whose footprint (slightly inflated) touches an obstacle. It drives the
first arc of the best branch: a forward arc where the path allows, a three-point turn where
it does not (a reverse arc, then forward), a parking manoeuvre at the goal. Commands are
planned from the pose predicted one command latency ahead, so delayed bodies are anticipated.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from compass_nav.contract.geometry import RESOLUTION
from compass_nav.sim.kernels import footprint_collides

#: Curvature samples across [-1/r_min, 1/r_min] (odd: includes straight).
N_CURV = 9
#: Arc length of the first / second primitive, m.
ARC_1 = 0.5
ARC_2 = 0.7
#: Sample spacing along an arc for the collision test, m.
ARC_STEP = 0.1
#: Footprint inflation of the collision test, m (covers lag and latency overshoot).
INFLATE = 0.12
#: Cost weights: per radian of goal-heading error near the goal (m/rad), per metre reversed,
#: for a change of driving direction.
W_HEADING = 1.2
W_REVERSE = 0.6
W_SWITCH = 0.35
#: Radius around the goal in which the heading error counts, m.
HEADING_RADIUS = 1.6
_BIG = 1e9


@nb.njit(cache=True)
def _ctg_at(ctg, x, y):
    g = ctg.shape[0]
    i = int(math.floor(y / RESOLUTION))
    j = int(math.floor(x / RESOLUTION))
    if i < 0 or j < 0 or i >= g or j >= g:
        return _BIG
    v = ctg[i, j]
    return _BIG if v >= 1e17 else v


@nb.njit(cache=True)
def _arc(height, x, y, yaw, d, kappa, s, length, width):
    """End pose of an arc (direction d = +-1, curvature kappa, length s); ok=False on contact."""
    n = max(1, int(math.ceil(s / ARC_STEP)))
    ds = s / n
    for _ in range(n):
        if abs(kappa) < 1e-9:
            x += d * ds * math.cos(yaw)
            y += d * ds * math.sin(yaw)
        else:
            nyaw = yaw + d * ds * kappa
            x += (math.sin(nyaw) - math.sin(yaw)) / kappa
            y += -(math.cos(nyaw) - math.cos(yaw)) / kappa
            yaw = nyaw
        if footprint_collides(height, x, y, yaw, length + INFLATE, width + INFLATE):
            return x, y, yaw, False
    return x, y, yaw, True


@nb.njit(cache=True)
def _score(ctg, x, y, yaw, gx, gy, gyaw):
    c = _ctg_at(ctg, x, y)
    dist = math.hypot(gx - x, gy - y)
    if dist < HEADING_RADIUS:
        err = abs((gyaw - yaw + math.pi) % (2.0 * math.pi) - math.pi)
        c += W_HEADING * err * (1.0 - dist / HEADING_RADIUS)
    return c


@nb.njit(parallel=True, cache=True)
def car_batch(
    height, ctg, pose, vel, goal, lane, rows, rmin, vmax, vrev, dec, dims, latency, vscale, out
):
    """Commands (vx, 0, wz) for the car-like envs ``rows`` (see the module docstring).

    Args:
        height: (N, G, G) obstacle heights.
        ctg: (N, G, G) cost-to-go to each env's lane start (:func:`lane_cost_to_go`).
        pose: (N, 3) world poses; vel: (N, 3) body velocities; goal: (N, 3) world goals.
        lane: (N, 3) lane start (x, y) and lane length, m (0: no lane fits).
        rows: (M,) env indices to plan for.
        rmin, vmax, vrev, dec: (N,) turning radius, forward / reverse speed limit (> 0),
            braking limit.
        dims: (N, 2) footprint (length, width).
        latency: (N,) command latency, s (the plan starts from the pose predicted after it).
        vscale: Fraction of the speed limit used.
        out: (N, 3) written for ``rows``.
    """
    for r in nb.prange(rows.shape[0]):
        e = rows[r]
        x, y, yaw = pose[e, 0], pose[e, 1], pose[e, 2]
        v, w = vel[e, 0], vel[e, 2]
        if latency[e] > 0.0:
            x += v * math.cos(yaw) * latency[e]
            y += v * math.sin(yaw) * latency[e]
            yaw += w * latency[e]
        gx, gy, gyaw = goal[e, 0], goal[e, 1], goal[e, 2]
        length, width = dims[e, 0], dims[e, 1]
        kmax = 1.0 / rmin[e]
        dist = math.hypot(gx - x, gy - y)
        herr = abs((gyaw - yaw + math.pi) % (2.0 * math.pi) - math.pi)
        if dist < 0.35 and herr < 0.07:
            out[e, 0] = 0.0
            out[e, 1] = 0.0
            out[e, 2] = 0.0
            continue
        # Lane mode: on the straight lane behind the goal, roughly aligned: pure pursuit
        # along it and brake to a stop at the goal.
        lz = lane[e, 2]
        cg, sg = math.cos(gyaw), math.sin(gyaw)
        lx = (x - gx) * cg + (y - gy) * sg
        ly = -(x - gx) * sg + (y - gy) * cg
        if lz > 0 and -lz - 0.6 <= lx <= 0.25 and abs(ly) < 0.45 and herr < 0.75:
            look = 0.7
            tx_l = min(lx + look, 0.0)
            if tx_l - lx < 0.3:
                tx_l = lx + 0.3
            tx, ty = gx + tx_l * cg, gy + tx_l * sg
            c, s = math.cos(yaw), math.sin(yaw)
            bx = c * (tx - x) + s * (ty - y)
            by = -s * (tx - x) + c * (ty - y)
            kappa = 2.0 * by / max(bx * bx + by * by, 1e-6)
            kappa = min(max(kappa, -kmax), kmax)
            remaining = -lx
            if remaining < 0.12 and herr >= 0.09:
                # Arrived misaligned: leave the lane mode (the search backs up to the lane).
                pass
            else:
                speed = min(vmax[e] * vscale, 0.3 + 0.5 * remaining)
                speed = min(speed, math.sqrt(2.0 * dec[e] * 0.5 * max(remaining - 0.1, 0.0)))
                if remaining < 0.12:
                    speed = 0.0
                out[e, 0] = speed
                out[e, 1] = 0.0
                out[e, 2] = speed * kappa
                continue
        sx, sy = lane[e, 0], lane[e, 1]
        sdist = math.hypot(sx - x, sy - y)
        moving = 1 if v > 0.05 else (-1 if v < -0.05 else 0)
        best = _BIG
        best_d, best_k, best_next_d = 1, 0.0, 1
        for d1 in (1, -1):
            for i1 in range(N_CURV):
                k1 = -kmax + 2.0 * kmax * i1 / (N_CURV - 1)
                x1, y1, t1, ok1 = _arc(height[e], x, y, yaw, d1, k1, ARC_1, length, width)
                if not ok1:
                    continue
                base = W_REVERSE * ARC_1 if d1 < 0 else 0.0
                if moving != 0 and d1 != moving:
                    base += W_SWITCH
                # Stopping at the end of the first arc is a branch too.
                c_best = _score(ctg[e], x1, y1, t1, sx, sy, gyaw)
                c_next = d1
                for d2 in (1, -1):
                    for i2 in range(N_CURV):
                        k2 = -kmax + 2.0 * kmax * i2 / (N_CURV - 1)
                        x2, y2, t2, ok2 = _arc(height[e], x1, y1, t1, d2, k2, ARC_2, length, width)
                        if not ok2:
                            continue
                        c = _score(ctg[e], x2, y2, t2, sx, sy, gyaw)
                        if d2 < 0:
                            c += W_REVERSE * ARC_2
                        if d2 != d1:
                            c += W_SWITCH
                        if c < c_best:
                            c_best = c
                            c_next = d2
                c_best += base
                if c_best < best:
                    best = c_best
                    best_d, best_k, best_next_d = d1, k1, c_next
        if best >= _BIG:
            # Boxed in on every arc: stop (the inflation is conservative; the next step may
            # find a way once the body has settled).
            out[e, 0] = 0.0
            out[e, 1] = 0.0
            out[e, 2] = 0.0
            continue
        speed = vmax[e] * vscale if best_d > 0 else min(vrev[e], 0.5)
        if best_next_d != best_d:
            # A manoeuvre (the next arc reverses): go slowly so the switch point is met.
            speed = min(speed, 0.35)
        if sdist < HEADING_RADIUS:
            speed = min(speed, 0.3 + 0.5 * sdist)
        vx = best_d * speed
        out[e, 0] = vx
        out[e, 1] = 0.0
        out[e, 2] = vx * best_k


#: Lane lengths tried behind the goal, longest first, m.
LANE_LENGTHS = (2.0, 1.6, 1.2, 0.8)


def lane_start(height: np.ndarray, goal: np.ndarray, length: float, width: float) -> tuple:
    """Start (x, y) and length of the longest free straight lane that ends at the goal pose.

    The lane runs along the goal heading; the body's footprint (slightly inflated) must be
    free at every 0.1 m along it. Returns ``(goal x, goal y, 0.0)`` when none fits.
    """
    gx, gy, gyaw = (float(v) for v in goal)
    c, s = np.cos(gyaw), np.sin(gyaw)
    for lz in LANE_LENGTHS:
        ok = True
        for t in np.arange(-lz, 0.2, 0.1):
            if footprint_collides(height, gx + t * c, gy + t * s, gyaw, length + 0.06, width + 0.06):
                ok = False
                break
        if ok:
            return gx - lz * c, gy - lz * s, lz
    return gx, gy, 0.0


def lane_cost_to_go(cost: np.ndarray, goal: np.ndarray, lane: tuple) -> np.ndarray:
    """Cost-to-go (planner metres) to the lane start, the lane itself made expensive.

    Crossing the lane towards its start would arrive there facing the wrong way; a high (not
    forbidden) cost on the lane makes the search join it from behind, and still lets a body
    standing on it find its way off.

    Args:
        cost: (G, G) the body's planner cost (:func:`compass_nav.planner.cost.planner_cost`).
        goal: World goal (x, y, yaw).
        lane: :func:`lane_start`'s result.
    """
    from compass_nav.planner import grid

    sx, sy, lz = lane
    cost = np.array(cost, np.float64)
    if lz > 0:
        gx, gy, gyaw = (float(v) for v in goal)
        c, s = np.cos(gyaw), np.sin(gyaw)
        g = cost.shape[0]
        for t in np.arange(-lz + 0.3, 0.6, RESOLUTION / 2):
            px, py = gx + t * c, gy + t * s
            i, j = int(py / RESOLUTION), int(px / RESOLUTION)
            i0, i1 = max(i - 2, 0), min(i + 3, g)
            j0, j1 = max(j - 2, 0), min(j + 3, g)
            block = cost[i0:i1, j0:j1]
            cost[i0:i1, j0:j1] = np.where(block >= grid.INF, block, np.maximum(block, 20.0))
    si = min(max(int(sy / RESOLUTION), 0), cost.shape[0] - 1)
    sj = min(max(int(sx / RESOLUTION), 0), cost.shape[1] - 1)
    return grid.dijkstra(cost, si, sj)
