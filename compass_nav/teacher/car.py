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
    height, ctg, pose, vel, goal, rows, rmin, vmax, vrev, dec, dims, latency, vscale, out
):
    """Commands (vx, 0, wz) for the car-like envs ``rows`` (see the module docstring).

    Args:
        height: (N, G, G) obstacle heights.
        ctg: (N, G, G) cost-to-go to each env's goal.
        pose: (N, 3) world poses; vel: (N, 3) body velocities; goal: (N, 3) world goals.
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
        if dist < 0.3 and herr < 0.06:
            out[e, 0] = 0.0
            out[e, 1] = 0.0
            out[e, 2] = 0.0
            continue
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
                c_best = _score(ctg[e], x1, y1, t1, gx, gy, gyaw)
                c_next = d1
                for d2 in (1, -1):
                    for i2 in range(N_CURV):
                        k2 = -kmax + 2.0 * kmax * i2 / (N_CURV - 1)
                        x2, y2, t2, ok2 = _arc(height[e], x1, y1, t1, d2, k2, ARC_2, length, width)
                        if not ok2:
                            continue
                        c = _score(ctg[e], x2, y2, t2, gx, gy, gyaw)
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
        if best_d > 0:
            speed = vmax[e] * vscale
            # Brake to a stop at the goal within the deceleration limit.
            speed = min(speed, math.sqrt(2.0 * dec[e] * 0.5 * max(dist - 0.15, 0.0)) + 0.1)
        else:
            speed = min(vrev[e], 0.5)
            speed = min(speed, math.sqrt(2.0 * dec[e] * 0.5 * max(dist - 0.15, 0.0)) + 0.1)
        if best_next_d != best_d:
            # A manoeuvre (the next arc reverses): go slowly so the switch point is met.
            speed = min(speed, 0.35)
        if dist < HEADING_RADIUS:
            speed = min(speed, 0.25 + 0.5 * dist)
        vx = best_d * speed
        out[e, 0] = vx
        out[e, 1] = 0.0
        out[e, 2] = vx * best_k
