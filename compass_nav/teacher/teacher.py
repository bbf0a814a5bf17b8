"""Planner teacher: reads the simulator's privileged view and returns velocity commands.

Global planning is the simulator's cost-to-go field (Dijkstra on the grid inflated by the
body's inscribed radius, with costs that keep the centre away from obstacles by more than the
circumscribed radius; see :func:`compass_nav.planner.cost.planner_cost`). Because the field covers
every cell, re-planning from wherever the body is costs nothing: the tracker re-reads the path
every step. The local tracker is a pure-pursuit controller with a look-ahead that shrinks near
obstacles, rotates in place when the path turns sharply, brakes within its body's acceleration
limits before the goal, compensates for the body's response lag, and finally turns on the spot
to the goal heading and stops (COMPASS's success needs all of that).
"""

from __future__ import annotations

import dataclasses
import math

import numba as nb
import numpy as np

from compass_nav.contract.geometry import RESOLUTION
from compass_nav.planner import grid
from compass_nav.teacher.avoid import AvoidConfig, actor_params, actor_shapes, avoid_movers
from compass_nav.utils.config import check


@dataclasses.dataclass(frozen=True)
class TeacherConfig:
    """Tracker gains and margins."""

    lookahead: float = 0.8  # m, look-ahead at full speed in open space
    min_lookahead: float = 0.45  # m, look-ahead next to obstacles
    heading_gain: float = 2.0  # wz per rad of heading error (scaled down for laggy bodies)
    turn_in_place: float = 0.7  # rad: sharper turns stop forward motion
    final_radius: float = 0.25  # m: inside it, only align to the goal heading
    speed_scale: float = 0.9  # fraction of the body's speed limit used
    brake_margin: float = 0.6  # fraction of the deceleration limit used to stop at the goal

    def __post_init__(self) -> None:
        check(
            0 < self.min_lookahead <= self.lookahead,
            "min_lookahead",
            self.min_lookahead,
            "must be in (0, lookahead]",
        )
        check(0 < self.speed_scale <= 1, "speed_scale", self.speed_scale, "must be in (0, 1]")
        check(
            0 < self.final_radius < 0.5,
            "final_radius",
            self.final_radius,
            "must be in (0, 0.5) m (inside the goal tolerance)",
        )


@nb.njit(cache=True)
def _wrap(a):
    return (a + math.pi) % (2.0 * math.pi) - math.pi


@nb.njit(parallel=True, cache=True)
def _teacher_batch(
    ctg, clearance, pose, vel, goal, low, high, acc, tau, radius, holo, params, out
):
    n = pose.shape[0]
    look_max, look_min, k_head, turn_thr, final_r, vscale, brake = (
        params[0],
        params[1],
        params[2],
        params[3],
        params[4],
        params[5],
        params[6],
    )
    g = clearance.shape[1]
    for e in nb.prange(n):
        x, y, yaw = pose[e, 0], pose[e, 1], pose[e, 2]
        gx, gy, gyaw = goal[e, 0], goal[e, 1], goal[e, 2]
        c, s = math.cos(yaw), math.sin(yaw)
        dgx, dgy = gx - x, gy - y
        dist = math.hypot(dgx, dgy)
        vmax = high[e, 0] * vscale
        wmax = high[e, 2] * vscale
        # Lag-aware heading gain: a slow body needs a softer loop to avoid overshoot.
        kh = min(k_head, 0.9 / max(tau[e], 0.05))
        vx = 0.0
        vy = 0.0
        wz = 0.0
        if dist < final_r:
            err = _wrap(gyaw - yaw)
            wz = kh * err
            if abs(err) < 0.03:
                wz = 0.0
            if holo[e]:
                # Hold position while turning.
                vx = 1.0 * (c * dgx + s * dgy)
                vy = 1.0 * (-s * dgx + c * dgy)
        else:
            i = min(max(int(math.floor(y / RESOLUTION)), 0), g - 1)
            j = min(max(int(math.floor(x / RESOLUTION)), 0), g - 1)
            clr = clearance[e, i, j]
            room = min(max((clr - radius[e]) / 0.6, 0.0), 1.0)
            look = look_min + (look_max - look_min) * room
            pts = grid.descend_path(ctg[e], x, y, int(look / RESOLUTION * 2) + 6)
            # Look-ahead point: first path point at least `look` away (else the goal).
            tx, ty = gx, gy
            if dist > look:
                for q in range(pts.shape[0]):
                    if math.hypot(pts[q, 0] - x, pts[q, 1] - y) >= look:
                        tx, ty = pts[q, 0], pts[q, 1]
                        break
            lx = c * (tx - x) + s * (ty - y)
            ly = -s * (tx - x) + c * (ty - y)
            alpha = math.atan2(ly, lx)
            # Braking distance within the deceleration limit (with the lag's extra travel).
            v_stop = math.sqrt(max(2.0 * acc[e, 0] * brake * max(dist - 0.1, 0.0), 0.0))
            v_stop = max(v_stop - vel[e, 0] * tau[e] * 0.0, 0.0)
            v_room = vmax * (0.4 + 0.6 * room)
            v_cap = min(vmax, v_stop, v_room)
            if holo[e] and high[e, 1] >= 0.45 * high[e, 0]:
                # Truly holonomic: translate towards the look-ahead, turn to the path.
                d = math.hypot(lx, ly)
                sp = min(v_cap, d * 2.0)
                vx = sp * lx / max(d, 1e-6)
                vy = sp * ly / max(d, 1e-6)
                face = alpha if dist > 1.0 else _wrap(gyaw - yaw)
                wz = kh * face
            else:
                if abs(alpha) > turn_thr:
                    vx = 0.0
                else:
                    vx = v_cap * max(math.cos(alpha), 0.0) ** 2
                wz = kh * alpha
                if holo[e]:
                    vy = min(high[e, 1], 0.5 * v_cap) * max(min(ly, 1.0), -1.0) * 0.5
            # Near the goal, start blending in the goal heading.
            if dist < 0.6 and not holo[e]:
                pass
        if wz > wmax:
            wz = wmax
        elif wz < -wmax:
            wz = -wmax
        out[e, 0] = min(max(vx, low[e, 0]), high[e, 0])
        out[e, 1] = min(max(vy, low[e, 1]), high[e, 1])
        out[e, 2] = min(max(wz, low[e, 2]), high[e, 2])


