"""The embedded simulator: a natively batched ``gymnasium.vector.VectorEnv``.

All N environments live in one set of arrays; rendering, body dynamics and routes are
compiled numba kernels parallel over environments, so one ``step`` uses both cores without
worker processes; they run on numba's ``workqueue`` threading layer, chosen in
:mod:`compass_nav` because its idle threads sleep rather than spin, so a busy neighbour
process costs a step little (``benchmarks/bench_sim.py``). Results are the same for any
thread count and layer. That layer aborts the process when two threads launch its kernels at
once, so envs stepped from several Python threads take turns for each kernel.

Autoreset follows gymnasium 1.x ``NEXT_STEP`` semantics: the step on which an episode ends
returns its final observation; the next ``step`` ignores that env's action, resets it and
returns the first observation with reward 0.

Observation (dict, batched; see shared DESIGN contract): ``rgb`` uint8 (N,H,W,3), ``depth``
float32 metres (N,H,W), ``speed`` (N,3) body (vx, vy, wz), ``route`` (N,K,2) robot-frame
waypoints, ``goal`` (N,3) robot-frame (x, y, yaw), ``embodiment`` (N,D) descriptor.
Action: (N,3) (vx, vy, wz) in m/s, rad/s, clipped to each env's body; non-holonomic bodies
ignore vy; NaN/inf rows are zeroed with a warning.

:meth:`NavVectorEnv.privileged` gives teachers and critics the ground truth (occupancy,
distance field, cost-to-go, poses).

Scenario suites (``SimConfig.suite``, :mod:`compass_nav.sim.suites`): ``v1`` is the original
episode distribution; ``v2`` adds obstacles that are not on the scene's map after the route
was planned on it (:mod:`compass_nav.sim.scenarios`), longer routes, narrow passages and a
time limit that scales with the route. ``route_mode="stale_map"`` shows the policy the route
planned on the static map; ``cost_to_go`` (the teacher's, the progress reward's) is always
planned on the true map.

Evaluation metadata, computed once per reset and never observed by a policy:
``NavVectorEnv.line_blocked`` (N,) bool, whether the body's circumscribed disc swept along
the straight segment from the start to the goal would touch an obstacle (:func:`line_blocked`);
``route_blocked`` (N,) bool, whether that disc swept along the route planned on the static
map touches an unmapped obstacle; ``route_length`` (N,) m, the length of that route;
``tortuosity`` (N,) its length over the straight start-goal distance. Step ``info`` carries
them under the same keys, with ``step_limit`` (the episode's time limit, steps), for the
episodes that end on that step.
"""

from __future__ import annotations

import threading
import warnings
from collections import OrderedDict

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode
from scipy import ndimage

from compass_nav.contract.body import DESCRIPTOR_DIM, get_embodiment
from compass_nav.planner import grid
from compass_nav.planner.cost import planner_cost
from compass_nav.sim import kernels, scenarios
from compass_nav.sim.actors import Actors
from compass_nav.sim.camera_motion import any_roll, gait_camera, roll_images
from compass_nav.sim.config import SimConfig
from compass_nav.sim.dynamics import BodyDynamics
from compass_nav.sim.mdp import rewards, terminations
from compass_nav.sim.render import render_batch
from compass_nav.sim.scenes import (
    GRID_CELLS,
    RESOLUTION,
    SPLIT_SEED_OFFSETS,
    Scene,
    generate_scene,
    list_families,
)
from compass_nav.sim.scenes.base import APPEARANCE_DIM
from compass_nav.sim.suites import get_suite
from compass_nav.utils.errors import ConfigError

#: The parallel kernels run on numba's workqueue layer (see :mod:`compass_nav`), which aborts
#: the process when two threads launch kernels at once: envs stepped from several threads
#: take turns here.
_PARALLEL_KERNELS = threading.Lock()

_SCENE_CACHE: OrderedDict = OrderedDict()
_SCENE_CACHE_SIZE = 128
#: A car-like body's time limit follows its drivable path (``scenarios.car_drive_length``),
#: at most this many times the grid route (a search that wanders cannot stretch it further).
MAX_DRIVE_FACTOR = 3.0


