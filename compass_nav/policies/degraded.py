"""Policies of graded skill for policy pools: degraded variants and two reference behaviours.

Imported by :mod:`compass_nav.policies` so that :func:`compass_nav.policies.make_policy`
understands, besides the plain scripted names:

``random``
    Smoothed uniform-random velocity commands inside the body's limits (seeded).
``depth_seeker``
    A *vision* policy: the goal seeker's route pursuit plus braking and steering away from
    obstacles it sees in the ``depth`` image. Because it acts on pixels, offline evaluation with
    a video world model exercises the predicted frames through it (see docs/WORLDMODEL.md).
``degraded:<base>?key=value&...``
    Any policy spec ``<base>`` (scripted or a checkpoint path) wrapped with degradations:

    ============  ==========================================================================
    ``noise``     Gaussian action noise, std as a fraction of each axis' velocity limit
    ``delay``     actions reach the robot ``k`` control steps late (zeros fill the queue at
                  episode start)
    ``limits``    the policy believes it drives another registered body: the ``embodiment``
                  observation it sees is that body's descriptor, and a privileged teacher
                  plans and tracks with that body's limits, lag and footprint
    ``route``     ``straight`` replaces the route waypoints by a straight line to the goal
                  (the policy goes "mapless" whatever the simulator's route mode)
    ``speed``     multiplies the commanded velocities (below 1: timid, above 1: reckless
                  within the body's clip)
    ``seed``      seeds the noise (default 0)
    ============  ==========================================================================

    e.g. ``degraded:teacher?noise=0.3&delay=2`` or ``degraded:goal_seeker?route=straight``.
    Degradations compose in a fixed order: observation edits, base policy, speed, noise,
    delay.
"""

from __future__ import annotations

import dataclasses
import math
from collections import deque
from urllib.parse import parse_qsl

import numpy as np

from compass_nav.contract.body import get_embodiment
from compass_nav.contract.policy import Policy, make_policy, register_loader, register_scripted
from compass_nav.policies.scripted import GoalSeeker
from compass_nav.utils.config import check, check_within
from compass_nav.utils.errors import ConfigError

__all__ = [
    "DegradedPolicy",
    "DegradeSpec",
    "DepthSeeker",
    "RandomPolicy",
    "parse_degraded",
    "straight_route",
]

PREFIX = "degraded:"

# Descriptor indices used here (see compass_nav.contract.body.DESCRIPTOR_FIELDS).
_MAX_VX, _MIN_VX, _MAX_VY, _MAX_WZ = 0, 1, 2, 3
_CAM_HEIGHT, _CAM_PITCH, _CAM_HFOV = 10, 11, 12


@dataclasses.dataclass(frozen=True)
class DegradeSpec:
    """Parsed ``degraded:`` spec: the base policy and how it is degraded."""

    base: str
    noise: float = 0.0
    delay: int = 0
    limits: str = ""
    route: str = "observed"
    speed: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        check(bool(self.base), "base", self.base, "must name a policy")
        check(self.noise >= 0.0, "noise", self.noise, "must be >= 0")
        check_within("delay", self.delay, 0, 50, "steps")
        check(
            self.route in ("observed", "straight"),
            "route",
            self.route,
            "must be 'observed' or 'straight'",
        )
        check(0.0 < self.speed <= 3.0, "speed", self.speed, "must be in (0, 3]")
        if self.limits:
            get_embodiment(self.limits)  # raises ConfigError naming the known bodies


def parse_degraded(spec: str) -> DegradeSpec:
    """Parse ``degraded:<base>?k=v&...`` into a :class:`DegradeSpec`.

    Raises:
        ConfigError: unknown key or a value of the wrong type (the key and value are named).
    """
    if not spec.startswith(PREFIX):
        raise ConfigError(f"policy spec {spec!r}: expected it to start with {PREFIX!r}")
    base, _, query = spec[len(PREFIX) :].partition("?")
    kwargs: dict = {"base": base}
    types = {f.name: f.type for f in dataclasses.fields(DegradeSpec)}
    for key, raw in parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query)):
        if key not in types or key == "base":
            valid = ", ".join(k for k in types if k != "base")
            raise ConfigError(f"policy spec {spec!r}: unknown key {key!r} (valid: {valid})")
        conv = {"float": float, "int": int}.get(types[key], str)
        try:
            kwargs[key] = conv(raw)
        except ValueError:
            raise ConfigError(
                f"policy spec {spec!r}: {key}={raw!r} is not a valid {types[key]}"
            ) from None
    return DegradeSpec(**kwargs)


def straight_route(goal: np.ndarray, num_points: int, spacing: float = 0.4) -> np.ndarray:
    """Waypoints (N, K, 2) every ``spacing`` m on the straight line to the goal (clamped).

    The same rule as the simulator's ``mapless`` route mode, computed from the ``goal``
    observation alone.
    """
    xy = goal[:, None, :2].astype(np.float64)
    dist = np.linalg.norm(xy, axis=-1, keepdims=True)
    s = spacing * np.arange(1, num_points + 1, dtype=np.float64)[None, :, None]
    frac = np.minimum(s / np.maximum(dist, 1e-6), 1.0)
    return (xy * frac).astype(np.float32)


