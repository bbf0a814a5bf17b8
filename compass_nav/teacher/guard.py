"""Footprint guard: the teacher's last check that a command does not drive the body into anything.

The pure-pursuit tracker (:mod:`compass_nav.teacher.teacher`) follows the planner's path with
the body's centre; in a door or gap only a little wider than the body (suite ``v2``) its
corners can still touch a jamb while it turns. The guard rolls every env's command out for a
short horizon on the true height grid -- the body's first-order lag and acceleration limits,
the exact rectangle the simulator checks (:func:`compass_nav.sim.kernels.footprint_collides`)
-- and, where that rollout touches an obstacle, picks the safe candidate (slower, turning on
the spot, sideways, backing up) that ends lowest on the cost-to-go, with a small preference
for commands close to the tracker's. Where every candidate collides it keeps the one that
collides latest. A command whose rollout is clear is returned unchanged, so in open space the
teacher drives exactly as before.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from compass_nav.contract.geometry import RESOLUTION
from compass_nav.planner import grid
from compass_nav.sim.kernels import footprint_collides

#: Rollout length (s) and step (s).
HORIZON_S = 1.0
STEP_S = 0.1
#: The rolled-out footprint is this much longer and wider than the body (m): room for the
#: tracking noise the rollout does not model.
INFLATE_M = 0.03


@nb.njit(cache=True)
def _rollout(height, x, y, yaw, v0, cmd, tau, acc, length, width, steps, dt):
    """Steps until the footprint first touches an obstacle (``steps + 1`` if never), end pose."""
    vx, vy, wz = v0[0], v0[1], v0[2]
    a = math.exp(-dt / max(tau, 1e-3))
    for k in range(steps):
        tx = cmd[0] + (vx - cmd[0]) * a
        ty = cmd[1] + (vy - cmd[1]) * a
        tw = cmd[2] + (wz - cmd[2]) * a
        vx += min(max(tx - vx, -acc[0] * dt), acc[0] * dt)
        vy += min(max(ty - vy, -acc[1] * dt), acc[1] * dt)
        wz += min(max(tw - wz, -acc[2] * dt), acc[2] * dt)
        c, s = math.cos(yaw), math.sin(yaw)
        # Sub-steps keep the motion per check below a grid cell.
        sub = max(1, int(math.ceil(max(abs(vx), abs(vy), abs(wz) * length) * dt / 0.05)))
        h = dt / sub
        for _ in range(sub):
            c, s = math.cos(yaw), math.sin(yaw)
            x += (c * vx - s * vy) * h
            y += (s * vx + c * vy) * h
            yaw += wz * h
            if footprint_collides(height, x, y, yaw, length, width):
                return k, x, y, yaw
    return steps + 1, x, y, yaw


@nb.njit(cache=True)
def _rollout_delayed(height, x, y, yaw, v0, cmd, sent, lat, slip, tau, acc, dec, length, width,
                     steps, dt):  # fmt: skip
    """:func:`_rollout` for a body with command latency or skid-steer slip.

    As the simulator moves it (:func:`compass_nav.sim.dynamics.step_bodies_ext`): the commands
    already sent act until ``lat`` s from now, the yaw rate loses the share ``slip[0]``, the
    skid adds ``vy = -slip[1] vx wz``, and ``vx`` falls at most at the braking limit ``dec``.
    The arguments are :func:`_rollout`'s, and ``sent`` (D, 3), the commands sent before this
    one (``sent[0]`` one step ago), ``lat`` the latency (s), ``slip`` (slip_yaw,
    slip_lateral) and ``dec`` the braking limit on vx.
    """  # noqa: D417
    vx, vy, wz = v0[0], v0[1], v0[2]
    sub = 4
    h = dt / sub
    alpha = 1.0 if tau <= h else h / tau
    depth = sent.shape[0]
    u = np.empty(3)
    for k in range(steps):
        for q in range(sub):
            back = int(math.ceil((lat - (k * dt + q * h)) / dt - 1e-9))
            for m in range(3):
                u[m] = cmd[m] if back <= 0 else sent[min(back - 1, depth - 1), m]
            u[2] *= 1.0 - slip[0]
            dx = (u[0] - vx) * alpha
            dy = (u[1] - vy) * alpha
            dw = (u[2] - wz) * alpha
            up, down = acc[0] * h, acc[0] * h
            if vx > 0.0:
                down = dec * h
            elif vx < 0.0:
                up = dec * h
            vx += min(max(dx, -down), up)
            vy += min(max(dy, -acc[1] * h), acc[1] * h)
            wz += min(max(dw, -acc[2] * h), acc[2] * h)
            if slip[1] > 0.0:
                vy = -slip[1] * vx * wz
            c, s = math.cos(yaw), math.sin(yaw)
            x += (c * vx - s * vy) * h
            y += (s * vx + c * vy) * h
            yaw += wz * h
            if footprint_collides(height, x, y, yaw, length, width):
                return k, x, y, yaw
    return steps + 1, x, y, yaw


@nb.njit(cache=True)
def _roll(height, x, y, yaw, v0, cmd, sent, lat, slip, tau, acc, dec, length, width, steps,
          dt):  # fmt: skip
    if lat > 0.0 or slip[0] > 0.0 or slip[1] > 0.0:
        return _rollout_delayed(height, x, y, yaw, v0, cmd, sent, lat, slip, tau, acc, dec,
                                length, width, steps, dt)  # fmt: skip
    return _rollout(height, x, y, yaw, v0, cmd, tau, acc, length, width, steps, dt)


@nb.njit(cache=True)
def _ctg_at(ctg, x, y):
    g = ctg.shape[0]
    i = min(max(int(math.floor(y / RESOLUTION)), 0), g - 1)
    j = min(max(int(math.floor(x / RESOLUTION)), 0), g - 1)
    return ctg[i, j]


@nb.njit(parallel=True, cache=True)
def guard_batch(height, ctg, pose, vel, cmd, low, high, acc, tau, dims, holo, sent, lat, slip,
                dec, out):  # fmt: skip
    """Safe commands for N envs (see the module docstring).

    Args:
        height: (N, G, G) true obstacle heights.
        ctg: (N, G, G) true-map cost-to-go.
        pose: (N, 3) world (x, y, yaw).
        vel: (N, 3) body-frame velocity.
        cmd: (N, 3) the tracker's commands.
        low: (N, 3) lower command limits.
        high: (N, 3) upper command limits.
        acc: (N, 3) acceleration limits.
        tau: (N,) response lag, s.
        dims: (N, 2) footprint (length, width), m.
        holo: (N,) bool, the body can move sideways.
        sent: (N, D, 3) the commands sent in the last D steps (``[:, 0]`` the previous one).
        lat: (N,) command latency, s.
        slip: (N, 2) skid-steer (slip_yaw, slip_lateral).
        dec: (N,) braking limit on vx.
        out: (N, 3) written.
    """
    n = pose.shape[0]
    steps = int(round(HORIZON_S / STEP_S))
    for e in nb.prange(n):
        x, y, yaw = pose[e, 0], pose[e, 1], pose[e, 2]
        length, width = dims[e, 0] + INFLATE_M, dims[e, 1] + INFLATE_M
        hit, ex, ey, eyaw = _roll(height[e], x, y, yaw, vel[e], cmd[e], sent[e], lat[e],
                                  slip[e], tau[e], acc[e], dec[e], length, width, steps,
                                  STEP_S)  # fmt: skip
        out[e, 0], out[e, 1], out[e, 2] = cmd[e, 0], cmd[e, 1], cmd[e, 2]
        if hit > steps:
            continue
        vmax = high[e, 0]
        wmax = high[e, 2]
        best_hit = hit
        best_score = 1e30
        bx, by, bw = 0.0, 0.0, 0.0
        cand = np.empty(3)
        # Candidates: the tracker's command scaled down, turning on the spot, creeping
        # forward or back while turning, and sideways for bodies that can.
        vxs = (0.0, 0.15, 0.3, 0.5, -0.15)
        wzs = (-1.0, -0.6, -0.3, -0.12, 0.0, 0.12, 0.3, 0.6, 1.0)
        nvy = 3 if holo[e] else 1
        for a in range(len(vxs)):
            for b in range(len(wzs)):
                for c in range(nvy):
                    cand[0] = min(max(vxs[a] * vmax, low[e, 0]), high[e, 0])
                    cand[1] = 0.0 if c == 0 else (0.3 if c == 1 else -0.3) * high[e, 1]
                    cand[2] = wzs[b] * wmax
                    h2, ex, ey, eyaw = _roll(height[e], x, y, yaw, vel[e], cand, sent[e],
                                             lat[e], slip[e], tau[e], acc[e], dec[e], length,
                                             width, steps, STEP_S)  # fmt: skip
                    if h2 < best_hit:
                        continue
                    end = _ctg_at(ctg[e], ex, ey)
                    if end >= grid.INF:
                        end = 1e9
                    dev = (
                        abs(cand[0] - cmd[e, 0]) / max(vmax, 1e-3)
                        + abs(cand[1] - cmd[e, 1]) / max(vmax, 1e-3)
                        + abs(cand[2] - cmd[e, 2]) / max(wmax, 1e-3)
                    )
                    score = end + 0.1 * dev
                    if h2 > best_hit or score < best_score:
                        best_hit = h2
                        best_score = score
                        bx, by, bw = cand[0], cand[1], cand[2]
        out[e, 0], out[e, 1], out[e, 2] = bx, by, bw