def clearance_field(occupancy: np.ndarray) -> np.ndarray:
    """(G, G) float32 m from each free cell's centre to the nearest obstacle surface; 0 inside.

    Args:
        occupancy: (G, G) bool, True where a cell is an obstacle.
    """
    free = ~np.asarray(occupancy, bool)
    clearance = (ndimage.distance_transform_edt(free) * RESOLUTION - 0.5 * RESOLUTION).astype(
        np.float32
    )
    clearance[~free] = 0.0
    return clearance


def scene_with_clearance(family: str, seed: int, layout: str = "v1") -> tuple[Scene, np.ndarray]:
    """Scene (in ``layout``) and its clearance field (m to the nearest obstacle), cached."""
    key = (family, seed, layout)
    if key in _SCENE_CACHE:
        _SCENE_CACHE.move_to_end(key)
        return _SCENE_CACHE[key]
    scene = generate_scene(family, seed, layout)
    clearance = clearance_field(scene.occupancy)
    _SCENE_CACHE[key] = (scene, clearance)
    while len(_SCENE_CACHE) > _SCENE_CACHE_SIZE:
        _SCENE_CACHE.popitem(last=False)
    return scene, clearance


#: Spacing (m) of the samples along the start -> goal segment of :func:`line_blocked`.
LINE_STEP = 0.05


def line_blocked(
    clearance: np.ndarray, start, goal, radius: float, step: float = LINE_STEP
) -> bool:
    """Whether a disc of ``radius`` swept along the straight segment start -> goal hits anything.

    Evaluation metadata (no policy sees it): the segment is sampled every ``step`` metres,
    ends included, and a sample is blocked when the clearance of its cell (m from the cell
    centre to the nearest obstacle surface) is below ``radius``, the body's circumscribed
    radius -- the same test the simulator applies to the planned route when it samples a task.

    Args:
        clearance: (G, G) clearance field, m (:func:`scene_with_clearance`).
        start: World (x, y) of the start, m (a pose's further entries are ignored).
        goal: World (x, y) of the goal, m.
        radius: Radius of the swept disc, m.
        step: Sample spacing, m.

    Returns:
        True when some sample along the segment is closer than ``radius`` to an obstacle.
    """
    a = np.asarray(start, np.float64)[:2]
    b = np.asarray(goal, np.float64)[:2]
    count = max(2, int(np.ceil(np.hypot(*(b - a)) / step)) + 1)
    t = np.linspace(0.0, 1.0, count)[:, None]
    points = a + t * (b - a)
    return bool(grid.min_clearance_along(clearance, points) < radius)


