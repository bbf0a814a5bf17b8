"""A classical local planner on the depth camera: rolling costmap + dynamic window approach.

The bar a learned policy must clear on a real robot. It reads only the policy observation
(``depth``, ``speed``, ``route``, ``goal``, ``embodiment``), never the simulator's map, so it
runs wherever a policy runs (evaluation, ROS runtime). Registered as ``classical``.

Every control step, for every env of the batch (vectorised numpy; the local Dijkstra is a
numba kernel parallel over envs, :mod:`compass_nav.planner.local`):

1. **Depth to points.** Each pixel is back-projected with the renderer's camera model
   (:mod:`compass_nav.sim.render`: column azimuth ``atan((W/2 - j - 0.5) / f)``, row
   elevation ``-pitch + atan((H/2 - i - 0.5) / f)``, depth along the optical axis), using the
   camera height, pitch and horizontal FOV of the ``embodiment`` descriptor. Points higher
   than a floor threshold (and below ``max_obstacle_height``) are obstacles; per image column
   the nearest one is kept, a virtual laser scan.
2. **Rolling costmap.** Scan points live in a robot-centric ring buffer (``memory_steps``
   control steps), moved every step by the ego-motion integrated from the ``speed``
   observation (odometry). Old points decay out of the buffer; points inside the camera's
   field of view that the current scan sees through are cleared (moving obstacles leave no
   trails). The buffer is rasterised into a local grid (``grid_cells`` x 0.1 m).
3. **Local plan.** A clearance field (Euclidean distance transform) inflates the obstacles
   for the body's footprint; Dijkstra over the inflated costs gives the cost-to-go to a local
   target: the farthest route waypoint inside the grid (the goal when it is closer).
4. **Dynamic window.** Velocity commands (vx, wz, and vy for holonomic bodies) are sampled
   inside the body's limits and forward-simulated for ``horizon`` seconds with the body's lag
   and acceleration limits; the footprint is a row of discs along its long axis. A command is
   admissible when no disc touches an obstacle before the body could stop; admissible
   commands are scored by progress on the cost-to-go, alignment with its descent direction,
   clearance and speed. With nothing admissible the robot brakes;
   when it makes no progress for ``stuck_steps`` it turns in place towards the freer side
   for a while, where that turn is admissible.
5. **Goal.** Near the goal the score also rewards arriving with the goal's heading; within
   ``final_radius`` (inside the task's tolerance) the body turns in place to that heading,
   or, where its footprint cannot turn there, takes the admissible command that best aligns
   it while staying within reach.

The numba kernels are imported on the first ``act``, not with the module: the ROS navigator
imports every registered policy and must not load numba.

Tuned on the ``validation`` split only (``compass-nav evaluate run classical --split
validation``); the held-out figures are reported with these settings fixed.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from compass_nav.contract.geometry import RESOLUTION
from compass_nav.contract.policy import Policy, register_scripted
from compass_nav.contract.spec import CONTROL_HZ
from compass_nav.utils.config import check, check_within

__all__ = [
    "ClassicalConfig",
    "ClassicalPlanner",
    "depth_scan",
    "footprint_discs",
    "optional_field",
]

# Descriptor indices (compass_nav.contract.body.DESCRIPTOR_FIELDS).
_MAX_VX, _MIN_VX, _MAX_VY, _MAX_WZ = 0, 1, 2, 3
_MAX_AX, _MAX_AY, _MAX_AWZ, _LAG = 4, 5, 6, 7
_LENGTH, _WIDTH = 8, 9
_CAM_H, _CAM_PITCH, _CAM_HFOV, _CAM_BOB = 10, 11, 12, 13
_HOLONOMIC = 14

_BIG = 1e3  # "no obstacle" clearance / range, m
_NEAR = 1.2  # clearances are exact up to this distance, m
_COARSE = 2  # the cost-to-go grid's cell is this many costmap cells
_CLEAR_RANGE = 6.0  # stored points farther than this are never cleared by the scan, m
_KEEP_RANGE = 1.0  # ... nor nearer than this (they only age out of the memory), m


@dataclasses.dataclass(frozen=True)
class ClassicalConfig:
    """Settings of the classical planner (defaults tuned on the validation split).

    Attributes:
        grid_cells: Side of the robot-centric local grid, cells of 0.1 m.
        memory_steps: Control steps a scan point stays in the costmap (decay).
        floor_margin: Height above the floor, m, above which a point is an obstacle (plus
            twice the camera bob and ``floor_slope`` per metre of range).
        floor_slope: Extra floor margin per metre of range (pitch error), m/m.
        max_obstacle_height: Points higher than this are ignored (ceilings), m.
        horizon: Forward-simulation time of a candidate command, s.
        sim_dt: Integration step of the forward simulation, s.
        vx_samples, wz_samples, vy_samples: Samples per velocity axis (vy only for
            holonomic bodies).
        safety_margin: Clearance kept between footprint and obstacles, m.
        footprint_discs: Discs covering the footprint along its long side (more: tighter).
        speed_margin: Extra clearance per m/s of commanded speed, s.
        w_progress, w_align, w_clearance, w_speed: Score weights: progress on the
            cost-to-go, alignment with its descent, clearance, forward speed.
        w_goal_heading: Weight of arriving with the goal's heading (within 1.5 m of it).
        final_radius: Distance to the goal below which the final approach takes over, m
            (inside the task's 0.5 m goal tolerance): turn in place to the goal heading.
        stuck_steps: Steps without progress on the cost-to-go before recovery turns.
        recovery_steps: Length of a recovery turn, steps.
        dt: Control period, s (odometry integration).
    """

    grid_cells: int = 80
    memory_steps: int = 150
    floor_margin: float = 0.07
    floor_slope: float = 0.01
    max_obstacle_height: float = 2.0
    horizon: float = 1.6
    sim_dt: float = 0.1
    vx_samples: int = 6
    wz_samples: int = 11
    vy_samples: int = 3
    safety_margin: float = 0.03
    footprint_discs: int = 4
    speed_margin: float = 0.06
    w_progress: float = 1.0
    w_align: float = 0.3
    w_clearance: float = 0.3
    w_speed: float = 0.1
    w_goal_heading: float = 0.2
    final_radius: float = 0.47
    stuck_steps: int = 30
    recovery_steps: int = 12
    dt: float = 1.0 / CONTROL_HZ

    def __post_init__(self) -> None:
        check_within("grid_cells", self.grid_cells, 20, 400, "cells")
        check(self.grid_cells % 2 == 0, "grid_cells", self.grid_cells, "must be even")
        check_within("memory_steps", self.memory_steps, 1, 600, "steps")
        check(self.floor_margin > 0, "floor_margin", self.floor_margin, "must be > 0")
        check(self.floor_slope >= 0, "floor_slope", self.floor_slope, "must be >= 0")
        check(
            self.max_obstacle_height > self.floor_margin,
            "max_obstacle_height",
            self.max_obstacle_height,
            "must exceed floor_margin",
        )
        check(0 < self.sim_dt <= self.horizon, "sim_dt", self.sim_dt, "must be in (0, horizon]")
        for f in ("vx_samples", "wz_samples", "vy_samples"):
            check_within(f, getattr(self, f), 1 if f == "vy_samples" else 2, 41)
        check(self.safety_margin >= 0, "safety_margin", self.safety_margin, "must be >= 0")
        check(self.speed_margin >= 0, "speed_margin", self.speed_margin, "must be >= 0")
        check_within("footprint_discs", self.footprint_discs, 1, 12)
        check(self.final_radius > 0, "final_radius", self.final_radius, "must be > 0")
        check_within("stuck_steps", self.stuck_steps, 1, 1000, "steps")
        check_within("recovery_steps", self.recovery_steps, 1, 1000, "steps")
        check(self.dt > 0, "dt", self.dt, "must be > 0")


def optional_field(descriptor: np.ndarray, name: str) -> np.ndarray:
    """(N,) descriptor field ``name`` where the descriptor schema has it, else zeros.

    The first 15 fields (limits, footprint, camera) are always there; richer bodies append
    fields (command latency, braking limit, minimum turning radius, gait camera pitch) that
    the planner uses when present, looked up by name in
    :data:`compass_nav.contract.body.DESCRIPTOR_FIELDS`.
    """
    from compass_nav.contract import body

    fields = body.DESCRIPTOR_FIELDS
    if name in fields and descriptor.shape[1] == len(fields):
        return descriptor[:, fields.index(name)].astype(np.float64)
    return np.zeros(descriptor.shape[0])


def _wrap(a):
    return (np.asarray(a) + np.pi) % (2.0 * np.pi) - np.pi


def depth_scan(
    depth: np.ndarray, descriptor: np.ndarray, cfg: ClassicalConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Nearest obstacle per image column, in the robot frame (a virtual laser scan).

    Args:
        depth: (N, H, W) float32 depth along the optical axis, m (0: nothing in range).
        descriptor: (N, D) body descriptors (camera height, pitch, hfov).
        cfg: Floor and height thresholds.

    Returns:
        ``points`` (N, W, 2) robot-frame (x, y) of the nearest obstacle of each column (NaN
        where none), ``ranges`` (N, W) its horizontal range (``inf`` where none: the column
        sees free space up to its farthest valid pixel), ``azimuth`` (N, W) column angles
        (rad, left positive) and ``blind`` (N, W) the horizontal range below which the column
        sees nothing (the floor's nearest visible point).
    """
    d = np.asarray(depth, np.float64)
    n, h, w = d.shape
    cam_h = descriptor[:, _CAM_H].astype(np.float64)[:, None, None]
    pitch = descriptor[:, _CAM_PITCH].astype(np.float64)[:, None, None]
    hfov = descriptor[:, _CAM_HFOV].astype(np.float64)
    bob = descriptor[:, _CAM_BOB].astype(np.float64)[:, None, None]
    f = (0.5 * w) / np.tan(0.5 * hfov)  # (N,)
    a = (0.5 * w - (np.arange(w) + 0.5))[None, :] / f[:, None]  # (N, W)
    az = np.arctan(a)
    cos_az = np.cos(az)[:, None, :]
    b = (0.5 * h - (np.arange(h) + 0.5))[None, :] / f[:, None]  # (N, H)
    elev = -pitch[:, :, 0] + np.arctan(b)  # (N, H)
    s = np.tan(elev)[:, :, None] * cos_az  # (N, H, W) dz per metre of horizontal travel
    denom = cos_az * np.cos(pitch) - s * np.sin(pitch)
    t = d / np.maximum(denom, 1e-6)  # horizontal travel of the ray, m
    z = cam_h + s * t
    valid = d > 0
    # Gait pitch/roll oscillation (where the body states it) tilts the floor by up to that angle.
    osc = optional_field(descriptor, "camera_pitch_osc") + optional_field(
        descriptor, "camera_roll_osc"
    )
    slope = cfg.floor_slope + np.tan(osc)[:, None, None]
    thresh = cfg.floor_margin + 2.0 * bob + slope * t
    obstacle = valid & (z > thresh) & (z < cfg.max_obstacle_height)
    rng = np.where(obstacle, t, np.inf).min(axis=1)  # (N, W)
    azw = az
    pts = np.stack([rng * np.cos(azw), rng * np.sin(azw)], -1)
    pts[~np.isfinite(rng)] = np.nan
    # Nearest floor point a column can see: the lowest row's ray on the floor.
    s_low = np.tan(elev[:, -1])[:, None] * np.cos(azw)
    blind = np.where(s_low < -1e-6, cam_h[:, :, 0] / np.maximum(-s_low, 1e-6), _BIG)
    return pts, rng, azw, blind


def footprint_discs(descriptor: np.ndarray, count: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Discs covering each body's rectangular footprint, placed along its long axis.

    Args:
        descriptor: (N, D) body descriptors (length, width).
        count: Discs per body (the row is spread over the long side).

    Returns:
        ``centres`` (N, count, 2) body-frame disc centres, m, and ``radius`` (N,) m.
    """
    length = descriptor[:, _LENGTH].astype(np.float64)
    width = descriptor[:, _WIDTH].astype(np.float64)
    long_side = np.maximum(length, width)
    short = np.minimum(length, width)
    seg = long_side / count
    offsets = (np.arange(count) + 0.5) * seg[:, None] - 0.5 * long_side[:, None]  # (N, count)
    along_x = length >= width
    centres = np.zeros((descriptor.shape[0], count, 2))
    centres[:, :, 0] = np.where(along_x[:, None], offsets, 0.0)
    centres[:, :, 1] = np.where(along_x[:, None], 0.0, offsets)
    radius = np.hypot(0.5 * short, 0.5 * seg)
    return centres, radius


@register_scripted("classical")
class ClassicalPlanner(Policy):
    """Depth-camera costmap + dynamic-window local planner (see the module docstring).

    Args:
        config: A :class:`ClassicalConfig`; keyword overrides of its fields are accepted too.
    """

    name = "classical"

    def __init__(self, config: ClassicalConfig | None = None, **overrides) -> None:
        cfg = config or ClassicalConfig()
        if overrides:
            cfg = dataclasses.replace(cfg, **overrides)
        self.cfg = cfg
        self._n = -1

    # ------------------------------------------------------------------ state
    def _reset_state(self, n: int, w: int) -> None:
        m = self.cfg.memory_steps
        self._n, self._w = n, w
        self._mem = np.full((n, m, w, 2), np.nan)
        self._head = np.zeros(n, np.int64)  # next ring-buffer slot of each env
        self._moved = np.zeros(n)  # motion since the slot before it was written
        self._prev_speed = np.zeros((n, 3))
        self._best_ctg = np.full(n, np.inf)
        self._since_progress = np.zeros(n, np.int64)
        self._recovery = np.zeros(n, np.int64)
        self._recovery_dir = np.ones(n)
        self._prev_cmd = np.zeros((n, 3))

    def _clear_rows(self, rows: np.ndarray) -> None:
        self._mem[rows] = np.nan
        self._prev_speed[rows] = 0.0
        self._best_ctg[rows] = np.inf
        self._since_progress[rows] = 0
        self._recovery[rows] = 0
        self._prev_cmd[rows] = 0.0
        self._moved[rows] = 1.0  # the first scan of an episode takes a new slot

    # ------------------------------------------------------------------ costmap
    def _update_costmap(self, speed, pts, ranges, blind, hfov) -> np.ndarray:
        """Advance the rolling costmap by one control step; return its occupancy (N, G, G).

        The oldest scan leaves the ring buffer (once the body has moved since the last
        scan it kept; standing still, the latest is refreshed); the stored points move by
        the ego-motion integrated from ``speed`` (trapezoid over the control period, arc at
        the mid heading); points the current scan sees through are cleared (not within
        1 m); the new scan ``pts`` (N, W, 2) joins.
        """
        v = 0.5 * (speed + self._prev_speed)
        dt = self.cfg.dt
        dth = v[:, 2] * dt
        c, s = np.cos(0.5 * dth), np.sin(0.5 * dth)
        dx = (c * v[:, 0] - s * v[:, 1]) * dt
        dy = (s * v[:, 0] + c * v[:, 1]) * dt
        # A new slot only once the body has moved (0.05 m or 0.1 rad): standing still, the
        # latest slot is refreshed and what was seen on the way stays remembered.
        self._moved += np.hypot(dx, dy) + 0.5 * np.abs(dth)
        advance = self._moved >= 0.05
        m = self.cfg.memory_steps
        slot = np.where(advance, self._head, (self._head - 1) % m)
        rows = np.arange(self._n)
        self._mem[rows, slot] = np.nan
        n, g = self._n, self.cfg.grid_cells
        from compass_nav.planner.local import update_memory  # numba: only when driving

        occ = np.empty((n, g, g), bool)
        cell_pts = np.empty((n, g, g, 2))
        update_memory(
            self._mem.reshape(n, -1, 2),
            dx,
            dy,
            dth,
            np.ascontiguousarray(ranges, np.float64),
            np.ascontiguousarray(blind, np.float64),
            np.ascontiguousarray(hfov, np.float64),
            _KEEP_RANGE,
            _CLEAR_RANGE,
            occ,
            cell_pts,
        )
        self._mem[rows, slot] = pts
        self._head = np.where(advance, (self._head + 1) % m, self._head)
        self._moved = np.where(advance, 0.0, self._moved)
        j = np.floor(pts[..., 0] / RESOLUTION + 0.5 * g)
        i = np.floor(pts[..., 1] / RESOLUTION + 0.5 * g)
        ok = np.isfinite(j) & (i >= 0) & (i < g) & (j >= 0) & (j < g)
        e = np.broadcast_to(np.arange(n)[:, None], ok.shape)
        ei, ii, jj = e[ok], i[ok].astype(np.int64), j[ok].astype(np.int64)
        occ[ei, ii, jj] = True
        cell_pts[ei, ii, jj] = pts[ok]
        self._cell_pts = cell_pts
        return occ

    # ------------------------------------------------------------------ act
    def act(self, obs, episode_start):
        """Commands (N, 3) from the depth image, odometry and route (module docstring)."""
        cfg = self.cfg
        depth = np.asarray(obs["depth"])
        descr = np.asarray(obs["embodiment"], np.float64)
        speed = np.asarray(obs["speed"], np.float64)
        route = np.asarray(obs["route"], np.float64)
        goal = np.asarray(obs["goal"], np.float64)
        n, _, w = depth.shape
        if n != self._n or w != self._w:
            self._reset_state(n, w)
            start = np.ones(n, bool)
        else:
            start = np.asarray(episode_start, bool)
        if start.any():
            self._clear_rows(np.flatnonzero(start))
            self._prev_speed[start] = speed[start]

        # 1-2. Costmap: the scan, then memory moved by odometry, cleared, and the scan added.
        pts, ranges, _, blind = depth_scan(depth, descr, cfg)
        occ = self._update_costmap(speed, pts, ranges, blind, descr[:, _CAM_HFOV])
        self._prev_speed = speed.copy()
        g = cfg.grid_cells
        clearance = self._clearance(occ)

        # 3. Local plan: cost-to-go to the local target.
        centres, radius = footprint_discs(descr, cfg.footprint_discs)
        target = self._local_target(route, goal)
        half_width = 0.5 * np.minimum(descr[:, _LENGTH], descr[:, _WIDTH])
        ctg = self._cost_to_go(clearance, half_width, target)

        # 4. Dynamic window.
        cmds = self._candidates(descr)  # (N, C, 3)
        poses, valid_t = self._simulate(cmds, speed, descr)  # (N, C, T, 3), (T,)
        score, admissible, clear_term = self._score(
            cmds, poses, valid_t, speed, descr, clearance, ctg, centres, radius, goal
        )
        best = np.argmax(score, axis=1)
        rows = np.arange(n)
        action = cmds[rows, best].copy()
        none_ok = ~admissible.any(axis=1)

        # Progress watch and recovery turns (not at the goal, where the field is flat).
        dist = np.hypot(goal[:, 0], goal[:, 1])
        final = dist < cfg.final_radius
        here = self._ctg_at(ctg, np.zeros((n, 1, 2)))[:, 0]
        improved = (here < self._best_ctg - 0.2) | final
        self._best_ctg = np.where(improved, here, self._best_ctg)
        self._since_progress = np.where(improved, 0, self._since_progress + 1)
        start_rec = (self._since_progress >= cfg.stuck_steps) & (self._recovery == 0)
        if start_rec.any():
            # Turn towards the side with more room in the costmap.
            left = occ[:, g // 2 :, :].sum(axis=(1, 2))
            right = occ[:, : g // 2, :].sum(axis=(1, 2))
            self._recovery_dir = np.where(start_rec, np.where(left <= right, 1.0, -1.0),
                                          self._recovery_dir)  # fmt: skip
            self._recovery[start_rec] = cfg.recovery_steps
            self._since_progress[start_rec] = 0
            self._best_ctg[start_rec] = np.inf
        rec = self._recovery > 0
        if rec.any():
            turn = np.zeros((n, 3))
            turn[:, 2] = self._recovery_dir * 0.7 * descr[:, _MAX_WZ]
            # Only while turning in place is admissible (the rotation candidate's index).
            rot_ok = admissible[rows, self._rotation_index(cmds, self._recovery_dir)]
            rot_ok &= optional_field(descr, "min_turn_radius") <= 0  # car-like: no turn in place
            use = rec & rot_ok
            action[use] = turn[use]
            self._recovery[rec] -= 1
        # Nothing admissible: brake and wait rather than touch.
        action[none_ok] = 0.0

        # 5. Final approach: within tolerance, turn to the goal's heading in place, or, where
        # the body cannot turn there, move (staying close) to where it can.
        if final.any():
            action[final] = self._final_approach(
                cmds, poses, admissible, clear_term, goal, descr, clearance, centres, radius
            )[final]
        self._prev_cmd = action
        return action.astype(np.float32)

    # ------------------------------------------------------------------ pieces
    def _final_approach(
        self, cmds, poses, admissible, clear_term, goal, descr, clearance, centres, radius
    ) -> np.ndarray:
        """(N, 3) commands of the final approach (used where the goal is within reach)."""
        n = cmds.shape[0]
        rows = np.arange(n)
        err = _wrap(goal[:, 2])
        max_wz = descr[:, _MAX_WZ]
        # Can the footprint turn in place through the angle it needs (either way round)?
        short = self._turn_clear(clearance, descr, err)
        other = err - np.sign(err) * 2.0 * np.pi
        long_way = ~short & self._turn_clear(clearance, descr, other)
        want = np.where(long_way, other, err)
        turn = np.zeros((n, 3))
        turn[:, 2] = np.clip(1.2 * want, -max_wz, max_wz)
        aligned = np.abs(err) < 0.03
        turn[aligned, 2] = 0.0
        can_turn = ((short | long_way) & (optional_field(descr, "min_turn_radius") <= 0)) | aligned
        # Otherwise: the admissible command whose pose after 0.4 s is best aligned and close.
        k = min(max(round(0.4 / self.cfg.sim_dt) - 1, 0), poses.shape[2] - 1)  # after 0.4 s
        p = poses[:, :, k]
        d_end = np.hypot(goal[:, 0, None] - p[..., 0], goal[:, 1, None] - p[..., 1])
        e_end = np.abs(_wrap(goal[:, 2, None] - p[..., 2]))
        # Towards the goal's own position too: the task puts the goal pose in free space, so
        # the body can always turn there.
        fscore = -e_end - d_end - 3.0 * np.maximum(0.0, d_end - 0.4) + 0.5 * clear_term
        fscore = np.where(admissible, fscore, -math.inf)
        moved = cmds[rows, np.argmax(fscore, axis=1)]
        moved[~admissible.any(axis=1)] = 0.0
        return np.where(can_turn[:, None], turn, moved)

    def _turn_clear(self, clearance, descr, angle) -> np.ndarray:
        """(N,) bool: turning in place by ``angle`` (N,) rad keeps the footprint off obstacles.

        Checked on the rectangle's outline itself (20 points), not the covering discs: at the
        goal the body is often close to something, and the discs overstate the corners.
        """
        u = np.linspace(-0.5, 0.5, 6)
        side = np.concatenate(
            [
                np.stack([u, np.full(6, 0.5)], 1),
                np.stack([u, np.full(6, -0.5)], 1),
                np.stack([np.full(4, 0.5), u[1:-1]], 1),
                np.stack([np.full(4, -0.5), u[1:-1]], 1),
            ]
        )  # (20, 2) on the unit square's outline
        dims = np.stack([descr[:, _LENGTH], descr[:, _WIDTH]], 1)[:, None, :]
        outline = side[None] * dims  # (N, 20, 2)
        steps = np.linspace(0.0, 1.0, 9)[None, :] * angle[:, None]  # (N, S)
        c, s = np.cos(steps)[..., None], np.sin(steps)[..., None]
        ox, oy = outline[:, None, :, 0], outline[:, None, :, 1]
        xy = np.stack([c * ox - s * oy, s * ox + c * oy], -1)  # (N, S, 20, 2)
        return self._interp(clearance, xy).min(axis=(1, 2)) > 0.5 * self.cfg.safety_margin

    def _clearance(self, occ: np.ndarray) -> np.ndarray:
        """(N, G, G) m from each cell centre to the nearest obstacle surface.

        Exact up to :data:`_NEAR` m (all the planner weighs); ``_NEAR`` + 0.1 beyond.
        """
        from compass_nav.planner.local import clearance_stamp

        out = np.full(occ.shape, _NEAR + RESOLUTION)  # "far": no obstacle within _NEAR
        clearance_stamp(occ, self._cell_pts, int(round(_NEAR / RESOLUTION)), RESOLUTION, out)
        return out

    def _local_target(self, route: np.ndarray, goal: np.ndarray) -> np.ndarray:
        """(N, 2) farthest route waypoint inside the grid (the goal when it is inside)."""
        half = 0.5 * self.cfg.grid_cells * RESOLUTION - 0.3
        inside = (np.abs(route) < half).all(axis=2)  # (N, K)
        k = route.shape[1]
        last = np.where(inside.any(axis=1), k - 1 - np.argmax(inside[:, ::-1], axis=1), 0)
        tgt = route[np.arange(route.shape[0]), last]
        goal_in = (np.abs(goal[:, :2]) < half).all(axis=1)
        gd = np.hypot(goal[:, 0], goal[:, 1])
        td = np.hypot(tgt[:, 0], tgt[:, 1])
        tgt = np.where((goal_in & (gd <= td + 1e-6))[:, None], goal[:, :2], tgt)
        return np.clip(tgt, -half, half)

    def _cost_to_go(self, clearance, radius, target) -> np.ndarray:
        """(N, G/2, G/2) cost-to-go to ``target`` on a grid of 0.2 m cells, in metres.

        Coarser than the costmap (the field only guides; collisions are checked on the
        costmap), each coarse cell taking its largest clearance. ``radius`` is the body's
        half width: a gap the body fits through when aligned with it stays passable.
        """
        n, g, _ = clearance.shape
        k = _COARSE
        gc = g // k
        clr = clearance.reshape(n, gc, k, gc, k).max(axis=(2, 4))
        r = radius[:, None, None] + self.cfg.safety_margin
        # Free: 1 per metre; rising to 4 near obstacles; touching: 60 (expensive, finite).
        near = np.clip((r + 0.35 - clr) / 0.35, 0.0, 1.0)
        cost = 1.0 + 3.0 * near**2
        cost = np.where(clr < r, 60.0, cost)
        res = RESOLUTION * k
        ti = np.floor(target[:, 1] / res + 0.5 * gc).astype(np.int64)
        tj = np.floor(target[:, 0] / res + 0.5 * gc).astype(np.int64)
        from compass_nav.planner.local import local_cost_to_go

        out = np.empty(cost.shape)
        local_cost_to_go(np.ascontiguousarray(cost), ti, tj, out)
        return out * k  # the kernel counts RESOLUTION per cell

    def _candidates(self, descr: np.ndarray) -> np.ndarray:
        """(N, C, 3) commands sampled inside each body's limits (same count for all).

        A (vx, wz) grid and sideways steps (vy, used by holonomic bodies; zero for the
        others). No reversing: what is behind the camera is known only from memory.
        """
        cfg = self.cfg
        u_vx = np.linspace(0.0, 1.0, cfg.vx_samples)
        u_wz = np.linspace(-1.0, 1.0, cfg.wz_samples)
        vx, wz = np.meshgrid(u_vx, u_wz, indexing="ij")
        grid = np.stack([vx.ravel(), np.zeros(vx.size), wz.ravel()], 1)
        u_vy = np.linspace(-1.0, 1.0, cfg.vy_samples) if cfg.vy_samples > 1 else np.zeros(0)
        side = [(a, b, 0.0) for a in (0.0, 0.5) for b in u_vy if b != 0.0]
        # No reversing: the camera looks ahead, so what is behind is known only from memory.
        base = np.concatenate([grid, np.array(side).reshape(-1, 3)], 0)
        self._unit = base
        scale = np.stack([descr[:, _MAX_VX], descr[:, _MAX_VY] * 0.7, descr[:, _MAX_WZ]], 1)
        cmds = base[None] * scale[:, None, :]
        # A car-like body turns no tighter than its minimum radius: |wz| <= |vx| / R.
        radius = optional_field(descr, "min_turn_radius")
        if (radius > 0).any():
            # Bodies without a radius keep every wz (0 * inf would be NaN where vx = 0).
            car = (radius > 0)[:, None]
            lim = np.where(car, np.abs(cmds[..., 0]) / np.maximum(radius, 1e-6)[:, None], np.inf)
            cmds[..., 2] = np.clip(cmds[..., 2], -lim, lim)
        return cmds

    def _rotation_index(self, cmds: np.ndarray, direction: np.ndarray) -> np.ndarray:
        """Index of the in-place turn candidate (vx = vy = 0, full wz) in ``direction``."""
        u = self._unit
        pos = int(np.flatnonzero((u[:, 0] == 0) & (u[:, 1] == 0) & (u[:, 2] == 1.0))[0])
        neg = int(np.flatnonzero((u[:, 0] == 0) & (u[:, 1] == 0) & (u[:, 2] == -1.0))[0])
        return np.where(direction > 0, pos, neg)

    def _simulate(self, cmds, speed, descr):
        """Forward-simulate commands with the body's lag and acceleration limits.

        Returns:
            ``poses`` (N, C, T, 3) robot-frame poses after each integration step, ``times``
            (T,) their times, s.
        """
        cfg = self.cfg
        steps = int(round(cfg.horizon / cfg.sim_dt))
        dt = cfg.sim_dt
        n, c, _ = cmds.shape
        tau = np.maximum(descr[:, _LAG], 1e-3)[:, None, None]
        acc = np.stack([descr[:, _MAX_AX], descr[:, _MAX_AY], descr[:, _MAX_AWZ]], 1)[:, None]
        acc = np.maximum(acc, 1e-3)
        v = np.broadcast_to(speed[:, None, :], (n, c, 3)).copy()
        x = np.zeros((n, c))
        y = np.zeros((n, c))
        th = np.zeros((n, c))
        alpha = 1.0 - np.exp(-dt / tau)
        # Command latency (where the body states it): the current velocity holds meanwhile.
        latency = optional_field(descr, "command_latency")[:, None, None]
        out = np.empty((n, c, steps, 3))
        for k in range(steps):
            held = (k * dt) < latency
            dv = np.where(held, 0.0, np.clip((cmds - v) * alpha, -acc * dt, acc * dt))
            v = v + dv
            thm = th + 0.5 * v[..., 2] * dt
            cm, sm = np.cos(thm), np.sin(thm)
            x = x + (cm * v[..., 0] - sm * v[..., 1]) * dt
            y = y + (sm * v[..., 0] + cm * v[..., 1]) * dt
            th = th + v[..., 2] * dt
            out[:, :, k, 0], out[:, :, k, 1], out[:, :, k, 2] = x, y, th
        return out, (np.arange(steps) + 1) * dt

    def _lookup(self, field: np.ndarray, xy: np.ndarray, res: float = RESOLUTION) -> np.ndarray:
        """Values of (N, G, G) ``field`` (cells of ``res`` m) at robot-frame points (N, ..., 2)."""
        g = field.shape[1]
        n = field.shape[0]
        j = np.clip(np.floor(xy[..., 0] / res + 0.5 * g), 0, g - 1).astype(np.int64)
        i = np.clip(np.floor(xy[..., 1] / res + 0.5 * g), 0, g - 1).astype(np.int64)
        e = np.arange(n).reshape((n,) + (1,) * (xy.ndim - 2))
        return field[e, i, j]

    def _interp(self, field: np.ndarray, xy: np.ndarray) -> np.ndarray:
        """Bilinear values of (N, G, G) ``field`` (costmap cells) at points (N, ..., 2)."""
        n, g = field.shape[0], field.shape[1]
        fx = np.clip(xy[..., 0] / RESOLUTION + 0.5 * g - 0.5, 0.0, g - 1.001)
        fy = np.clip(xy[..., 1] / RESOLUTION + 0.5 * g - 0.5, 0.0, g - 1.001)
        j0, i0 = fx.astype(np.int64), fy.astype(np.int64)
        tx, ty = fx - j0, fy - i0
        e = np.arange(n).reshape((n,) + (1,) * (xy.ndim - 2))
        f00, f01 = field[e, i0, j0], field[e, i0, j0 + 1]
        f10, f11 = field[e, i0 + 1, j0], field[e, i0 + 1, j0 + 1]
        top = f00 + (f01 - f00) * tx
        bottom = f10 + (f11 - f10) * tx
        return top + (bottom - top) * ty

    def _ctg_at(self, ctg: np.ndarray, xy: np.ndarray) -> np.ndarray:
        return self._lookup(ctg, xy, RESOLUTION * _COARSE)

    def _score(self, cmds, poses, times, speed, descr, clearance, ctg, centres, radius, goal):
        cfg = self.cfg
        n, c, t, _ = poses.shape
        cth, sth = np.cos(poses[..., 2]), np.sin(poses[..., 2])
        # Disc centres of every pose: (N, C, T, D, 2).
        ox = centres[:, None, None, :, 0]
        oy = centres[:, None, None, :, 1]
        dx = poses[..., 0, None] + cth[..., None] * ox - sth[..., None] * oy
        dy = poses[..., 1, None] + sth[..., None] * ox + cth[..., None] * oy
        clr = self._interp(clearance, np.stack([dx, dy], -1)).min(axis=-1)  # (N, C, T)
        # Current pose too: a body already too close may only move away.
        clr0 = self._interp(clearance, centres[:, None, :, :]).min(axis=-1)[:, 0]  # (N,)
        margin = clr - radius[:, None, None]
        # Faster commands keep more room (tracking noise, lag, a corner met between samples).
        v_cmd = np.hypot(cmds[..., 0], cmds[..., 1])
        hit = margin < (cfg.safety_margin + cfg.speed_margin * v_cmd)[..., None]
        first_hit = np.where(hit.any(axis=2), np.argmax(hit, axis=2), t)  # (N, C)
        # Admissible: no contact before the body could stop from the commanded speed.
        decel = optional_field(descr, "max_decel")
        a = np.maximum(np.where(decel > 0, decel, descr[:, _MAX_AX]), 1e-3)[:, None]
        latency = optional_field(descr, "command_latency")[:, None]
        t_stop = np.abs(v_cmd) / a + 2.0 * descr[:, _LAG][:, None] + latency + 0.3
        k_stop = np.clip(np.ceil(t_stop / cfg.sim_dt).astype(np.int64), 1, t)
        admissible = first_hit >= k_stop
        # A body already inside its margin may still take commands that increase clearance.
        tight = (clr0 - radius) < cfg.safety_margin
        if tight.any():
            # ... and keep it until the body could stop (no sliding along into the wall).
            steps = np.arange(t)[None, None, :] < k_stop[:, :, None]
            worst = np.where(steps, clr, np.inf).min(axis=2)
            gain = (clr[:, :, 0] > clr0[:, None] + 1e-3) & (worst >= clr0[:, None] - 0.01)
            admissible = np.where(tight[:, None], admissible | gain, admissible)
        # Score at the last pose before contact.
        last = np.clip(first_hit - 1, 0, t - 1)
        rows = np.arange(n)[:, None]
        cols = np.arange(c)[None, :]
        end = poses[rows, cols, last]  # (N, C, 3)
        ctg0 = self._ctg_at(ctg, np.zeros((n, 1, 2)))  # (N, 1)
        ctg_end = self._ctg_at(ctg, end[..., :2])
        reach = np.maximum(descr[:, _MAX_VX], 0.1)[:, None] * cfg.horizon
        progress = np.clip((ctg0 - ctg_end) / reach, -2.0, 2.0)
        # Alignment with the cost-to-go's descent direction at the end pose.
        g, res = ctg.shape[1], RESOLUTION * _COARSE
        jj = np.clip(np.floor(end[..., 0] / res + 0.5 * g), 1, g - 2).astype(np.int64)
        ii = np.clip(np.floor(end[..., 1] / res + 0.5 * g), 1, g - 2).astype(np.int64)
        e = np.arange(n)[:, None]
        gx = ctg[e, ii, jj + 1] - ctg[e, ii, jj - 1]
        gy = ctg[e, ii + 1, jj] - ctg[e, ii - 1, jj]
        desc = np.arctan2(-gy, -gx)
        align = np.cos(end[..., 2] - desc)
        flat = (np.abs(gx) + np.abs(gy)) < 1e-9
        align = np.where(flat, 0.0, align)
        clear_term = np.clip(margin.min(axis=2), 0.0, 0.5) / 0.5
        speed_term = cmds[..., 0] / np.maximum(descr[:, _MAX_VX], 1e-3)[:, None]
        # Near the goal, arrive facing the goal's heading (a long body may not turn there).
        d_goal = np.hypot(goal[:, 0, None] - end[..., 0], goal[:, 1, None] - end[..., 1])
        near_goal = np.clip(1.0 - d_goal / 1.5, 0.0, 1.0)
        goal_heading = near_goal * np.cos(_wrap(goal[:, 2, None] - end[..., 2]))
        score = (
            cfg.w_progress * progress
            + cfg.w_align * align
            + cfg.w_clearance * clear_term
            + cfg.w_speed * speed_term
            + cfg.w_goal_heading * goal_heading
        )
        score = np.where(admissible, score, -math.inf)
        # With nothing admissible argmax picks index 0; the caller backs off instead.
        return score, admissible, clear_term
