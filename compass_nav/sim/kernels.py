"""Compiled per-env kernels: body dynamics and footprint collision.

The grid planner's kernels live in :mod:`compass_nav.planner.grid`; the footprint test
(:func:`footprint_collides`) in :mod:`compass_nav.planner.footprint`, shared with the
car-like planner. All run under numba;
the batched ones are parallel over environments (``prange``). Grid convention as in
:mod:`compass_nav.contract.geometry` (cell [i, j] <-> y, x).
"""

from __future__ import annotations

import math

import numba as nb

from compass_nav.planner.footprint import footprint_collides  # noqa: F401 (re-exported)


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