class NavVectorEnv(gym.vector.VectorEnv):
    """Batched navigation environment (see the module docstring for the contract)."""

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": []}

    def __init__(self, config: SimConfig | None = None, **overrides) -> None:
        cfg = config or SimConfig()
        if overrides:
            import dataclasses

            cfg = dataclasses.replace(cfg, **overrides)
        self.cfg = cfg
        known = list_families()
        for fam in cfg.families:
            if fam not in known:
                raise ConfigError(
                    f"unknown scene family {fam!r}; known families: {', '.join(known)}"
                )
        self.bodies = [get_embodiment(n) for n in cfg.embodiments]
        n = self.num_envs = cfg.num_envs
        F = len(cfg.families)
        self.env_family = np.array([cfg.families[e % F] for e in range(n)])
        self.env_body_index = np.array([(e // F) % len(self.bodies) for e in range(n)])
        self.env_bodies = [self.bodies[i] for i in self.env_body_index]
        b = self.env_bodies
        self._low = np.stack([x.action_low for x in b]).astype(np.float64)
        self._high = np.stack([x.action_high for x in b]).astype(np.float64)
        self._lim = np.maximum(np.abs(self._low), np.abs(self._high))
        self._acc = np.stack([x.accel_limits for x in b]).astype(np.float64)
        self._tau = np.array([x.lag_tau for x in b], np.float64)
        self._dims = np.array([[x.length, x.width] for x in b], np.float64)
        self._noise_std = np.array([x.tracking_noise for x in b], np.float64)
        self._descr = np.stack([x.descriptor() for x in b]).astype(np.float32)
        self._cam_static = np.array(
            [
                [
                    x.camera_height,
                    x.camera_pitch,
                    np.radians(x.camera_hfov_deg),
                    x.camera_x,
                    x.camera_near,
                    x.camera_far,
                ]
                for x in b
            ],
            np.float64,
        )
        self._bob = np.array([x.camera_bob for x in b], np.float64)
        self._gait_osc = np.array([[x.camera_pitch_osc, x.camera_roll_osc] for x in b])
        # Latency, second-order tracking, steering, slip, braking (sim/dynamics.py).
        self.dynamics = BodyDynamics(b, cfg.dt, cfg.substeps)
        self._planned = np.full(n, cfg.route_mode in ("planned", "stale_map"))
        self.suite = get_suite(cfg.suite)
        # Clearance a path needs where the suite admits tight passages: half the body's width
        # (what passes through a gap driving forward) plus the suite's margin.
        margin = self.suite.fit_margin or 0.0
        self._fit = np.array([max(0.5 * x.width, x.inscribed_radius) + margin for x in b])

        H, W, K = cfg.image_height, cfg.image_width, cfg.route_points
        spaces = {}
        if cfg.render_rgb:
            spaces["rgb"] = gym.spaces.Box(0, 255, (H, W, 3), np.uint8)
        if cfg.render_depth:
            spaces["depth"] = gym.spaces.Box(0.0, np.inf, (H, W), np.float32)
        spaces["speed"] = gym.spaces.Box(-np.inf, np.inf, (3,), np.float32)
        spaces["route"] = gym.spaces.Box(-np.inf, np.inf, (K, 2), np.float32)
        spaces["goal"] = gym.spaces.Box(-np.inf, np.inf, (3,), np.float32)
        spaces["embodiment"] = gym.spaces.Box(-np.inf, np.inf, (DESCRIPTOR_DIM,), np.float32)
        self.single_observation_space = gym.spaces.Dict(spaces)
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, n)
        # The single action space is the envelope over bodies; each env clips to its own.
        self.single_action_space = gym.spaces.Box(
            self._low.min(0).astype(np.float32),
            self._high.max(0).astype(np.float32),
            dtype=np.float32,
        )
        self.action_space = gym.spaces.Box(
            self._low.astype(np.float32), self._high.astype(np.float32), dtype=np.float32
        )

        G = GRID_CELLS
        self.height = np.zeros((n, G, G), np.float32)
        self.material = np.zeros((n, G, G), np.uint8)
        self.clearance = np.zeros((n, G, G), np.float32)
        self.cost_to_go = np.full((n, G, G), grid.INF)  # planned on the true map
        # Routes read the static map's plan in stale_map mode, else the true one.
        stale = cfg.route_mode == "stale_map"
        self.route_cost_to_go = np.full((n, G, G), grid.INF) if stale else self.cost_to_go
        self.appearance = np.zeros((n, APPEARANCE_DIM), np.float32)
        self.pose = np.zeros((n, 3))
        self.vel = np.zeros((n, 3))
        self.goal = np.zeros((n, 3))
        self.steps = np.zeros(n, np.int64)
        self.total_steps = np.zeros(n, np.int64)
        self.noise_seed = np.zeros(n, np.int64)
        self.bob_phase = np.zeros(n)
        self.prev_action = np.zeros((n, 3))
        self.geo = np.zeros(n)  # current cost-to-go (planner metres)
        self.ref_length = np.zeros(n)  # planned path length at reset, m (SPL reference)
        self.travelled = np.zeros(n)
        self.ep_return = np.zeros(n)
        self.scene_seed = np.zeros(n, np.int64)
        # Evaluation metadata of the current episode (see line_blocked); no policy sees it.
        self.line_blocked = np.zeros(n, bool)
        self.route_blocked = np.zeros(n, bool)
        self.route_length = np.zeros(n)
        self.tortuosity = np.ones(n)
        self.step_limit = np.full(n, cfg.max_episode_steps, np.int64)
        #: No episode lasts longer than this (steps): the time limit of the longest route the
        #: suite can give (a detour round unmapped obstacles included) for the slowest body.
        longest = max((self.suite.route_length or (0.0, cfg.goal_distance_max))[1], 0.0)
        if self.suite.unmapped:
            longest = max(longest, scenarios.MAX_DETOUR_M)
        if self.suite.fit_margin is not None and any(x.min_turn_radius > 0 for x in b):
            longest *= MAX_DRIVE_FACTOR  # a car-like body's limit follows its drivable path
        self.max_step_limit = self.suite.step_limit(
            cfg.max_episode_steps, longest, min(x.max_vx for x in b), cfg.control_hz
        )
        self._needs_reset = np.zeros(n, bool)
        self._rngs = [np.random.default_rng(e) for e in range(n)]
        self._rgb = np.zeros((n, H, W, 3), np.uint8)
        self._depth = np.zeros((n, H, W), np.float32)
        self._route = np.zeros((n, K, 2), np.float32)
        self._collided = np.zeros(n, bool)
        # Moving obstacles (compass_nav.sim.actors), stamped into height/material each step.
        self.actors = Actors(n, cfg.moving_obstacles)
        self.moving_collision = np.zeros(n, bool)

    # ------------------------------------------------------------------ reset
    def reset(self, *, seed=None, options=None):
        """Reset every env. ``seed`` (int) seeds env e with ``[seed, e]``: fully determined."""
        if seed is not None:
            if isinstance(seed, (list, tuple)):
                self._rngs = [np.random.default_rng(s) for s in seed]
            else:
                self._rngs = [np.random.default_rng([int(seed), e]) for e in range(self.num_envs)]
        for e in range(self.num_envs):
            self._reset_env(e)
        self._needs_reset[:] = False
        self._refresh_routes()
        return self._observe(), {}

    def _reset_env(self, e: int) -> None:
        G = GRID_CELLS
        rng = self._rngs[e]
        body = self.env_bodies[e]
        cfg = self.cfg
        suite = self.suite
        for _attempt in range(50):
            k = int(rng.integers(cfg.scene_pool))
            seed = k + SPLIT_SEED_OFFSETS[cfg.split]
            scene, clearance = scene_with_clearance(str(self.env_family[e]), seed, suite.layout)
            if not self._sample_task(e, rng, scene, clearance, body):
                continue
            height, material = scene.height, scene.material
            stale_path = grid.descend_path(
                self.cost_to_go[e], self.pose[e, 0], self.pose[e, 1], 8 * G
            )
            added = None
            if self.route_cost_to_go is not self.cost_to_go:
                self.route_cost_to_go[e] = self.cost_to_go[e]
            if suite.unmapped:
                true = scenarios.add_unmapped_obstacles(
                    rng,
                    height,
                    material,
                    stale_path,
                    self.pose[e],
                    self.goal[e],
                    body,
                    suite.block_probability,
                    self._fit[e],
                )
                if true is not None:
                    height, material, clearance = true.height, true.material, true.clearance
                    added = true.added
                    self.cost_to_go[e] = true.cost_to_go
                    self.geo[e] = true.cost_to_go[
                        int(self.pose[e, 1] / RESOLUTION), int(self.pose[e, 0] / RESOLUTION)
                    ]
                    true_path = grid.descend_path(
                        true.cost_to_go, self.pose[e, 0], self.pose[e, 1], 8 * G
                    )
                    self.ref_length[e] = grid.path_length(true_path)
            limit_length = float(self.ref_length[e])
            if suite.fit_margin is not None and body.min_turn_radius > 0:
                # A car-like body fits where it can drive: keep the episode only when a
                # forward/reverse arc path exists on the true map (planner/hybrid.py).
                pose, goal = self.pose[e], self.goal[e]
                drive = scenarios.car_drive_length(height, clearance, pose, goal, body)
                if drive is None:
                    continue
                # Its time limit scales with that path (manoeuvres, reverse speed included).
                limit_length = max(limit_length, min(drive, MAX_DRIVE_FACTOR * limit_length))
            break
        else:
            raise RuntimeError(f"env {e}: could not sample a reachable goal in 50 scenes")
        self.height[e] = height
        self.material[e] = material
        self.clearance[e] = clearance
        self.appearance[e] = scene.appearance_vector()
        self.scene_seed[e] = seed
        self.line_blocked[e] = line_blocked(
            clearance, self.pose[e], self.goal[e], body.circumscribed_radius
        )
        self.route_blocked[e], self.route_length[e], self.tortuosity[e] = scenarios.route_metadata(
            stale_path, self.pose[e], self.goal[e], body.circumscribed_radius, added
        )
        self.step_limit[e] = suite.step_limit(
            cfg.max_episode_steps, limit_length, body.max_vx, cfg.control_hz
        )
        self.vel[e] = 0.0
        self.prev_action[e] = 0.0
        self.steps[e] = 0
        self.travelled[e] = 0.0
        self.ep_return[e] = 0.0
        self.bob_phase[e] = rng.uniform(0, 2 * np.pi)
        self.noise_seed[e] = int(rng.integers(2**31))
        self.dynamics.reset_env(e, rng)
        if self.actors.count:
            self._reset_actors(e, rng, body)

    def _reset_actors(self, e: int, rng, body) -> None:
        """Spawn env ``e``'s moving obstacles around its planned route (last of the reset)."""
        x, y = self.pose[e, :2]
        path = grid.descend_path(self.cost_to_go[e], float(x), float(y), 4 * GRID_CELLS)
        route = np.concatenate([self.pose[e, None, :2], path, self.goal[e, None, :2]], 0)
        self.actors.reset_env(
            e,
            rng,
            self.height[e],
            self.material[e],
            route,
            self.pose[e],
            (0.5 * body.length, 0.5 * body.width),
            float(body.action_high[0]),
            self.cfg.dt,
            str(self.env_family[e]),
        )

    def _sample_task(self, e, rng, scene, clearance, body) -> bool:
        """Draw a start and goal on the static map (see :mod:`compass_nav.sim.suites`).

        v1: a route of ``goal_distance_min``-``goal_distance_max`` m whose clearance is at
        least the circumscribed radius. v2: the suite's route lengths (each try aims at a
        length drawn uniformly in that range, so long routes are as common as the scenes
        allow) and any route the body fits through: clearance of at least its half-width
        plus ``fit_margin``.
        """
        cfg = self.cfg
        suite = self.suite
        lo, hi = suite.route_length or (cfg.goal_distance_min, cfg.goal_distance_max)
        fit = body.circumscribed_radius if suite.fit_margin is None else self._fit[e]
        need = body.circumscribed_radius + cfg.clearance_margin
        cand = np.flatnonzero(clearance.ravel() >= need)
        if cand.size < 10:
            return False
        cost = planner_cost(clearance, body, None if suite.fit_margin is None else fit)
        G = GRID_CELLS
        for _ in range(4):
            gidx = int(cand[rng.integers(cand.size)])
            gi, gj = divmod(gidx, G)
            ctg = grid.dijkstra(cost, gi, gj)
            ctg_c = ctg.ravel()[cand]
            ok = (ctg_c >= lo) & (ctg_c <= hi * 1.6)
            starts = cand[ok]
            if starts.size == 0:
                continue
            if suite.route_length is not None:
                # Aim at a length drawn in [lo, hi]; keep the starts at or beyond it when any.
                aim = rng.uniform(lo, hi)
                far = starts[ctg.ravel()[starts] >= aim]
                if far.size:
                    starts = far
            for _ in range(6):
                sidx = int(starts[rng.integers(starts.size)])
                si, sj = divmod(sidx, G)
                sx, sy = (sj + 0.5) * RESOLUTION, (si + 0.5) * RESOLUTION
                path = grid.descend_path(ctg, sx, sy, 8 * G)
                if path.shape[0] < 2:
                    continue
                length = grid.path_length(path)
                if not lo <= length <= hi:
                    continue
                if grid.min_clearance_along(clearance, path) < fit:
                    continue
                yaw = rng.uniform(-np.pi, np.pi)
                if kernels.footprint_collides(scene.height, sx, sy, yaw, body.length, body.width):
                    continue
                gx, gy = (gj + 0.5) * RESOLUTION, (gi + 0.5) * RESOLUTION
                self.pose[e] = (sx, sy, yaw)
                self.goal[e] = (gx, gy, rng.uniform(-np.pi, np.pi))
                self.cost_to_go[e] = ctg
                self.geo[e] = ctg[si, sj]
                self.ref_length[e] = length
                return True
        return False

    # ------------------------------------------------------------------ step
    def step(self, actions):
        """Advance every env one control period (see the module docstring)."""
        a = np.asarray(actions, dtype=np.float64)
        n = self.num_envs
        if a.shape != (n, 3):
            raise ValueError(f"actions must have shape ({n}, 3), got {a.shape}")
        invalid = ~np.isfinite(a).all(axis=1)
        if invalid.any():
            warnings.warn(
                f"non-finite action in env(s) {np.flatnonzero(invalid).tolist()}: "
                "replaced by zero velocity",
                RuntimeWarning,
                stacklevel=2,
            )
            a = np.where(invalid[:, None], 0.0, a)
        cmd = np.clip(a, self._low, self._high)
        resetting = self._needs_reset.copy()
        active = ~resetting

        geo_before = self.geo.copy()
        pos_before = self.pose[:, :2].copy()
        noise = np.zeros((n, 3))
        for e in np.flatnonzero(active & (self._noise_std > 0)):
            noise[e] = self._rngs[e].normal(0.0, self._noise_std[e], 3)
        if self.actors.count:
            with _PARALLEL_KERNELS:
                self.actors.step(
                    self.height,
                    self.material,
                    active,
                    self.pose,
                    0.5 * self._dims,
                    np.hypot(self.vel[:, 0], self.vel[:, 1]),
                    self.cfg.dt,
                )
        with _PARALLEL_KERNELS:
            self.dynamics.step(
                self.height, self.pose, self.vel, cmd, active, noise, self._collided, self._rngs
            )
        self.steps[active] += 1
        self.total_steps += 1
        moved = np.hypot(*(self.pose[:, :2] - pos_before).T)
        self.travelled += moved
        self.bob_phase += moved * np.pi * 2 / self.dynamics.stride  # a gait cycle per stride
        gi = np.clip((self.pose[:, 1] / RESOLUTION).astype(int), 0, GRID_CELLS - 1)
        gj = np.clip((self.pose[:, 0] / RESOLUTION).astype(int), 0, GRID_CELLS - 1)
        geo_after = self.cost_to_go[np.arange(n), gi, gj]
        geo_after = np.where(geo_after >= grid.INF, geo_before, geo_after)
        self.geo = geo_after

        collision = self._collided & active
        success = terminations.goal_reached(self.pose, self.vel, self.goal, self.cfg) & active
        success &= ~collision
        terminated = success | collision
        truncated = (self.steps >= self.step_limit) & active & ~terminated
        q = {
            "geo_before": geo_before,
            "geo_after": geo_after,
            "dist_after": np.hypot(
                self.goal[:, 0] - self.pose[:, 0], self.goal[:, 1] - self.pose[:, 1]
            ),
            "success": success,
            "collision": collision,
            "action_delta_norm": (cmd - self.prev_action) / np.maximum(self._lim, 1e-6),
        }
        reward = rewards.total(self.cfg.reward, q)
        reward[resetting] = 0.0
        self.prev_action = np.where(active[:, None], cmd, self.prev_action)
        self.ep_return += reward

        ended = terminated | truncated
        info = self._episode_info(ended, success, collision, truncated)
        info["invalid_action"] = invalid
        info.update(self._mover_info(collision))
        for e in np.flatnonzero(resetting):
            self._reset_env(int(e))
        self._needs_reset = ended
        self._refresh_routes()
        obs = self._observe()
        return (obs, reward.astype(np.float32), terminated, truncated, info)

    def _episode_info(self, ended, success, collision, truncated) -> dict:
        dt = self.cfg.dt
        spl = np.where(success, self.ref_length / np.maximum(self.travelled, self.ref_length), 0.0)
        return {
            "success": success.copy(),
            "collision": collision.copy(),
            "timeout": truncated.copy(),
            "episode": {
                "r": self.ep_return.copy(),
                "l": self.steps.copy(),
                "time": self.steps * dt,
                "success": success.copy(),
                "collision": collision.copy(),
                "spl": spl,
                "path_length": self.travelled.copy(),
                "ref_length": self.ref_length.copy(),
            },
            "_episode": ended.copy(),
            "scene_seed": self.scene_seed.copy(),
            "line_blocked": self.line_blocked.copy(),
            "route_blocked": self.route_blocked.copy(),
            "route_length": self.route_length.copy(),
            "tortuosity": self.tortuosity.copy(),
            "step_limit": self.step_limit.copy(),
            "family": self.env_family.copy(),
            "embodiment_index": self.env_body_index.copy(),
        }

    def _mover_info(self, collision: np.ndarray) -> dict:
        """``moving_encounter`` and ``moving_collision`` (N,) bool of the current episodes.

        ``moving_encounter``: an actor moving came within
        :data:`~compass_nav.sim.actors.ENCOUNTER_DISTANCE` of the body moving;
        ``moving_collision``: this step's collision was with an actor (the body touches an
        actor's cells).
        """
        hit = np.zeros(self.num_envs, bool)
        if self.actors.count:
            half = 0.5 * self._dims
            for e in np.flatnonzero(collision):
                hit[e] = self.actors.hit(int(e), self.pose[e], half[e])
        return {"moving_encounter": self.actors.encounter.copy(), "moving_collision": hit}

    # ------------------------------------------------------------------ observations
    def _refresh_routes(self) -> None:
        with _PARALLEL_KERNELS:
            grid.routes_batch(
                self.route_cost_to_go,
                self.pose,
                self.goal,
                self._planned,
                self.cfg.route_points,
                self.cfg.route_spacing,
                self._route,
            )

    def _cams(self) -> np.ndarray:
        cams = self._cam_static.copy()
        dz, dpitch, self._roll = gait_camera(self.bob_phase, self._bob, *self._gait_osc.T)
        cams[:, 0] += dz
        cams[:, 1] += dpitch
        return cams

    def _observe(self) -> dict:
        cfg = self.cfg
        with _PARALLEL_KERNELS:
            render_batch(
                self.height,
                self.material,
                self.appearance,
                self.pose,
                self._cams(),
                self.total_steps,
                self.noise_seed,
                self._rgb,
                self._depth,
                cfg.render_rgb,
                cfg.render_depth,
            )
            if any_roll(self._roll):
                roll_images(self._rgb, self._depth, self._roll, cfg.render_rgb, cfg.render_depth)
        c, s = np.cos(self.pose[:, 2]), np.sin(self.pose[:, 2])
        dx, dy = self.goal[:, 0] - self.pose[:, 0], self.goal[:, 1] - self.pose[:, 1]
        goal = np.stack(
            [
                c * dx + s * dy,
                -s * dx + c * dy,
                terminations.wrap_angle(self.goal[:, 2] - self.pose[:, 2]),
            ],
            1,
        )
        obs = {}
        if cfg.render_rgb:
            obs["rgb"] = self._rgb.copy()
        if cfg.render_depth:
            obs["depth"] = self._depth.copy()
        obs["speed"] = self.vel.astype(np.float32)
        obs["route"] = self._route.copy()
        obs["goal"] = goal.astype(np.float32)
        obs["embodiment"] = self._descr.copy()
        return obs

    def privileged(self) -> dict:
        """Ground truth for teachers and critics (arrays are the env's own: do not modify).

        Returns:
            occupancy (N,G,G) bool, clearance (N,G,G) m, cost_to_go (N,G,G) planner metres to
            the goal on the true map (every obstacle, the unmapped ones too: what the teacher
            follows), cost_to_go_stale (N,G,G) the same on the scene's static map (what
            ``stale_map`` routes follow; the true one in the other route modes), pose (N,3)
            world (x, y, yaw), velocity (N,3) body frame, goal (N,3) world, resolution
            (m/cell), needs_reset (N,) bool, step_limit (N,) the episodes' time limits; the
            moving obstacles (M slots per env, ``SimConfig.moving_obstacles``): actors_pos
            (N,M,2) world m, actors_vel (N,M,2) world m/s over the last step, actors_radius
            (N,M) m of the disc holding each (0 for an unused slot), actors_kind (N,M)
            (0 unused, 1 person, 2 cart), actors_size (N,M,2) half length and half width m
            (a person's radius twice), actors_yaw (N,M) rad (a cart's long side). ``height``
            includes the actors; ``clearance`` and ``cost_to_go`` do not.
        """
        return {
            "occupancy": self.height > 0,
            "height": self.height,
            "clearance": self.clearance,
            "cost_to_go": self.cost_to_go,
            "cost_to_go_stale": self.route_cost_to_go,
            "pose": self.pose,
            "velocity": self.vel,
            "goal": self.goal,
            "resolution": RESOLUTION,
            "needs_reset": self._needs_reset,
            "step_limit": self.step_limit,
            "actors_pos": self.actors.pos,
            "actors_vel": self.actors.vel,
            "actors_radius": self.actors.radius(),
            "actors_kind": self.actors.kind,
            "actors_size": self.actors.half,
            "actors_yaw": self.actors.yaw,
        }

    def close_extras(self, **kwargs) -> None:  # noqa: D102 - nothing to release
        pass
