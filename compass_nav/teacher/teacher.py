"""Planner teacher: reads the simulator's privileged view and returns velocity commands.

Global planning is the simulator's cost-to-go field (Dijkstra on the grid inflated by the
body's inscribed radius, with costs that keep the centre away from obstacles by more than the
circumscribed radius; see :func:`compass_nav.planner.cost.planner_cost`). Because the field covers
every cell, re-planning from wherever the body is costs nothing: the tracker re-reads the path
every step. The local tracker is a pure-pursuit controller with a look-ahead that shrinks near
obstacles, rotates in place when the path turns sharply, brakes within its body's acceleration
limits before the goal, compensates for the body's response lag, and finally turns on the spot
to the goal heading and stops (COMPASS's success needs all of that). A footprint guard
(:mod:`compass_nav.teacher.guard`, ``TeacherConfig.guard``, on by default in the scenario
suites with tight passages) replaces a command whose short rollout on the true height grid
would touch an obstacle, which matters in doors and gaps barely wider than the body; it rolls
a command out behind the ones still in the body's latency line. A body the guard holds
wedged (no progress for ``stall_steps``) gets a straight-and-turn plan out
(:mod:`compass_nav.teacher.rescue`), or else backs up a little.

The teacher plans on the true map: ``privileged()["cost_to_go"]`` includes the obstacles a
stale-map scenario left off the scene's map (``cost_to_go_stale`` is the policy's route).
"""

from __future__ import annotations

import dataclasses
import math

import numba as nb
import numpy as np