class _BodyProxy:
    """The env as seen by a privileged policy that believes it drives another body."""

    def __init__(self, env, body) -> None:
        self._env = env
        self.env_bodies = [body] * env.num_envs
        self.bodies = [body]

    def __getattr__(self, name):
        return getattr(self._env, name)


class DegradedPolicy(Policy):
    """Wraps a base policy with the degradations of a :class:`DegradeSpec`."""

    def __init__(self, spec: DegradeSpec, **base_kwargs) -> None:
        self.spec = spec
        self.base = make_policy(spec.base, **base_kwargs)
        self.name = _canonical_name(spec)
        self._rng = np.random.default_rng(spec.seed)
        self._queue: deque[np.ndarray] = deque()
        self._descriptor = None
        if spec.limits:
            self._body = get_embodiment(spec.limits)
            self._descriptor = self._body.descriptor().astype(np.float32)

    def bind(self, env) -> None:
        """Bind the base policy (through a body proxy when ``limits`` is set)."""
        self._queue.clear()
        self.base.bind(_BodyProxy(env, self._body) if self.spec.limits else env)

    def act(self, obs, episode_start):
        """Base action with the spec's degradations applied (see the module docstring)."""
        spec = self.spec
        episode_start = np.asarray(episode_start, bool)
        seen = dict(obs)
        real_descr = obs["embodiment"]
        if self._descriptor is not None:
            seen["embodiment"] = np.broadcast_to(self._descriptor, real_descr.shape).copy()
        if spec.route == "straight":
            seen["route"] = straight_route(obs["goal"], obs["route"].shape[1])
        action = np.asarray(self.base.act(seen, episode_start), np.float32).copy()
        action *= spec.speed
        if spec.noise > 0.0:
            scale = np.stack(
                [real_descr[:, _MAX_VX], real_descr[:, _MAX_VY], real_descr[:, _MAX_WZ]], 1
            )
            action += self._rng.normal(size=action.shape).astype(np.float32) * (spec.noise * scale)
        if spec.delay > 0:
            if len(self._queue) != spec.delay or self._queue[0].shape != action.shape:
                self._queue = deque(np.zeros_like(action) for _ in range(spec.delay))
            for q in self._queue:
                q[episode_start] = 0.0
            self._queue.append(action)
            action = self._queue.popleft()
        return action.astype(np.float32)


def _canonical_name(spec: DegradeSpec) -> str:
    parts = []
    for f in dataclasses.fields(DegradeSpec):
        if f.name == "base":
            continue
        value = getattr(spec, f.name)
        if value != f.default:
            parts.append(f"{f.name}={value}")
    return PREFIX + spec.base + ("?" + "&".join(parts) if parts else "")


def _load_degraded(spec: str, **kwargs) -> Policy:
    return DegradedPolicy(parse_degraded(spec), **kwargs)


def _matches_degraded(spec: str) -> bool:
    return isinstance(spec, str) and spec.startswith(PREFIX)


register_loader(_matches_degraded, _load_degraded)


@register_scripted("random")
class RandomPolicy(Policy):
    """Smoothed uniform-random commands within the body's limits: a near-zero-skill floor.

    Args:
        seed: Seed of the command sequence.
        smoothing: Weight of the previous command (0: white noise; 0.8: wandering).
    """

    name = "random"

    def __init__(self, seed: int = 0, smoothing: float = 0.8) -> None:
        self._rng = np.random.default_rng(seed)
        self._smoothing = float(smoothing)
        self._prev: np.ndarray | None = None

    def act(self, obs, episode_start):
        """Random command per env, low-pass filtered across steps."""
        d = obs["embodiment"]
        n = d.shape[0]
        low = np.stack([d[:, _MIN_VX], -d[:, _MAX_VY], -d[:, _MAX_WZ]], 1)
        high = np.stack([d[:, _MAX_VX], d[:, _MAX_VY], d[:, _MAX_WZ]], 1)
        raw = low + (high - low) * self._rng.random((n, 3))
        if self._prev is None or self._prev.shape != raw.shape:
            self._prev = raw
        self._prev = np.where(np.asarray(episode_start)[:, None], raw, self._prev)
        self._prev = self._smoothing * self._prev + (1.0 - self._smoothing) * raw
        return self._prev.astype(np.float32)


def floor_depth(descriptor: np.ndarray, height: int, width: int) -> np.ndarray:
    """Depth (N, H) at which each image row would see a flat floor (``inf`` above horizon).

    Assumes a pinhole camera with square pixels, the descriptor's camera height, pitch and
    horizontal field of view; depth is measured along the optical axis.
    """
    cam_h = descriptor[:, _CAM_HEIGHT, None].astype(np.float64)
    pitch = descriptor[:, _CAM_PITCH, None].astype(np.float64)
    hfov = descriptor[:, _CAM_HFOV, None].astype(np.float64)
    focal = 0.5 * width / np.tan(0.5 * hfov)
    rows = (np.arange(height, dtype=np.float64)[None, :] + 0.5 - 0.5 * height) / focal
    angle = pitch + np.arctan(rows)  # below the horizontal, rad
    with np.errstate(divide="ignore"):
        dist = np.where(angle > 1e-3, cam_h / np.sin(np.maximum(angle, 1e-3)), np.inf)
    return (dist * np.cos(np.arctan(rows))).astype(np.float32)


