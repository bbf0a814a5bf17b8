"""Proprioception in imagination: the body's known actuator model, odometry, goal and route.

The learned world model predicts what the camera sees and whether the body hits something.
Everything else a policy observes follows from the commands through the body's published
actuator model (the same first-order lag, acceleration limits and tracking noise that the
embodiment file declares, with no obstacles), integrated as odometry from the start pose:

* ``speed``: the actuator model's velocity;
* ``goal``: the start-frame goal re-expressed in the current (imagined) robot frame;
* ``route``: the global plan handed over at the start (start frame), followed from the
  imagined position, or the straight line to the goal for mapless plans — the simulator's
  own rule (:func:`compass_nav.sim.kernels.resample_polyline`), so routes agree exactly while
  the body stays on its plan, and approximately once it strays (the simulator re-plans from
  wherever the body is; this re-projects onto the original plan);
* success: COMPASS's rule on the imagined pose and velocity
  (:func:`compass_nav.sim.mdp.terminations.goal_reached`).

:class:`Proprioception` is used by :mod:`compass_nav.worldmodel.imagine`; contacts are
judged there (:func:`compass_nav.worldmodel.imagine.outcomes`).
"""

from __future__ import annotations

import types

import numpy as np

from compass_nav.sim import kernels
from compass_nav.sim.mdp.terminations import goal_reached, wrap_angle

__all__ = ["ActuatorModel", "Proprioception"]

_SUCCESS_RULE = types.SimpleNamespace(goal_tolerance=0.5, heading_tolerance=0.1,
                                      stop_speed=0.1, stop_yaw_rate=0.1)


class ActuatorModel:
    """Velocity response of one body to commands (vectorised over a batch).

    Args:
        body: The :class:`~compass_nav.sim.embodiment.EmbodimentSpec`.
        dt: Control period, s.
        substeps: Integration sub-steps per period (the simulator's default is 2).
        seed: Seed of the tracking noise.
    """

    def __init__(self, body, dt: float = 0.1, substeps: int = 2, seed: int = 0) -> None:
        self.body = body
        self.dt, self.substeps = float(dt), int(substeps)
        self.low = body.action_low.astype(np.float64)
        self.high = body.action_high.astype(np.float64)
        self.lim = np.maximum(np.abs(self.low), np.abs(self.high))
        self.acc = body.accel_limits.astype(np.float64)
        self.tau = float(body.lag_tau)
        self.noise = float(body.tracking_noise)
        self.rng = np.random.default_rng(seed)

    def clip(self, action: np.ndarray) -> np.ndarray:
        """Commands clipped to the body's limits (non-finite rows become zero)."""
        a = np.asarray(action, np.float64)
        a = np.where(np.isfinite(a).all(axis=1, keepdims=True), a, 0.0)
        return np.clip(a, self.low, self.high)

    def step(self, pose: np.ndarray, vel: np.ndarray, cmd: np.ndarray,
             active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One control period for rows ``active``; returns new (pose, vel) (inputs untouched).

        Args:
            pose: (N, 3) (x, y, yaw) in the start frame.
            vel: (N, 3) body velocity.
            cmd: (N, 3) clipped commands.
            active: (N,) bool.
        """
        pose, vel = pose.astype(np.float64).copy(), vel.astype(np.float64).copy()
        noise = np.zeros_like(cmd)
        if self.noise > 0:
            noise = self.rng.normal(0.0, self.noise, cmd.shape)
        h = self.dt / self.substeps
        alpha = 1.0 if self.tau <= h else h / self.tau
        target = cmd * (1.0 + noise)
        m = active[:, None]
        for _ in range(self.substeps):
            dv = np.clip((target - vel) * alpha, -self.acc * h, self.acc * h)
            new_v = np.clip(vel + dv, -self.lim * 1.2, self.lim * 1.2)
            vel = np.where(m, new_v, vel)
            c, s = np.cos(pose[:, 2]), np.sin(pose[:, 2])
            step = np.stack([(c * vel[:, 0] - s * vel[:, 1]) * h,
                             (s * vel[:, 0] + c * vel[:, 1]) * h, vel[:, 2] * h], 1)
            pose = np.where(m, pose + step, pose)
            pose[:, 2] = wrap_angle(pose[:, 2])
        return pose, vel


class Proprioception:
    """Imagined odometry, goal and route for a batch of episodes (start frame = origin).

    Args:
        goal: (N, 3) goal in the start robot frame (the first observation's ``goal``).
        plans: (N, M, 2) global plan at the start (start frame) and ``plan_len`` (N,) valid
            points; ``None`` or ``plan_len == 0`` means a mapless (straight) route.
        plan_len: (N,) valid plan points.
        speed: (N, 3) velocity at the start.
        route_points, route_spacing: The route observation's layout.
    """

    def __init__(self, goal: np.ndarray, plans: np.ndarray | None, plan_len: np.ndarray | None,
                 speed: np.ndarray, route_points: int = 10, route_spacing: float = 0.4) -> None:
        n = goal.shape[0]
        self.goal = goal.astype(np.float64)
        self.pose = np.zeros((n, 3))
        self.vel = speed.astype(np.float64).copy()
        self.plans = plans if plans is not None else np.zeros((n, 0, 2))
        self.plan_len = plan_len if plan_len is not None else np.zeros(n, np.int64)
        self.progress = np.zeros(n, np.int64)  # index of the nearest plan point so far
        self.k, self.spacing = int(route_points), float(route_spacing)

    def goal_obs(self) -> np.ndarray:
        """(N, 3) goal in the imagined robot frame."""
        x, y, yaw = self.pose.T
        dx, dy = self.goal[:, 0] - x, self.goal[:, 1] - y
        c, s = np.cos(yaw), np.sin(yaw)
        return np.stack([c * dx + s * dy, -s * dx + c * dy,
                         wrap_angle(self.goal[:, 2] - yaw)], 1).astype(np.float32)

    def route_obs(self) -> np.ndarray:
        """(N, K, 2) route waypoints in the imagined robot frame."""
        n = self.pose.shape[0]
        out = np.zeros((n, self.k, 2), np.float32)
        world = np.empty((self.k, 2))
        for e in range(n):
            x, y, yaw = self.pose[e]
            m = int(self.plan_len[e])
            if m > 1:
                plan = self.plans[e, :m].astype(np.float64)
                # Nearest plan point, never going back, searching a window ahead (the
                # simulator re-reads its plan from the current cell every step).
                lo = int(self.progress[e])
                hi = min(m, lo + 40)
                d = np.hypot(plan[lo:hi, 0] - x, plan[lo:hi, 1] - y)
                self.progress[e] = lo + int(np.argmin(d))
                pts = np.ascontiguousarray(plan[self.progress[e] + 1:])
            else:
                pts = np.zeros((0, 2))
            kernels.resample_polyline(pts, x, y, self.goal[e, 0], self.goal[e, 1], self.k,
                                      self.spacing, world)
            c, s = np.cos(yaw), np.sin(yaw)
            wx, wy = world[:, 0] - x, world[:, 1] - y
            out[e, :, 0] = c * wx + s * wy
            out[e, :, 1] = -s * wx + c * wy
        return out

    def reached(self) -> np.ndarray:
        """(N,) bool: COMPASS's success rule on the imagined pose and velocity."""
        return goal_reached(self.pose, self.vel, self.goal, _SUCCESS_RULE)
