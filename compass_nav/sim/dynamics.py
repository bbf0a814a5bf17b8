"""Body dynamics that differ in kind: latency, second-order tracking, steering, slip, braking.

:class:`BodyDynamics` holds the per-env state the simulator needs beyond pose and velocity
(the command delay line, the second-order tracking state, the per-episode bias and the slow
drift) and advances every env through the compiled kernel :func:`step_bodies_ext`. It is
wired into :class:`compass_nav.sim.env.NavVectorEnv` by three hooks (construction, an env's
reset, a step). With every new body field at its default the kernel performs the same
floating-point operations as :func:`compass_nav.sim.kernels.step_bodies` (the first-order
model that :mod:`compass_nav.worldmodel.kinematics` mirrors), so existing bodies move
exactly as before.

Per control period ``dt`` and sub-step ``h = dt / substeps``, for each env:

1. **Latency** (``command_latency`` L): a command issued at step k acts from ``k dt + L`` on;
   a sub-step starting at ``k dt + s h`` uses the command ``ceil((L - s h) / dt)`` steps old.
2. **Target** = delayed command x (1 + noise + bias + drift); a skid-steer body loses the
   share ``slip_yaw`` of its yaw rate.
3. **Tracking**: first-order lag (``lag_tau``) or, when ``track_wn`` > 0, the exact
   discretisation of ``v'' = wn^2 (target - v) - 2 zeta wn v'``; the change is bounded by the
   acceleration limits, and by ``max_decel`` while the speed magnitude falls (braking).
4. **Ackermann**: ``|wz| <= |vx| / min_turn_radius`` (no turning in place, no lateral motion).
5. **Lateral skid** (skid-steer): ``vy = -slip_lateral * vx * wz``.
6. Pose integration and footprint collision as in :func:`~compass_nav.sim.kernels.step_bodies`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numba as nb
import numpy as np
from scipy.linalg import expm

from compass_nav.contract.body import EmbodimentSpec
from compass_nav.sim.kernels import footprint_collides

#: Correlation time of the slow velocity drift of legged bodies, s.
DRIFT_TIME = 5.0


def second_order_discretisation(wn: float, zeta: float, h: float) -> tuple[np.ndarray, np.ndarray]:
    """Exact zero-order-hold discretisation of ``v'' = wn^2 (u - v) - 2 zeta wn v'``.

    Returns:
        ``(phi, gamma)``: (2, 2) and (2,) with ``[v, v'](t+h) = phi [v, v'](t) + gamma u``.
    """
    a = np.array([[0.0, 1.0], [-(wn**2), -2.0 * zeta * wn]])
    b = np.array([0.0, wn**2])
    m = np.zeros((3, 3))
    m[:2, :2], m[:2, 2] = a * h, b * h
    e = expm(m)
    return e[:2, :2], e[:2, 2]


@nb.njit(parallel=True, cache=True)
def step_bodies_ext(
    height,
    pose,
    vel,
    dvel,
    hist,
    active,
    lim,
    acc,
    dec,
    tau,
    second,
    phi,
    gam,
    latency,
    rmin,
    slip,
    dims,
    gain,
    dt,
    substeps,
    collided,
):
    """Advance N bodies by one control period (see the module docstring for the model).

    Args:
        height: (N, G, G) float32 grids.
        pose: (N, 3) float64 (x, y, yaw), updated in place.
        vel: (N, 3) float64 body velocity (vx, vy, wz), updated in place.
        dvel: (N, 3) float64 velocity derivative of second-order bodies, updated in place.
        hist: (N, D, 3) float64 commands, ``hist[:, j]`` issued j steps ago (0 = this step).
        active: (N,) bool, envs to step.
        lim: (N, 3) velocity limits (the state is capped at 1.2x).
        acc: (N, 3) acceleration limits.
        dec: (N,) braking limit on vx (applies while |vx| falls).
        tau: (N,) first-order time constants.
        second: (N,) bool, second-order tracking.
        phi: (N, 2, 2) second-order state transition per sub-step.
        gam: (N, 2) second-order input gain per sub-step.
        latency: (N,) command latency, s.
        rmin: (N,) minimum turning radius (0: none).
        slip: (N, 2) (slip_yaw, slip_lateral).
        dims: (N, 2) footprint (length, width).
        gain: (N, 3) multiplicative target factor (1 + noise + bias + drift).
        dt: control period, s.
        substeps: integration sub-steps.
        collided: (N,) bool out.
    """
    n = pose.shape[0]
    h = dt / substeps
    depth = hist.shape[1]
    for e in nb.prange(n):
        collided[e] = False
        if not active[e]:
            continue
        for sub in range(substeps):
            back = 0
            if latency[e] > 0.0:
                back = int(math.ceil((latency[e] - sub * h) / dt - 1e-9))
                back = min(max(back, 0), depth - 1)
            for k in range(3):
                target = hist[e, back, k] * gain[e, k]
                if k == 2 and slip[e, 0] > 0.0:
                    target *= 1.0 - slip[e, 0]
                if second[e]:
                    nv = phi[e, 0, 0] * vel[e, k] + phi[e, 0, 1] * dvel[e, k] + gam[e, 0] * target
                    na = phi[e, 1, 0] * vel[e, k] + phi[e, 1, 1] * dvel[e, k] + gam[e, 1] * target
                    dv = nv - vel[e, k]
                else:
                    na = 0.0
                    alpha = 1.0 if tau[e] <= h else h / tau[e]
                    dv = (target - vel[e, k]) * alpha
                up = acc[e, k] * h
                down = up
                if k == 0:
                    if vel[e, 0] > 0.0:
                        down = dec[e] * h
                    elif vel[e, 0] < 0.0:
                        up = dec[e] * h
                if dv > up:
                    dv = up
                    na = 0.0
                elif dv < -down:
                    dv = -down
                    na = 0.0
                vel[e, k] += dv
                dvel[e, k] = na
                if abs(vel[e, k]) > lim[e, k] * 1.2 + 1e-9:
                    vel[e, k] = math.copysign(lim[e, k] * 1.2, vel[e, k])
            if rmin[e] > 0.0:
                wcap = abs(vel[e, 0]) / rmin[e]
                if vel[e, 2] > wcap:
                    vel[e, 2] = wcap
                    dvel[e, 2] = 0.0
                elif vel[e, 2] < -wcap:
                    vel[e, 2] = -wcap
                    dvel[e, 2] = 0.0
            if slip[e, 1] > 0.0:
                vel[e, 1] = -slip[e, 1] * vel[e, 0] * vel[e, 2]
            yaw = pose[e, 2]
            c, s = math.cos(yaw), math.sin(yaw)
            nx = pose[e, 0] + (c * vel[e, 0] - s * vel[e, 1]) * h
            ny = pose[e, 1] + (s * vel[e, 0] + c * vel[e, 1]) * h
            nyaw = yaw + vel[e, 2] * h
            nyaw = (nyaw + math.pi) % (2.0 * math.pi) - math.pi
            if footprint_collides(height[e], nx, ny, nyaw, dims[e, 0], dims[e, 1]):
                collided[e] = True
                for k in range(3):
                    vel[e, k] = 0.0
                    dvel[e, k] = 0.0
                break
            pose[e, 0] = nx
            pose[e, 1] = ny
            pose[e, 2] = nyaw


class BodyDynamics:
    """Per-env body parameters and dynamic state for :func:`step_bodies_ext`.

    Args:
        bodies: The body of each env.
        dt: Control period, s.
        substeps: Integration sub-steps per control period.
    """

    def __init__(self, bodies: Sequence[EmbodimentSpec], dt: float, substeps: int) -> None:
        n = len(bodies)
        self.dt, self.substeps = float(dt), int(substeps)
        h = self.dt / self.substeps
        low = np.stack([b.action_low for b in bodies]).astype(np.float64)
        high = np.stack([b.action_high for b in bodies]).astype(np.float64)
        self.lim = np.maximum(np.abs(low), np.abs(high))
        self.acc = np.stack([b.accel_limits for b in bodies]).astype(np.float64)
        # float32 first, like the other limits: a default body brakes exactly at max_ax.
        self.dec = np.array([b.brake_decel for b in bodies], np.float32).astype(np.float64)
        self.tau = np.array([b.lag_tau for b in bodies], np.float64)
        self.second = np.array([b.track_wn > 0 for b in bodies])
        self.phi = np.zeros((n, 2, 2))
        self.gam = np.zeros((n, 2))
        for e, b in enumerate(bodies):
            if b.track_wn > 0:
                self.phi[e], self.gam[e] = second_order_discretisation(b.track_wn, b.track_zeta, h)
        self.latency = np.array([b.command_latency for b in bodies], np.float64)
        self.rmin = np.array([b.min_turn_radius for b in bodies], np.float64)
        self.slip = np.array([[b.slip_yaw, b.slip_lateral] for b in bodies], np.float64)
        self.dims = np.array([[b.length, b.width] for b in bodies], np.float64)
        self.bias_max = np.array([b.tracking_bias for b in bodies], np.float64)
        self.drift_std = np.array([b.tracking_drift for b in bodies], np.float64)
        #: Distance per gait cycle (the camera oscillation's period in metres), m.
        self.stride = np.array([b.stride_length for b in bodies], np.float64)
        depth = int(math.ceil(self.latency.max(initial=0.0) / self.dt + 1e-9)) + 1
        self.hist = np.zeros((n, depth, 3))
        self.dvel = np.zeros((n, 3))
        self.bias = np.zeros((n, 3))
        self.drift = np.zeros((n, 3))

    @property
    def delay_steps(self) -> np.ndarray:
        """(N,) latency in control periods (may be fractional)."""
        return self.latency / self.dt

    def reset_env(self, e: int, rng: np.random.Generator) -> None:
        """Clear env ``e``'s delay line and tracking state; draw its bias for the episode.

        Draws from ``rng`` only for bodies with a bias or drift, so other bodies' episodes
        stay exactly what they were.
        """
        self.hist[e] = 0.0
        self.dvel[e] = 0.0
        self.bias[e] = 0.0
        self.drift[e] = 0.0
        if self.bias_max[e] > 0:
            self.bias[e] = rng.uniform(-self.bias_max[e], self.bias_max[e], 3)
        if self.drift_std[e] > 0:
            self.drift[e] = rng.normal(0.0, self.drift_std[e], 3)

    def step(
        self,
        height: np.ndarray,
        pose: np.ndarray,
        vel: np.ndarray,
        cmd: np.ndarray,
        active: np.ndarray,
        noise: np.ndarray,
        collided: np.ndarray,
        rngs: Sequence[np.random.Generator],
    ) -> None:
        """Push this step's commands into the delay line and advance every active env.

        Args:
            height: (N, G, G) obstacle heights.
            pose: (N, 3) poses, updated in place.
            vel: (N, 3) body velocities, updated in place.
            cmd: (N, 3) commands, already clipped to each body's limits.
            active: (N,) envs to step.
            noise: (N, 3) per-step relative tracking noise.
            collided: (N,) bool out, set where a sub-step hit an obstacle.
            rngs: Per-env generators (the drift's random walk draws from them).
        """
        if self.hist.shape[1] > 1:
            self.hist[active, 1:] = self.hist[active, :-1]
        self.hist[active, 0] = cmd[active]
        drifting = np.flatnonzero(active & (self.drift_std > 0))
        if drifting.size:
            a = math.exp(-self.dt / DRIFT_TIME)
            for e in drifting:
                step = rngs[e].normal(0.0, self.drift_std[e] * math.sqrt(1 - a * a), 3)
                self.drift[e] = a * self.drift[e] + step
        gain = 1.0 + noise
        extra = self.bias + self.drift
        if extra.any():
            gain = gain + extra
        step_bodies_ext(
            height,
            pose,
            vel,
            self.dvel,
            self.hist,
            active,
            self.lim,
            self.acc,
            self.dec,
            self.tau,
            self.second,
            self.phi,
            self.gam,
            self.latency,
            self.rmin,
            self.slip,
            self.dims,
            gain,
            self.dt,
            self.substeps,
            collided,
        )