@register_scripted("depth_seeker")
class DepthSeeker(Policy):
    """Route pursuit that brakes and swerves for obstacles seen in the depth image.

    The image is split into ``sectors`` column bands; in each, the nearest depth that is not
    floor (closer than 85% of the floor's depth on that row) is the obstacle range. The
    pursuit target is kept when its sector is clear; otherwise the clearest sector steers.
    Speed scales with the range ahead; below ``stop_range`` the robot turns in place.

    Args:
        stop_range: m; obstacles closer than this ahead stop forward motion.
        slow_range: m; forward speed ramps from 0 at ``stop_range`` to full here.
        sectors: number of column bands.
    """

    name = "depth_seeker"

    def __init__(self, stop_range: float = 0.55, slow_range: float = 1.6, sectors: int = 5):
        if not 0 < stop_range < slow_range:
            raise ConfigError(
                f"stop_range={stop_range!r}: must be in (0, slow_range={slow_range!r})"
            )
        self.stop_range, self.slow_range, self.sectors = stop_range, slow_range, int(sectors)
        self._pursuit = GoalSeeker()

    def act(self, obs, episode_start):
        """Goal-seeker command limited by the obstacle ranges in ``obs['depth']``."""
        base = self._pursuit.act(obs, episode_start)
        depth = np.asarray(obs["depth"], np.float32)
        n, h, w = depth.shape
        descr = obs["embodiment"]
        floor = floor_depth(descr, h, w)
        band = slice(int(0.25 * h), int(0.95 * h))
        obstacle = depth[:, band, :] < 0.85 * floor[:, band, None]
        ranges = np.where(obstacle, depth[:, band, :], np.inf).min(axis=1)  # (N, W)
        edges = np.linspace(0, w, self.sectors + 1).astype(int)
        sector_range = np.stack(
            [ranges[:, a:b].min(axis=1) for a, b in zip(edges[:-1], edges[1:], strict=True)], 1
        )
        hfov = descr[:, _CAM_HFOV]
        centres = 0.5 * (edges[:-1] + edges[1:]) / w - 0.5  # -0.5 (left) .. 0.5 (right)
        sector_angle = -centres[None, :] * hfov[:, None]  # image left = +yaw
        ahead = sector_range[:, self.sectors // 2]
        goal = obs["goal"]
        route = obs["route"]
        tgt = route[:, min(1, route.shape[1] - 1)]
        alpha = np.arctan2(tgt[:, 1], tgt[:, 0])
        # Sector the pursuit target falls in (clamped to the image edges).
        idx = np.clip(
            ((-alpha / np.maximum(hfov, 1e-3)) + 0.5) * self.sectors, 0, self.sectors - 1
        ).astype(int)
        target_range = sector_range[np.arange(n), idx]
        blocked = np.minimum(target_range, ahead) < self.slow_range
        # Preference for clear sectors close to the target direction.
        score = np.minimum(sector_range, 4.0) - 0.8 * np.abs(sector_angle - alpha[:, None])
        best = np.argmax(score, axis=1)
        steer = np.where(blocked, sector_angle[np.arange(n), best], alpha)
        max_vx, max_wz = descr[:, _MAX_VX], descr[:, _MAX_WZ]
        frac = np.clip((ahead - self.stop_range) / (self.slow_range - self.stop_range), 0, 1)
        vx = np.where(blocked, np.minimum(base[:, 0], max_vx * 0.6 * frac), base[:, 0])
        vx = np.where(np.abs(steer) > 0.7, 0.0, vx)
        wz = np.where(blocked, np.clip(1.5 * steer, -max_wz, max_wz), base[:, 2])
        near_goal = np.hypot(goal[:, 0], goal[:, 1]) < 0.6
        out = np.where(near_goal[:, None], base, np.stack([vx, base[:, 1], wz], 1))
        return out.astype(np.float32)


def describe_spec(spec: str) -> str:
    """One line saying what a pool spec does (for reports)."""
    if spec.startswith(PREFIX):
        s = parse_degraded(spec)
        bits = []
        if s.noise:
            bits.append(f"action noise {s.noise:g} x limits")
        if s.delay:
            bits.append(f"{s.delay}-step action delay")
        if s.limits:
            bits.append(f"believes it is {s.limits}")
        if s.route == "straight":
            bits.append("straight-line route")
        if not math.isclose(s.speed, 1.0):
            bits.append(f"speed x{s.speed:g}")
        return f"{s.base} with " + (", ".join(bits) or "no change")
    return spec