from compass_nav.contract.geometry import RESOLUTION
from compass_nav.planner import grid
from compass_nav.teacher.avoid import AvoidConfig, actor_params, actor_shapes, avoid_movers
from compass_nav.teacher.car import PathFollower, car_batch, lane_cost_to_go, lane_start
from compass_nav.teacher.guard import guard_batch
from compass_nav.teacher.rescue import SpinRescue
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
    # Replace commands whose short rollout touches an obstacle (None: where the env's
    # scenario suite admits passages tighter than the circumscribed radius, i.e. v2).
    guard: bool | None = None
    # Precise tracking where the path ahead is tighter than the circumscribed radius (None:
    # with the guard): look-ahead, turn-on-the-spot threshold, how far ahead to look, m.
    precise: bool | None = None
    precise_lookahead: float = 0.25
    precise_turn: float = 0.3
    precise_horizon: float = 1.2
    # Steps without progress before backing up (guarded), and how long to back up.
    stall_steps: int = 30
    backup_steps: int = 12
    # Car-like bodies follow Hybrid-A* paths (teacher/car.py PathFollower); False: the greedy
    # two-arc search alone.
    car_paths: bool = True
    # Bodies that turn on the spot answer a stall with a straight-and-turn SE(2) plan
    # (teacher/rescue.py) before backing up blindly; False: backing up only.
    rescue: bool = True

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
            thr = turn_thr
            if params[7] > 0.0:
                # Precise mode: where the path ahead is too tight to turn the body round
                # (clearance below its circumscribed radius), follow it closely and turn on
                # the spot early, so the body enters a door or gap aligned with it.
                ahead = grid.descend_path(ctg[e], x, y, int(params[10] / RESOLUTION) + 2)
                least = clr
                for q in range(ahead.shape[0]):
                    qi = min(max(int(math.floor(ahead[q, 1] / RESOLUTION)), 0), g - 1)
                    qj = min(max(int(math.floor(ahead[q, 0] / RESOLUTION)), 0), g - 1)
                    least = min(least, clearance[e, qi, qj])
                tight = min(max((least - radius[e]) / 0.3, 0.0), 1.0)
                look = params[8] + (look - params[8]) * tight
                thr = params[9] + (turn_thr - params[9]) * tight
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
                if abs(alpha) > thr:
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
        self._radius = np.array([b.circumscribed_radius for b in bodies], np.float64)
        self._holo = np.array([b.holonomic for b in bodies])
        # Bodies that cannot turn in place get the car-like tracker (teacher/car.py); every
        # body's command is planned from the pose predicted one command latency ahead.
        self._latency = np.array([b.command_latency for b in bodies], np.float64)
        self._tau = np.array([b.response_time for b in bodies], np.float64)
        self._car_rows = np.array(
            [e for e, b in enumerate(bodies) if b.min_turn_radius > 0], np.int64
        )
        self._rmin = np.array([max(b.min_turn_radius, 1e-3) for b in bodies], np.float64)
        self._paths = PathFollower(bodies, self._car_rows) if self.cfg.car_paths else None
        self._dec = np.array([b.brake_decel for b in bodies], np.float64)
        # The guard rolls a candidate out behind the commands still in the latency line.
        self._slip = np.array([[b.slip_yaw, b.slip_lateral] for b in bodies], np.float64)
        depth = int(math.ceil(self._latency.max(initial=0.0) * env.cfg.control_hz + 1e-9)) + 1
        self._sent = np.zeros((len(bodies), depth, 3))
        spin_rows = np.array([e for e, b in enumerate(bodies) if b.min_turn_radius <= 0], np.int64)
        self._rescue = SpinRescue(bodies, spin_rows) if self.cfg.rescue else None
        self._dims = np.array([[b.length, b.width] for b in bodies], np.float64)
        self._bodies = bodies
        n = len(bodies)
        self._lane = np.zeros((n, 3))
        self._lane_goal = np.full((n, 3), np.nan)
        self._park_cooldown = np.zeros(n, np.int64)
        self._park_commit = np.zeros((n, 5))
        self._lane_ctg = np.zeros((n,) + env.privileged()["cost_to_go"].shape[1:])
        suite = getattr(env, "suite", None)
        tight = suite is not None and suite.fit_margin is not None
        self._guard = tight if self.cfg.guard is None else self.cfg.guard
        self._precise = self._guard if self.cfg.precise is None else self.cfg.precise
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
                1.0 if self._precise else 0.0,
                c.precise_lookahead,
                c.precise_turn,
                c.precise_horizon,
            ],
            np.float64,
        )
        n = env.num_envs
        self._best_geo = np.full(n, np.inf)
        self._best_yaw = np.zeros(n)
        self._stall = np.zeros(n, np.int64)
        self._backup = np.zeros(n, np.int64)

    def act(self, obs: dict | None = None) -> np.ndarray:
        """Commands (N, 3) for the env's current state (``obs`` is not needed: privileged)."""
        p = self.env.privileged()
        out = np.zeros((self.env.num_envs, 3))
        pose = predict_pose(p["pose"], p["velocity"], self._latency)
        _teacher_batch(
            p["cost_to_go"],
            p["clearance"],
            pose,
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
        if self._car_rows.size:
            self._update_lanes(p)
            car_batch(
                p["clearance"],
                self._lane_ctg,
                p["pose"],
                p["velocity"],
                p["goal"],
                self._lane,
                self._car_rows,
                self._rmin,
                self._high[:, 0],
                -self._low[:, 0],
                self._dec,
                self._dims,
                self._latency,
                self.cfg.speed_scale,
                self._park_cooldown,
                self._park_commit,
                out,
            )
            if self._paths is not None:
                self._paths.act(p, out, self._stuck > 0, self.cfg.speed_scale)
        rescuing = np.zeros(len(out), bool)
        if self._rescue is not None and self._guard:
            self._rescue.clear(np.asarray(getattr(self.env, "steps", np.ones(len(out)))) == 0)
            rescuing = self._rescue.act(p, pose, out)
        planned = out[rescuing].copy()
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
        if rescuing.any():
            held = np.zeros(len(out), bool)
            held[rescuing] = np.any(out[rescuing] != planned, axis=1)
            self._rescue.held(held)
        if self._guard:
            rescuing |= self._unstick(p, pose, out)
            safe = np.empty_like(out)
            guard_batch(
                p["height"],
                p["cost_to_go"],
                p["pose"],
                p["velocity"],
                out,
                self._low,
                self._high,
                self._acc,
                self._tau,
                self._dims,
                self._holo,
                self._sent,
                self._latency,
                self._slip,
                self._dec,
                safe,
            )
            # Car-like bodies keep their tracker's command: the guard's replacements assume a
            # body that can turn in place.
            if self._car_rows.size:
                safe[self._car_rows] = out[self._car_rows]
            # A rescue drives a plan checked with the body's exact rectangle; the guard's
            # one-second rollouts of its slow straight moves would run past a planned turn.
            safe[rescuing] = out[rescuing]
            out = safe
        out = out.astype(np.float32)
        self._remember(out)
        return out

    def _remember(self, out: np.ndarray) -> None:
        """Keep the commands sent (clipped as the env clips them) for the guard's rollouts."""
        fresh = np.asarray(getattr(self.env, "steps", np.ones(len(out)))) == 0
        self._sent[fresh] = 0.0
        self._sent[:, 1:] = self._sent[:, :-1]
        self._sent[:, 0] = np.clip(out, self._low, self._high)

    def _unstick(self, p: dict, pose: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Rescue or back up where a body made no progress for ``stall_steps``.

        A long body can wedge itself at a door's jamb where every forward or turning command
        would touch it; the guard then holds it still. A body that turns on the spot first
        asks for a straight-and-turn plan out (:mod:`compass_nav.teacher.rescue`); where none
        is found it backs up a little (straight, guarded), which frees it for another, better
        aligned approach.

        Returns:
            (N,) bool: envs whose rescue starts with this step's command.
        """
        c = self.cfg
        geo = np.asarray(getattr(self.env, "geo", np.zeros(len(out))))
        fresh = np.asarray(getattr(self.env, "steps", np.ones(len(out)))) == 0
        self._best_geo[fresh] = np.inf
        self._stall[fresh] = 0
        self._backup[fresh] = 0
        # Progress: nearer the goal, or turned (on the spot, towards the path) since then.
        yaw = np.asarray(p["pose"])[:, 2]
        self._best_yaw[fresh] = yaw[fresh]
        turned = np.abs((yaw - self._best_yaw + np.pi) % (2 * np.pi) - np.pi) > 0.3
        better = (geo < self._best_geo - 0.1) | turned
        self._best_geo = np.where(better, np.minimum(geo, self._best_geo), self._best_geo)
        self._best_yaw = np.where(better, yaw, self._best_yaw)
        # Waiting for a moving obstacle (the avoidance holds the body) is not a stall.
        waiting = self._stuck > 0
        self._stall = np.where(better, 0, np.where(waiting, self._stall, self._stall + 1))
        if self._paths is not None:
            self._stall[self._car_rows] = 0  # car-like: the path follower re-plans instead
        rescued = np.zeros(len(out), bool)
        if self._rescue is not None:
            self._stall[self._rescue.active()] = 0
        start = (self._stall >= c.stall_steps) & (self._backup == 0)
        if self._rescue is not None:
            for e in np.flatnonzero(start):
                if self._rescue.start(p, e):
                    rescued[e] = True
            if rescued.any():
                rescued = self._rescue.act(p, pose, out, only=rescued)
                start &= ~rescued
                self._stall[rescued] = 0
        self._backup[start] = c.backup_steps
        self._stall[start] = 0
        backing = self._backup > 0
        if backing.any():
            out[backing, 0] = 0.6 * self._low[backing, 0]
            out[backing, 1] = 0.0
            out[backing, 2] = 0.0
            self._backup[backing] -= 1
            # The next approach counts as progress from where the backing ends.
            self._best_geo[backing] = np.inf
        return rescued

    def _update_lanes(self, p: dict) -> None:
        """Per new goal of a car-like env: its final lane and the cost-to-go to the lane start."""
        from compass_nav.planner.cost import planner_cost

        for e in self._car_rows:
            if np.array_equal(self._lane_goal[e], p["goal"][e]):
                continue
            body = self._bodies[e]
            lane = lane_start(p["height"][e], p["goal"][e], body.length, body.width)
            cost = planner_cost(p["clearance"][e], body)
            self._lane[e] = lane
            self._lane_ctg[e] = lane_cost_to_go(cost, p["goal"][e], lane)
            self._lane_goal[e] = p["goal"][e]
            self._park_commit[e] = 0.0
            self._park_cooldown[e] = 0


def predict_pose(pose: np.ndarray, vel: np.ndarray, latency: np.ndarray) -> np.ndarray:
    """Poses (N, 3) after each body's command latency at its current body velocity.

    A command acts ``latency`` seconds after it is sent; planning from where the body will be
    then anticipates the delay. Bodies without latency get their pose unchanged (same array
    values, so the teacher's commands for them are exactly what they were).
    """
    rows = np.flatnonzero(latency > 0)
    if rows.size == 0:
        return pose
    out = pose.copy()
    yaw, lat = pose[rows, 2], latency[rows]
    c, s = np.cos(yaw), np.sin(yaw)
    out[rows, 0] += (c * vel[rows, 0] - s * vel[rows, 1]) * lat
    out[rows, 1] += (s * vel[rows, 0] + c * vel[rows, 1]) * lat
    out[rows, 2] = (yaw + vel[rows, 2] * lat + np.pi) % (2 * np.pi) - np.pi
    return out