class Teacher:
    """Privileged planner + tracker for every env of a :class:`NavVectorEnv`.

    Usage::

        teacher = Teacher(env)
        obs, _ = env.reset(seed=0)
        while ...:
            obs, r, term, trunc, info = env.step(teacher.act())
    """

    def __init__(
        self, env, config: TeacherConfig | None = None, avoid: AvoidConfig | None = None
    ) -> None:
        self.env = env
        self.cfg = config or TeacherConfig()
        # Moving obstacles (compass_nav.teacher.avoid): checked only where the env has them.
        self._avoid = actor_params(avoid or AvoidConfig())
        self._side = np.zeros(env.num_envs, np.int64)
        self._stuck = np.zeros(env.num_envs, np.int64)
        self._dims = np.array([[b.length, b.width] for b in env.env_bodies], np.float64)
        bodies = env.env_bodies
        self._low = np.stack([b.action_low for b in bodies]).astype(np.float64)
        self._high = np.stack([b.action_high for b in bodies]).astype(np.float64)
        self._acc = np.stack([b.accel_limits for b in bodies]).astype(np.float64)
        self._tau = np.array([b.lag_tau for b in bodies], np.float64)
        self._radius = np.array([b.circumscribed_radius for b in bodies], np.float64)
        self._holo = np.array([b.holonomic for b in bodies])
        c = self.cfg
        self._params = np.array(
            [
                c.lookahead,
                c.min_lookahead,
                c.heading_gain,
                c.turn_in_place,
                c.final_radius,
                c.speed_scale,
                c.brake_margin,
            ],
            np.float64,
        )

    def act(self, obs: dict | None = None) -> np.ndarray:
        """Commands (N, 3) for the env's current state (``obs`` is not needed: privileged)."""
        p = self.env.privileged()
        out = np.zeros((self.env.num_envs, 3))
        _teacher_batch(
            p["cost_to_go"],
            p["clearance"],
            p["pose"],
            p["velocity"],
            p["goal"],
            self._low,
            self._high,
            self._acc,
            self._tau,
            self._radius,
            self._holo,
            self._params,
            out,
        )
        if p.get("actors_radius") is not None and p["actors_radius"].shape[1]:
            avoid_movers(
                out,
                p["pose"],
                p["velocity"],
                p["goal"],
                p["clearance"],
                p["cost_to_go"],
                p["actors_pos"],
                p["actors_vel"],
                actor_shapes(p),
                self._dims,
                self._low,
                self._high,
                self._acc,
                self._holo,
                self._radius,
                self._side,
                self._stuck,
                self._avoid,
            )
        return out.astype(np.float32)
