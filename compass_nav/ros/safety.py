"""The navigator's geometric safety layer and command shaping, independent of the policy.

:class:`SafetyLayer` turns range data (the depth image the robot already has, a
``sensor_msgs/LaserScan``, a ``sensor_msgs/PointCloud2``) into clearances around the
rectangular footprint and clamps each command AFTER the policy: motion towards an obstacle in
the stop zone is removed, speed towards one in the slow zone is scaled down to what the body
can brake within the remaining gap, turning is always allowed (it lets the robot turn away).
:class:`CommandShaper` then ramps every command within the body's acceleration limits (stops,
goal reached, cancel and stale inputs decelerate instead of jumping to zero) and decides when
nothing needs publishing (one final zero, then silence while idle, so a ``twist_mux`` is not
held). :mod:`compass_nav.ros.navigator_node` calls both between
:meth:`~compass_nav.ros.navigator_core.NavigatorCore.step` and the publisher; nothing here
imports ROS, so every rule is unit-tested without DDS (``test/ros/test_ros_safety.py``).

Geometry (REP-103 body frame, x forward, y left, z up from the floor): the footprint is the
embodiment's ``length`` x ``width`` rectangle centred on the body frame. A point counts as an
obstacle when its height lies within ``[min_height, max_height]``. The *front corridor* is
``|y| <= width/2 + side_margin`` ahead of the front edge; its gap is the distance from the
front edge to the nearest obstacle point in it (rear, left and right likewise). Per period
this costs a few vectorised numpy operations on at most a few thousand points, done when the
sensor message arrives; applying the clearances to a command is scalar arithmetic.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from compass_nav.utils.config import check, check_at_least, check_positive

__all__ = [
    "SAFETY_SOURCES",
    "Clearance",
    "CommandShaper",
    "DepthCamera",
    "SafetySettings",
    "SafetyLayer",
    "clearance",
    "depth_points",
    "parse_sources",
    "scan_points",
]

#: Range sources the safety layer can read (the ``safety_sources`` parameter).
SAFETY_SOURCES: tuple[str, ...] = ("depth", "scan", "cloud")
#: Largest number of depth pixels used per image (larger images are strided).
MAX_DEPTH_POINTS = 8192


def parse_sources(text: str) -> tuple[str, ...]:
    """``'depth,scan'`` -> ``('depth', 'scan')``; '' or 'none' -> ().

    Raises:
        ValueError: an unknown source name (the message lists the known ones).
    """
    names = [s for s in text.replace(" ", ",").split(",") if s]
    if names == ["none"]:
        return ()
    bad = [s for s in names if s not in SAFETY_SOURCES]
    if bad:
        raise ValueError(
            f"safety_sources={text!r}: unknown source(s) {', '.join(bad)}; use a comma-separated "
            f"subset of {', '.join(SAFETY_SOURCES)}, or 'none'"
        )
    return tuple(dict.fromkeys(names))


@dataclasses.dataclass(frozen=True)
class SafetySettings:
    """Zones and limits of the safety layer (the node builds it from its parameters).

    Attributes:
        length, width: Footprint rectangle, m (the embodiment's).
        stop_distance: Stop zone depth beyond the footprint edge, m: no motion towards an
            obstacle closer than this.
        slow_distance: Slow zone depth beyond the footprint edge, m (> stop_distance): speed
            towards an obstacle in it is scaled linearly from full at ``slow_distance`` down to
            ``creep_speed`` at ``stop_distance``, and never above what the body can brake
            (``accel``) before the stop zone.
        side_margin: Corridor half-width beyond the footprint's side, m.
        min_height, max_height: Points within this height band above the floor are
            obstacles (the floor and overhangs above the robot are not).
        creep_speed: Lowest speed allowed in the slow zone, m/s (so that the robot does not
            approach asymptotically).
        accel: (ax, ay) braking limits, m/s^2 (the body's).
        timeout: A source that delivered data and then went silent this long (wall clock)
            blocks translation until it is back, s.
    """

    length: float
    width: float
    stop_distance: float = 0.2
    slow_distance: float = 0.6
    side_margin: float = 0.05
    min_height: float = 0.08
    max_height: float = 2.0
    creep_speed: float = 0.1
    accel: tuple[float, float] = (1.0, 1.0)
    timeout: float = 0.5

    def __post_init__(self) -> None:
        check_positive("length", self.length, "m")
        check_positive("width", self.width, "m")
        check_at_least("safety_stop_distance", self.stop_distance, 0)
        check(
            self.slow_distance > self.stop_distance,
            "safety_slow_distance",
            self.slow_distance,
            f"must exceed safety_stop_distance={self.stop_distance}",
        )
        check_at_least("safety_side_margin", self.side_margin, 0)
        check(
            self.max_height > self.min_height,
            "safety_max_height",
            self.max_height,
            f"must exceed safety_min_height={self.min_height}",
        )
        check_at_least("safety_creep_speed", self.creep_speed, 0)
        check_positive("safety_timeout", self.timeout, "s")


@dataclasses.dataclass(frozen=True)
class Clearance:
    """Free distance beyond each footprint edge, m (``inf`` = nothing seen there)."""

    front: float = math.inf
    rear: float = math.inf
    left: float = math.inf
    right: float = math.inf

    def merge(self, other: Clearance) -> Clearance:
        """The smaller clearance on each side."""
        return Clearance(
            min(self.front, other.front),
            min(self.rear, other.rear),
            min(self.left, other.left),
            min(self.right, other.right),
        )


def clearance(points: np.ndarray, s: SafetySettings) -> Clearance:
    """Clearances around the footprint from obstacle candidates (N, 3) in the body frame.

    Points outside the height band, non-finite ones and ones inside the footprint (the robot's
    own body, sensor noise) are ignored.
    """
    p = np.asarray(points).reshape(-1, 3)
    keep = np.isfinite(p).all(1) & (p[:, 2] >= s.min_height) & (p[:, 2] <= s.max_height)
    x, y = p[keep, 0], p[keep, 1]
    hl, hw = 0.5 * s.length, 0.5 * s.width
    in_x = np.abs(y) <= hw + s.side_margin  # in the front/rear corridor
    in_y = np.abs(x) <= hl + s.side_margin  # in the left/right corridor

    def nearest(mask: np.ndarray, gap: np.ndarray) -> float:
        return float(gap[mask].min()) if mask.any() else math.inf

    return Clearance(
        front=nearest(in_x & (x >= hl), x - hl),
        rear=nearest(in_x & (x <= -hl), -hl - x),
        left=nearest(in_y & (y >= hw), y - hw),
        right=nearest(in_y & (y <= -hw), -hw - y),
    )


@dataclasses.dataclass(frozen=True)
class DepthCamera:
    """Pinhole depth camera mount in the body frame (the embodiment's camera by default).

    Attributes:
        x: Camera position ahead of the body centre, m.
        height: Above the floor, m.
        pitch: rad, positive pitches the camera down.
        hfov: Horizontal field of view, rad (square pixels, principal point at the centre).
    """

    x: float
    height: float
    pitch: float
    hfov: float


_RAYS: dict[tuple, tuple[np.ndarray, np.ndarray, np.ndarray, tuple]] = {}


def _rays(cam: DepthCamera, h: int, w: int):
    """Per-pixel body-frame offsets per metre of depth (cached per camera and image size)."""
    key = (cam, h, w)
    if key not in _RAYS:
        step = max(1, math.ceil(math.sqrt(h * w / MAX_DEPTH_POINTS)))
        rows, cols = np.arange(0, h, step), np.arange(0, w, step)
        f = 0.5 * w / math.tan(0.5 * cam.hfov)
        a = (0.5 * w - (cols + 0.5)) / f  # left per metre of depth
        b = (0.5 * h - (rows + 0.5)) / f  # up per metre of depth (optical frame)
        cp, sp = math.cos(cam.pitch), math.sin(cam.pitch)
        bb, aa = np.meshgrid(b, a, indexing="ij")
        fx = cp + bb * sp  # body x per metre of depth
        fz = -sp + bb * cp  # body z per metre of depth
        f32 = np.float32
        sl = (slice(None, None, step), slice(None, None, step))
        _RAYS[key] = (fx.astype(f32), aa.astype(f32), fz.astype(f32), sl)
    return _RAYS[key]


def depth_points(depth: np.ndarray, cam: DepthCamera) -> np.ndarray:
    """Depth image (H, W) of z-depths in metres (0/NaN/inf = no return) -> (N, 3) body points.

    Large images are strided to at most :data:`MAX_DEPTH_POINTS` pixels.
    """
    d = np.asarray(depth)
    fx, fy, fz, sl = _rays(cam, d.shape[0], d.shape[1])
    d = d[sl]
    ok = d > 0.0  # NaN compares False; +inf is caught below
    ok &= d < np.inf
    dd = d[ok].astype(np.float32, copy=False)
    out = np.empty((dd.size, 3), np.float32)
    np.multiply(dd, fx[ok], out=out[:, 0])
    out[:, 0] += cam.x
    np.multiply(dd, fy[ok], out=out[:, 1])
    np.multiply(dd, fz[ok], out=out[:, 2])
    out[:, 2] += cam.height
    return out


def scan_points(
    ranges: np.ndarray,
    angle_min: float,
    angle_increment: float,
    range_min: float,
    range_max: float,
    mount: tuple[float, float, float, float] = (0.0, 0.0, 0.2, 0.0),
) -> np.ndarray:
    """LaserScan ranges -> (N, 3) body points; ``mount`` = (x, y, z, yaw) of the scanner."""
    r = np.asarray(ranges, np.float64)
    ang = angle_min + angle_increment * np.arange(r.size) + mount[3]
    ok = np.isfinite(r) & (r >= range_min) & (r <= range_max)
    r, ang = r[ok], ang[ok]
    z = np.full(r.size, mount[2])
    return np.stack([mount[0] + r * np.cos(ang), mount[1] + r * np.sin(ang), z], 1)


class SafetyLayer:
    """Latest clearance per source, and the clamp applied to each command.

    Args:
        settings: Zones and limits.
        sources: Which sources are configured (see :data:`SAFETY_SOURCES`).
    """

    def __init__(self, settings: SafetySettings, sources: tuple[str, ...]) -> None:
        self.settings = settings
        self.sources = tuple(sources)
        self._seen: dict[str, tuple[Clearance, float]] = {}
        self.interventions = 0
        self.last_intervention = ""

    def update(self, source: str, points: np.ndarray, now: float) -> Clearance:
        """New range data (N, 3) body-frame points from ``source`` at wall time ``now``."""
        c = clearance(points, self.settings)
        self._seen[source] = (c, now)
        return c

    def state(self, now: float, check_stale: bool = True) -> tuple[Clearance, list[str]]:
        """Merged clearance of the fresh sources and the names of the stale ones."""
        merged, stale = Clearance(), []
        for name, (c, t) in self._seen.items():
            if check_stale and now - t > self.settings.timeout:
                stale.append(name)
            else:
                merged = merged.merge(c)
        return merged, stale

    def unheard(self) -> list[str]:
        """Configured sources that never delivered data (they protect nothing yet)."""
        return [s for s in self.sources if s not in self._seen]

    def apply(
        self, cmd: np.ndarray, max_speed: tuple[float, float], now: float, check_stale: bool = True
    ) -> tuple[np.ndarray, str, bool]:
        """Clamp ``cmd`` (vx, vy, wz); returns (command, why, hard).

        ``why`` is '' when the command is unchanged; ``hard`` is True when translation was cut
        (stop zone, a silent source): the caller takes that at once instead of ramping it.

        Args:
            cmd: (3,) command after the policy (vx, vy, wz).
            max_speed: (max_vx, max_vy) the slow-zone scaling is relative to, m/s.
            now: Wall time (``time.monotonic()``) for source staleness.
            check_stale: False where wall-clock staleness means nothing (lockstep).
        """
        s = self.settings
        c, stale = self.state(now, check_stale)
        out = np.array(cmd, np.float64)
        why: list[str] = []
        hard = False
        if stale:
            hard = bool(out[0] != 0.0 or out[1] != 0.0)
            if out[0] != 0.0 or out[1] != 0.0:
                why.append(f"{'/'.join(stale)} silent for > {s.timeout:g} s: translation stopped")
            out[:2] = 0.0
        for axis, sign, gap, name in (
            (0, 1.0, c.front, "ahead"),
            (0, -1.0, c.rear, "behind"),
            (1, 1.0, c.left, "left"),
            (1, -1.0, c.right, "right"),
        ):
            v = sign * out[axis]
            if v <= 0.0 or not math.isfinite(gap):
                continue
            allowed = self._allowed(gap, max_speed[axis], s.accel[axis])
            if v > allowed + 1e-9:
                zone = "stop" if allowed == 0.0 else "slow"
                hard = hard or allowed == 0.0
                why.append(f"{zone}: obstacle {gap:.2f} m {name}")
                out[axis] = sign * allowed
        text = "; ".join(why)
        if text:
            self.interventions += 1
            self.last_intervention = text
        return out, text, hard

    def _allowed(self, gap: float, vmax: float, accel: float) -> float:
        s = self.settings
        if gap <= s.stop_distance:
            return 0.0
        if gap >= s.slow_distance:
            return math.inf
        frac = (gap - s.stop_distance) / (s.slow_distance - s.stop_distance)
        brake = math.sqrt(2.0 * accel * (gap - s.stop_distance)) if accel > 0 else math.inf
        return max(s.creep_speed, min(vmax * frac, brake))


class CommandShaper:
    """Ramps commands within acceleration limits and decides what to publish.

    Every change of the published command is at most ``accel / control_hz`` per call (the
    body's limits), so stops decelerate; an ``emergency`` command (the safety layer's stop
    zone, a shutdown) is taken as it is. ``publish_when_idle`` False: once the robot is
    commanded to zero with nothing to drive to, one final zero goes out and then nothing, until
    a command moves again.

    Args:
        accel: (ax, ay, awz) limits, per second.
        control_hz: Calls per second the ramp assumes.
        publish_when_idle: Keep publishing zeros while idle (the old behaviour).
    """

    def __init__(
        self, accel: tuple[float, float, float], control_hz: float, publish_when_idle: bool
    ) -> None:
        self.configure(accel, control_hz)
        self.publish_when_idle = publish_when_idle
        self.last = np.zeros(3)
        self._idle_sent = False

    def configure(self, accel: tuple[float, float, float], control_hz: float) -> None:
        """New limits or rate (the last command is kept)."""
        a = np.array(accel, np.float64)
        # An axis with a zero limit (e.g. vy of a wheeled body) is not ramped: it never moves.
        self.max_delta = np.where(a > 0, a / control_hz, np.inf)

    def reset(self) -> None:
        """The robot was stopped outside the shaper (shutdown, deactivate)."""
        self.last = np.zeros(3)
        self._idle_sent = True

    def __call__(self, target: np.ndarray, idle: bool, emergency: bool = False, ramp: bool = True):
        """Return the command to publish for ``target``, or None to publish nothing.

        Args:
            target: (3,) wanted command (after the safety layer).
            idle: Nothing to drive to (no goal, or the goal is held stopped).
            emergency: Take the translation of ``target`` at once (rotation still ramps).
            ramp: False takes ``target`` as it is (stops are instantaneous zeros).
        """
        target = np.asarray(target, np.float64)
        if not ramp:
            cmd = target.copy()
        elif emergency:
            cmd = target.copy()
            ramp_rot = self.last[2] + np.clip(
                target[2] - self.last[2], -self.max_delta[2], self.max_delta[2]
            )
            cmd[2] = ramp_rot
        else:
            cmd = self.last + np.clip(target - self.last, -self.max_delta, self.max_delta)
        cmd[~np.isfinite(cmd)] = 0.0
        still = not cmd.any()
        self.last = cmd
        if still and idle and not self.publish_when_idle:
            if self._idle_sent:
                return None
            self._idle_sent = True
            return cmd.copy()
        self._idle_sent = False
        return cmd.copy()
