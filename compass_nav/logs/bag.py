"""rosbag2 (MCAP or sqlite3) -> log dataset, with the navigator's topics, no ROS install.

Reads a bag with ``rosbags`` (its own CDR decoder and type store), checks that every topic
the navigator uses is there with the right type, cuts the bag into episodes at goal messages,
resamples every stream to the control rate and writes :class:`~compass_nav.logs.format
.LogEpisode` files. Wired in as ``compass-nav logs import-bag`` (:mod:`compass_nav.logs.cli`);
the rules below are documented in ``docs/LOGS.md``.

Clocks. Sensor messages (images, depth, odometry, TwistStamped commands) carry header stamps:
the *sensor clock*. Messages without a header (Twist commands, JSON status strings) and the
event topics (goal, route, status) are placed on the sensor clock through the bag's receive
times: the receive time of each camera frame maps to its stamp, and other receive times are
interpolated between those pairs. A command received between frames k and k+1 therefore lands
between their stamps, whatever the ratio of wall time to simulated time.

Nothing is dropped silently: every frame not used (a faster camera decimated to the control
rate), frame held over a short gap, odometry sample interpolated, command superseded or held
is counted in the import summary; a gap longer than ``max_gap`` or a stream that never lines
up with the camera is an error, and all errors of a bag are listed together.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from compass_nav.contract.body import EmbodimentSpec, get_embodiment
from compass_nav.contract.geometry import wrap_angle
from compass_nav.logs import decode
from compass_nav.logs.format import SPLITS, LogEpisode, LogWriter
from compass_nav.utils.errors import CompassNavError, ConfigError, DataError
from compass_nav.utils.progress import progress_bar

__all__ = ["BagImportConfig", "BagTopics", "import_bag", "read_bag_episodes"]

IMAGE_TYPES = ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage")
TWIST_TYPES = ("geometry_msgs/msg/Twist", "geometry_msgs/msg/TwistStamped")
#: role -> accepted message types.
TOPIC_TYPES: dict[str, tuple[str, ...]] = {
    "image": IMAGE_TYPES,
    "depth": ("sensor_msgs/msg/Image",),
    "odom": ("nav_msgs/msg/Odometry",),
    "cmd_vel": TWIST_TYPES,
    "goal": ("geometry_msgs/msg/PoseStamped",),
    "route": ("nav_msgs/msg/Path",),
    "goal_status": ("std_msgs/msg/String",),
    "episode_status": ("std_msgs/msg/String",),
    "collision": ("std_msgs/msg/Bool",),
    "camera_info": ("sensor_msgs/msg/CameraInfo",),
}
#: The body's field of view and the bag's camera_info may differ by this much, degrees.
HFOV_TOLERANCE_DEG = 1.0
REQUIRED_ROLES = ("image", "odom", "cmd_vel", "goal")
#: episode_status outcomes of the sim bridge -> log outcomes.
_EPISODE_OUTCOMES = {
    "success": "success",
    "collision": "collision",
    "timeout": "timeout",
    "reset": "aborted",
}
#: Per-episode counters of samples not taken as they were (summed in the import summary).
_EPISODE_COUNTS = (
    "steps",
    "image_held",
    "depth_held",
    "odom_exact",
    "odom_interpolated",
    "odom_nearest",
    "cmd_vel_superseded",
    "cmd_vel_held",
    "cmd_vel_zero_before_first",
)
#: goal_status states of the navigator that end an episode -> log outcomes.
_GOAL_STATES = {"reached": "success", "cancelled": "aborted"}


@dataclasses.dataclass(frozen=True)
class BagTopics:
    """Topic names (the navigator's defaults; a relative name gets a leading '/').

    An empty name means the bag has no such stream. ``depth``, ``route``, ``goal_status``,
    ``episode_status``, ``collision`` and ``camera_info`` are optional: a missing one is
    reported in the summary, not an error (``require_depth`` makes depth required). With
    ``camera_info`` the camera's field of view and frame size are checked against the body.
    """

    image: str = "image"
    depth: str = "depth"
    odom: str = "odom"
    cmd_vel: str = "cmd_vel"
    goal: str = "goal_pose"
    route: str = "route"
    goal_status: str = "goal_status"
    episode_status: str = "episode_status"
    collision: str = ""
    camera_info: str = "camera_info"

    def resolved(self) -> dict[str, str]:
        """Role -> absolute topic name ('' when unused)."""
        out = {}
        for f in dataclasses.fields(self):
            name = str(getattr(self, f.name)).strip()
            out[f.name] = ("/" + name.lstrip("/")) if name else ""
        return out


@dataclasses.dataclass(frozen=True)
class BagImportConfig:
    """How a bag is cut and resampled.

    Attributes:
        topics: Topic names.
        control_hz: Control rate of the log, Hz (the navigator's rate).
        sync_tolerance: A camera frame within this of a control tick is used as that tick's,
            s; depth within this of the frame pairs with it. 0 = a quarter period.
        max_gap: A stream silent for longer than this inside an episode is an error, s;
            shorter gaps are bridged (held or interpolated) and counted.
        timeout: An episode with no other outcome after this long ends as ``timeout``, s
            (0: no timeout; such an episode ends at the next goal or the end of the bag).
        require_depth: A bag without the depth topic is an error.
        route_goal_match: A route received before the goal is the episode's route only if it
            ends within this distance of the goal, m (the navigator's rule).
        min_steps: Episodes shorter than this are not imported (listed in the summary).
        split: Split label written into every episode.
        robot: Robot name for the metadata ('' = the body's name).
    """

    topics: BagTopics = dataclasses.field(default_factory=BagTopics)
    control_hz: float = 10.0
    sync_tolerance: float = 0.0
    max_gap: float = 0.5
    timeout: float = 0.0
    require_depth: bool = False
    route_goal_match: float = 1.0
    min_steps: int = 2
    split: str = "unlabelled"
    robot: str = ""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.control_hz) and 0 < self.control_hz <= 1000):
            raise ConfigError(f"control_hz={self.control_hz!r}: must be within (0, 1000]")
        if not (math.isfinite(self.sync_tolerance) and 0 <= self.sync_tolerance < self.dt):
            raise ConfigError(
                f"sync_tolerance={self.sync_tolerance!r}: must be within [0, one period "
                f"{self.dt:g} s)"
            )
        if not (math.isfinite(self.max_gap) and self.max_gap >= self.dt):
            raise ConfigError(f"max_gap={self.max_gap!r}: must be >= one period {self.dt:g} s")
        if not (math.isfinite(self.timeout) and self.timeout >= 0):
            raise ConfigError(f"timeout={self.timeout!r}: must be >= 0")
        if self.min_steps < 1:
            raise ConfigError(f"min_steps={self.min_steps!r}: must be >= 1")
        if self.split not in SPLITS:
            raise ConfigError(f"split={self.split!r}: must be one of {', '.join(SPLITS)}")

    @property
    def dt(self) -> float:
        """Control period, s."""
        return 1.0 / self.control_hz

    @property
    def tolerance(self) -> float:
        """The effective sync tolerance, s."""
        return self.sync_tolerance if self.sync_tolerance > 0 else 0.25 * self.dt


@dataclasses.dataclass(frozen=True)
class _FrameRef:
    """Where a camera or depth frame sits in the bag.

    Its receive time and, among messages of its topic received in the same nanosecond, its
    rank. Frames are decoded only when an episode is built (a second pass over the episode's
    time range), so a long bag of large frames never sits in memory whole.
    """

    t_ns: int
    rank: int


@dataclasses.dataclass
class _Stream:
    """One topic's messages in receive order: receive times, stamps (sensor clock), payloads."""

    topic: str
    msgtype: str
    recv: np.ndarray  # (n,) float64 s, receive (log) time
    stamp: np.ndarray  # (n,) float64 s, header stamp, or receive time mapped to the clock
    msgs: list

    def __len__(self) -> int:
        return len(self.msgs)


def _open_reader(path: Path):
    from rosbags.highlevel import AnyReader
    from rosbags.typesys import Stores, get_typestore

    if not path.exists():
        raise DataError(f"bag {path} does not exist")
    try:
        reader = AnyReader([path], default_typestore=get_typestore(Stores.ROS2_KILTED))
        reader.open()
    except Exception as exc:  # rosbags raises several unrelated types for unreadable bags
        raise DataError(
            f"bag {path} cannot be read as rosbag2 ({type(exc).__name__}: {exc})"
        ) from None
    return reader


def _read_streams(
    path: Path, cfg: BagImportConfig, problems: list[str], progress: bool
) -> tuple[dict[str, _Stream], dict[str, Any]]:
    """Every used topic's messages; appends missing/mistyped topics to ``problems``."""
    reader = _open_reader(path)
    try:
        by_topic: dict[str, list] = {}
        for c in reader.connections:
            by_topic.setdefault(c.topic, []).append(c)
        available = {t: cs[0].msgtype for t, cs in by_topic.items()}
        listing = ", ".join(f"{t} ({m})" for t, m in sorted(available.items())) or "none"
        chosen: dict[str, list] = {}
        info: dict[str, Any] = {"topics": {}, "absent_optional": []}
        for role, topic in cfg.topics.resolved().items():
            required = role in REQUIRED_ROLES or (role == "depth" and cfg.require_depth)
            if not topic:
                if required:
                    problems.append(f"no topic given for the required {role} stream")
                continue
            if topic not in by_topic:
                if required:
                    problems.append(
                        f"topic {topic} ({role}, {' or '.join(TOPIC_TYPES[role])}) is missing; "
                        f"the bag has: {listing}"
                    )
                else:
                    info["absent_optional"].append(f"{topic} ({role})")
                continue
            msgtype = available[topic]
            if msgtype not in TOPIC_TYPES[role]:
                problems.append(
                    f"topic {topic} ({role}) has type {msgtype}, expected "
                    f"{' or '.join(TOPIC_TYPES[role])}"
                )
                continue
            count = sum(c.msgcount for c in by_topic[topic])
            if count == 0 and required:
                problems.append(f"topic {topic} ({role}) has no messages")
                continue
            chosen[role] = by_topic[topic]
            info["topics"][role] = {"topic": topic, "type": msgtype, "messages": count}
        raw: dict[str, tuple[list, list, list]] = {r: ([], [], []) for r in chosen}
        role_of = {id(c): r for r, cs in chosen.items() for c in cs}
        total = sum(c.msgcount for cs in chosen.values() for c in cs)
        bar = progress_bar(total, f"read {path.name}", "msg", progress)
        conns = [c for cs in chosen.values() for c in cs]
        bad: dict[str, int] = {}
        frame_problems: dict[tuple[str, str], list] = {}  # (topic, reason) -> [count, t]
        ranks: dict[tuple[str, int], int] = {}
        for conn, t_ns, data in reader.messages(connections=conns) if conns else ():
            bar.update(1)
            role = role_of[id(conn)]
            try:
                msg = reader.deserialize(data, conn.msgtype)
            except Exception as exc:  # a corrupt record: counted and reported, never skipped
                bad[role] = bad.get(role, 0) + 1
                if bad[role] == 1:
                    problems.append(f"topic {conn.topic}: a message cannot be decoded ({exc})")
                continue
            header = getattr(msg, "header", None)
            stamp = decode.stamp_sec(header.stamp) if header is not None else math.nan
            recv, stamps, msgs = raw[role]
            recv.append(t_ns * 1e-9)
            stamps.append(stamp)
            if role in ("image", "depth"):
                try:
                    decode.check_frame(msg, role)
                except DataError as exc:
                    entry = frame_problems.setdefault((conn.topic, str(exc)), [0, stamp])
                    entry[0] += 1
                size = (int(getattr(msg, "height", 0)), int(getattr(msg, "width", 0)))
                info.setdefault("frame_sizes", {}).setdefault(role, set()).add(size)
                rank = ranks.get((conn.topic, t_ns), 0)
                ranks[(conn.topic, t_ns)] = rank + 1
                msgs.append(_FrameRef(int(t_ns), rank))
            else:
                msgs.append(msg)
        bar.close()
    finally:
        reader.close()
    for (topic, reason), (n, t) in frame_problems.items():
        problems.append(f"{topic}: {n} frame(s) unusable, first at t={t:.3f}: {reason}")
    for role, sizes in info.pop("frame_sizes", {}).items():
        sizes.discard((0, 0))  # compressed frames: sizes known only once decoded
        if len(sizes) > 1:
            listed = ", ".join(f"{w}x{h}" for h, w in sorted(sizes))
            problems.append(f"{info['topics'][role]['topic']}: frame size changes ({listed})")
        elif sizes:
            info.setdefault("frame_size", {})[role] = next(iter(sizes))
    streams = {}
    for role, (recv, stamps, msgs) in raw.items():
        order = np.argsort(np.asarray(recv), kind="stable")
        topic = info["topics"][role]["topic"]
        streams[role] = _Stream(
            topic,
            info["topics"][role]["type"],
            np.asarray(recv, np.float64)[order],
            np.asarray(stamps, np.float64)[order],
            [msgs[i] for i in order],
        )
    return streams, info


def _load_frames(path: Path, topic: str, refs: list[_FrameRef], role: str) -> list[np.ndarray]:
    """Decode the frames ``refs`` of ``topic`` (one pass over their time range)."""
    if not refs:
        return []
    where: dict[tuple[int, int], list[int]] = {}
    for i, r in enumerate(refs):  # a held frame appears at several steps
        where.setdefault((r.t_ns, r.rank), []).append(i)
    out: list[np.ndarray | None] = [None] * len(refs)
    reader = _open_reader(path)
    try:
        conns = [c for c in reader.connections if c.topic == topic]
        lo, hi = min(r.t_ns for r in refs), max(r.t_ns for r in refs)
        seen: dict[int, int] = {}
        for conn, t_ns, data in reader.messages(connections=conns, start=lo, stop=hi + 1):
            rank = seen.get(t_ns, 0)
            seen[t_ns] = rank + 1
            steps = where.get((t_ns, rank))
            if not steps:
                continue
            msg = reader.deserialize(data, conn.msgtype)
            frame = decode.rgb(msg) if role == "image" else decode.depth_m(msg)
            for j in steps:
                out[j] = frame
    finally:
        reader.close()
    missing = sum(f is None for f in out)
    if missing:
        raise DataError(f"{topic}: {missing} frame(s) vanished between the bag's two passes")
    return out  # type: ignore[return-value]


def _clock_map(image: _Stream) -> Callable[[np.ndarray], np.ndarray]:
    """Receive time -> sensor clock, from the camera frames' (receive, stamp) pairs."""
    recv, stamp = image.recv, image.stamp
    keep = np.isfinite(stamp)
    recv, stamp = recv[keep], stamp[keep]
    # receive times are sorted; a later frame never maps earlier than a previous one
    stamp = np.maximum.accumulate(stamp)

    def f(t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, np.float64)
        out = np.interp(t, recv, stamp)
        out = np.where(t < recv[0], stamp[0] + (t - recv[0]), out)
        return np.where(t > recv[-1], stamp[-1] + (t - recv[-1]), out)

    return f


def _sort_by_stamp(s: _Stream) -> _Stream:
    order = np.argsort(s.stamp, kind="stable")
    return _Stream(s.topic, s.msgtype, s.recv[order], s.stamp[order], [s.msgs[i] for i in order])


@dataclasses.dataclass
class _Event:
    t: float  # sensor clock
    kind: str  # goal | episode_status | goal_status | collision
    value: Any


def _frame_pose(
    frame: str, odom_frame: str, base_frame: str, at: float, odom_t, odom_pose, what: str
) -> tuple[np.ndarray | None, str]:
    """Robot pose to convert a robot-frame message with ('' when the odometry frame)."""
    if frame in ("", odom_frame):
        return None, ""
    if frame == base_frame:
        i = int(np.clip(np.searchsorted(odom_t, at, side="right") - 1, 0, len(odom_t) - 1))
        return odom_pose[i], ""
    return None, (
        f"{what} frame {frame!r} is neither the odometry frame {odom_frame!r} nor the robot "
        f"frame {base_frame!r}"
    )


def _to_odom(pose: np.ndarray, xy: np.ndarray) -> np.ndarray:
    c, s = math.cos(pose[2]), math.sin(pose[2])
    return np.stack(
        [pose[0] + c * xy[:, 0] - s * xy[:, 1], pose[1] + s * xy[:, 0] + c * xy[:, 1]], 1
    )


def _interp_odometry(
    t: float, odom_t: np.ndarray, pose: np.ndarray, twist: np.ndarray, max_gap: float, tol: float
) -> tuple[np.ndarray, np.ndarray, str]:
    """Odometry at ``t``: exact, interpolated, nearest, or '' = a gap.

    Interpolated between neighbours at most ``max_gap`` apart; the nearest within ``tol``
    where ``t`` is not bracketed (the ends of the stream).
    """
    j = int(np.searchsorted(odom_t, t))
    if j < len(odom_t) and abs(odom_t[j] - t) < 1e-6:
        return pose[j], twist[j], "exact"
    if j > 0 and abs(odom_t[j - 1] - t) < 1e-6:
        return pose[j - 1], twist[j - 1], "exact"
    if 0 < j < len(odom_t) and odom_t[j] - odom_t[j - 1] <= max_gap:
        a = (t - odom_t[j - 1]) / (odom_t[j] - odom_t[j - 1])
        p0, p1 = pose[j - 1], pose[j]
        yaw = p0[2] + a * float(wrap_angle(np.float64(p1[2] - p0[2])))
        p = np.array([p0[0] + a * (p1[0] - p0[0]), p0[1] + a * (p1[1] - p0[1]), yaw])
        p[2] = float(wrap_angle(np.float64(p[2])))
        return p, (1 - a) * twist[j - 1] + a * twist[j], "interpolated"
    n = _nearest(odom_t, t)
    if abs(odom_t[n] - t) <= tol and not (0 < j < len(odom_t)):
        return pose[n], twist[n], "nearest"
    return pose[0], twist[0], ""


def _goal_events(streams, clock, problems, odom_frame, base_frame, odom_t, odom_pose):
    events: list[_Event] = []
    g = streams.get("goal")
    if g is not None:
        t_goal = clock(g.recv)
        for t, msg in zip(t_goal, g.msgs, strict=True):
            try:
                xyyaw = decode.pose_xyyaw(msg.pose, "goal pose")
            except CompassNavError as exc:
                problems.append(f"{g.topic} at t={t:.3f}: {exc}")
                continue
            pose, err = _frame_pose(
                msg.header.frame_id, odom_frame, base_frame, t, odom_t, odom_pose, "goal"
            )
            if err:
                problems.append(f"{g.topic} at t={t:.3f}: {err} (no tf lookups here)")
                continue
            if pose is not None:
                xy = _to_odom(pose, xyyaw[None, :2])[0]
                xyyaw = np.array([xy[0], xy[1], float(wrap_angle(np.float64(pose[2] + xyyaw[2])))])
            events.append(_Event(float(t), "goal", xyyaw))
    for role in ("episode_status", "goal_status"):
        s = streams.get(role)
        if s is None:
            continue
        for t, msg in zip(clock(s.recv), s.msgs, strict=True):
            try:
                data = json.loads(msg.data)
            except (TypeError, ValueError):
                problems.append(f"{s.topic} at t={t:.3f}: not JSON: {str(msg.data)[:60]!r}")
                continue
            events.append(_Event(float(t), role, data if isinstance(data, dict) else {}))
    s = streams.get("collision")
    if s is not None:
        t_c = np.where(np.isfinite(s.stamp), s.stamp, clock(s.recv))
        for t, msg in zip(t_c, s.msgs, strict=True):
            if bool(msg.data):
                events.append(_Event(float(t), "collision", True))
    events.sort(key=lambda e: e.t)
    return events


def _episode_end(
    events: list[_Event], start: float, next_goal: float, cfg: BagImportConfig, has_status: bool
) -> tuple[float, str, str, int | None]:
    """(end time, outcome, outcome_source, steps the simulator reported) of an episode.

    The rules, in order, are those of docs/LOGS.md ("Episodes").
    """
    limit = min(next_goal, start + cfg.timeout) if cfg.timeout > 0 else next_goal
    for e in events:
        if e.t < start or e.t >= limit:
            continue
        if e.kind == "episode_status" and has_status:
            raw = str(e.value.get("outcome", ""))
            if raw in _EPISODE_OUTCOMES:
                steps = e.value.get("steps")
                steps = steps if isinstance(steps, int) and not isinstance(steps, bool) else None
                return e.t, _EPISODE_OUTCOMES[raw], f"episode_status outcome {raw!r}", steps
        elif e.kind == "collision":
            return e.t, "collision", "collision topic reported a contact", None
        elif e.kind == "goal_status" and not has_status:
            state = str(e.value.get("state", ""))
            if state in _GOAL_STATES:
                return e.t, _GOAL_STATES[state], f"navigator goal_status {state!r}", None
    if limit < next_goal:
        return limit, "timeout", f"no outcome within timeout={cfg.timeout:g} s", None
    if math.isfinite(next_goal):
        return next_goal, "aborted", "a new goal arrived before any outcome", None
    return next_goal, "unknown", "the bag ends before any outcome", None


def _nearest(times: np.ndarray, t: float) -> int:
    j = int(np.searchsorted(times, t))
    if j == 0:
        return 0
    if j >= len(times):
        return len(times) - 1
    return j if times[j] - t < t - times[j - 1] else j - 1


@dataclasses.dataclass
class _Streams:
    """A bag's streams on the sensor clock, decoded where it is cheap (everything but frames)."""

    image: _Stream
    depth: _Stream | None
    odom: _Stream
    odom_pose: np.ndarray  # (n, 3)
    odom_twist: np.ndarray  # (n, 3)
    cmd_topic: str
    cmd_t: np.ndarray  # (m,) sensor clock
    cmd_v: np.ndarray  # (m, 3)
    cmd_answer: np.ndarray  # (m,) bool: a TwistStamped carrying a frame's stamp
    routes: list[tuple[float, np.ndarray]]


class _Resampler:
    """Cuts one episode out of the streams at the control rate (see the module docstring).

    Every problem of the episode is collected (a gap is reported once, however many ticks it
    spans); the episode is imported only when there is none.
    """

    def __init__(self, s: _Streams, cfg: BagImportConfig) -> None:
        self.s, self.cfg = s, cfg
        self.tol, self.dt = cfg.tolerance, cfg.dt
        self.used_frames = np.zeros(len(s.image), bool)
        self.used_cmd = np.zeros(len(s.cmd_t), bool)

    def ticks(self, start: float, end: float) -> np.ndarray:
        """Control ticks from the first frame at or after ``start`` while before ``end``."""
        stamps = self.s.image.stamp
        first = int(np.searchsorted(stamps, start - 1e-9))
        if first >= len(stamps) or stamps[first] >= end:
            return np.zeros(0)
        last = stamps[min(int(np.searchsorted(stamps, end)), len(stamps)) - 1]
        n = int(math.floor((min(end - 1e-9, last + self.tol) - stamps[first]) / self.dt + 1e-9))
        return stamps[first] + self.dt * np.arange(n + 1)

    def _held(self, stamps: np.ndarray, t: float, end: float) -> tuple[int, float]:
        """(index of the last sample at or before t, length of the gap it bridges) or -1."""
        prev = int(np.searchsorted(stamps, t, side="right")) - 1
        if prev < 0:
            return -1, math.inf
        later = stamps[prev + 1] if prev + 1 < len(stamps) else end
        return prev, later - stamps[prev]

    def cut(self, goal: _Event, end: float) -> tuple[dict | None, list[str]]:
        s, cfg, tol, dt = self.s, self.cfg, self.tol, self.dt
        ticks = self.ticks(goal.t, end)
        problems: list[str] = []
        reported: set = set()

        def report(key, text: str) -> None:
            if key not in reported:
                reported.add(key)
                problems.append(text)

        ec = dict.fromkeys(_EPISODE_COUNTS, 0)
        out: dict[str, list] = {k: [] for k in ("tick", "frame", "depth", "pose", "twist")}
        out.update(action=[], route=[])
        last_cmd, have_cmd = np.zeros(3), False
        for tk in ticks:
            j = _nearest(s.image.stamp, tk)
            if abs(s.image.stamp[j] - tk) > tol:
                j, gap = self._held(s.image.stamp, tk, end)
                if gap > cfg.max_gap:
                    t_gap = s.image.stamp[j] if j >= 0 else tk
                    report(
                        ("image", j),
                        f"{s.image.topic}: gap of {gap:.3f} s at t={t_gap:.3f} "
                        f"(max_gap {cfg.max_gap:g} s)",
                    )
                    continue
                ec["image_held"] += 1
            ts = s.image.stamp[j]
            d = -1
            if s.depth is not None:
                d = _nearest(s.depth.stamp, ts)
                if abs(s.depth.stamp[d] - ts) > tol:
                    near = s.depth.stamp[d] - ts
                    d, gap = self._held(s.depth.stamp, ts, end)
                    if d < 0:
                        report(
                            ("depth", "sync"),
                            f"{s.depth.topic} and {s.image.topic} are not synchronised: no "
                            f"depth within {tol:.3f} s of the frame at t={ts:.3f} (nearest "
                            f"{near:+.3f} s away) and none before it to hold",
                        )
                        continue
                    if gap > cfg.max_gap:
                        report(
                            ("depth", d),
                            f"{s.depth.topic}: gap of {gap:.3f} s at t={s.depth.stamp[d]:.3f} "
                            f"(max_gap {cfg.max_gap:g} s)",
                        )
                        continue
                    ec["depth_held"] += 1
            p, v, kind = _interp_odometry(
                ts, s.odom.stamp, s.odom_pose, s.odom_twist, cfg.max_gap, tol
            )
            if not kind:
                k = _nearest(s.odom.stamp, ts)
                report(
                    ("odom", k),
                    f"{s.odom.topic}: no odometry around the frame at t={ts:.3f} within "
                    f"{cfg.max_gap:g} s (nearest at {s.odom.stamp[k]:.3f})",
                )
                continue
            if len(s.cmd_t):
                lo = int(np.searchsorted(s.cmd_t, tk - 1e-9))
                hi = int(np.searchsorted(s.cmd_t, tk + dt - 1e-9))
                if hi > lo:
                    # the answer stamped with this frame wins, else the last one received
                    answers = np.flatnonzero(s.cmd_answer[lo:hi])
                    pick = lo + int(answers[0]) if answers.size else hi - 1
                    last_cmd, have_cmd = s.cmd_v[pick], True
                    self.used_cmd[lo:hi] = True
                    ec["cmd_vel_superseded"] += hi - lo - 1
                elif have_cmd:
                    before = s.cmd_t[lo - 1] if lo > 0 else -math.inf
                    if tk - before > cfg.max_gap:
                        report(
                            ("cmd", lo),
                            f"{s.cmd_topic}: no command for {tk - before:.3f} s at t={tk:.3f} "
                            f"(max_gap {cfg.max_gap:g} s)",
                        )
                        continue
                    ec["cmd_vel_held"] += 1
                else:
                    ec["cmd_vel_zero_before_first"] += 1
            ec[f"odom_{kind}"] += 1
            self.used_frames[j] = True
            out["tick"].append(tk)
            out["frame"].append(j)
            out["depth"].append(d)
            out["pose"].append(p)
            out["twist"].append(v)
            out["action"].append(last_cmd.copy())
            out["route"].append(self._route_index(goal, tk))
        if problems:
            return None, problems
        if s.depth is not None and out["frame"]:
            offs = np.abs(s.depth.stamp[out["depth"]] - s.image.stamp[out["frame"]])
            if np.median(offs) > tol:
                return None, [
                    f"{s.depth.topic} and {s.image.topic} are not synchronised (median offset "
                    f"{np.median(offs):.3f} s > tolerance {tol:.3f} s)"
                ]
        ec["steps"] = len(out["tick"])
        out["counts"] = ec
        return out, []

    def _route_index(self, goal: _Event, tk: float) -> int:
        """The route version in effect at tick ``tk`` (-1: none, mapless)."""
        ri = -1
        for r, (rt, pts) in enumerate(self.s.routes):
            if rt <= tk + self.tol and (
                rt >= goal.t - self.tol
                or float(np.hypot(*(pts[-1] - goal.value[:2]))) <= self.cfg.route_goal_match
            ):
                ri = r
        return ri


def _decode_streams(
    streams: dict[str, _Stream], clock, problems: list[str]
) -> tuple[_Streams, str, str]:
    """Sorted, decoded streams (odometry, commands, routes); (streams, odom frame, base frame)."""
    image = _sort_by_stamp(streams["image"])
    odom = _sort_by_stamp(streams["odom"])
    depth = _sort_by_stamp(streams["depth"]) if "depth" in streams else None
    # odometry decoded once (a NaN pose or bad quaternion is listed, never skipped quietly)
    pose, twist = np.zeros((len(odom), 3)), np.zeros((len(odom), 3))
    for i, msg in enumerate(odom.msgs):
        try:
            pose[i], twist[i] = decode.odometry(msg)
        except CompassNavError as exc:
            problems.append(f"{odom.topic} at t={odom.stamp[i]:.3f}: {exc}")
    odom_frame = odom.msgs[0].header.frame_id if odom.msgs else ""
    base_frame = odom.msgs[0].child_frame_id if odom.msgs else ""
    cmd = streams.get("cmd_vel")
    cmd_t, cmd_v, answer = np.zeros(0), np.zeros((0, 3)), np.zeros(0, bool)
    if cmd is not None and len(cmd):
        # a TwistStamped with a real stamp sits on the sensor clock; a zero stamp (an
        # unsolicited stop) or a plain Twist is placed by its receive time
        stamped = np.isfinite(cmd.stamp) & (cmd.stamp > 0)
        t = np.where(stamped, cmd.stamp, clock(cmd.recv))
        order = np.argsort(t, kind="stable")
        cmd_t = t[order]
        cmd_v = np.array([decode.twist(cmd.msgs[i]) for i in order]).reshape(-1, 3)
        answer = stamped[order] & np.isin(cmd_t, image.stamp)
    routes: list[tuple[float, np.ndarray]] = []
    r = streams.get("route")
    if r is not None:
        for t, msg in zip(clock(r.recv), r.msgs, strict=True):
            pts = decode.path_points(msg)
            if pts.shape[0] == 0:
                continue
            at, err = _frame_pose(
                msg.header.frame_id, odom_frame, base_frame, t, odom.stamp, pose, "route"
            )
            if err:
                problems.append(f"{r.topic} at t={t:.3f}: {err}")
                continue
            routes.append((float(t), pts if at is None else _to_odom(at, pts)))
    s = _Streams(
        image,
        depth,
        odom,
        pose,
        twist,
        cmd.topic if cmd is not None else "",
        cmd_t,
        cmd_v,
        answer,
        routes,
    )
    return s, odom_frame, base_frame


@dataclasses.dataclass
class _Plan:
    """One episode as cut from the bag: everything but the decoded frames."""

    cut: dict
    goal: _Event
    routes: list[tuple[float, np.ndarray]]
    attrs: dict


def _camera_problems(cam: _Stream, spec: EmbodimentSpec, info: dict) -> list[str]:
    """The bag's camera_info against the body's camera (field of view, frame size)."""
    msg = cam.msgs[0]
    width, height, fx = int(msg.width), int(msg.height), float(msg.k[0])
    out = []
    if fx > 0 and width > 0:
        hfov = math.degrees(2.0 * math.atan(0.5 * width / fx))
        if abs(hfov - spec.camera_hfov_deg) > HFOV_TOLERANCE_DEG:
            out.append(
                f"{cam.topic}: the camera's horizontal field of view is {hfov:.1f} deg "
                f"(fx={fx:g} px, width {width} px) but body {spec.name!r} says "
                f"{spec.camera_hfov_deg:g} deg: give this robot's body (--body YAML)"
            )
    size = info.get("frame_size", {}).get("image")
    if size is not None and width > 0 and size != (height, width):
        out.append(
            f"{cam.topic}: camera_info is {width}x{height} but the frames are {size[1]}x{size[0]}"
        )
    return out


def _limit_problems(s: _Streams, spec: EmbodimentSpec) -> list[str]:
    """Commands beyond the body's limits (the navigator never sends them): a wrong body."""
    if not len(s.cmd_v):
        return []
    low, high = spec.action_low.astype(np.float64), spec.action_high.astype(np.float64)
    slack = 0.01 * np.maximum(np.abs(low), np.abs(high)) + 1e-6
    out = []
    for i, name in enumerate(("vx", "vy", "wz")):
        v = s.cmd_v[:, i]
        n = int(((v < low[i] - slack[i]) | (v > high[i] + slack[i])).sum())
        if n:
            out.append(
                f"{s.cmd_topic}: {n} command(s) with {name} in [{v.min():.3g}, {v.max():.3g}] "
                f"beyond the limits [{low[i]:.3g}, {high[i]:.3g}] of body {spec.name!r}: is "
                "this the robot's body?"
            )
    return out


def _plan_bag(
    path: Path, body: str | EmbodimentSpec, cfg: BagImportConfig, progress: bool
) -> tuple[list[_Plan], _Streams, EmbodimentSpec, dict[str, Any]]:
    """First pass: check the whole bag and cut its episodes (frames are not decoded).

    Raises:
        DataError: Listing every problem found.
    """
    problems: list[str] = []
    spec = None
    try:
        spec = get_embodiment(body)
    except ConfigError as exc:
        problems.append(f"body: {exc}")
    streams, info = _read_streams(path, cfg, problems, progress)
    if "image" not in streams or "odom" not in streams:
        raise DataError(_listing(path, problems))
    if not np.isfinite(streams["image"].stamp).all():
        problems.append(f"{streams['image'].topic}: frames without header stamps")
        raise DataError(_listing(path, problems))
    clock = _clock_map(streams["image"])
    if spec is not None and "camera_info" in streams:
        problems.extend(_camera_problems(streams["camera_info"], spec, info))
    s, odom_frame, base_frame = _decode_streams(streams, clock, problems)
    if spec is not None:
        problems.extend(_limit_problems(s, spec))
    events = _goal_events(
        streams, clock, problems, odom_frame, base_frame, s.odom.stamp, s.odom_pose
    )
    has_status = "episode_status" in streams
    goals = [e for e in events if e.kind == "goal"]
    if not goals and "goal" in streams:
        problems.append(f"{streams['goal'].topic}: no usable goal message")
    counts: dict[str, int] = {
        "image_frames": len(s.image),
        "depth_frames": len(s.depth) if s.depth else 0,
        "odom_messages": len(s.odom),
        "cmd_vel_messages": len(s.cmd_t),
        "route_versions": len(s.routes),
        "goals": len(goals),
        **dict.fromkeys(_EPISODE_COUNTS, 0),
    }
    cutter = _Resampler(s, cfg)
    plans: list[_Plan] = []
    skipped: list[str] = []
    mismatches: list[str] = []  # a recorder that missed frames at an episode's ends
    for gi, g in enumerate(goals):
        next_goal = goals[gi + 1].t if gi + 1 < len(goals) else math.inf
        end, outcome, outcome_source, reported = _episode_end(
            events, g.t, next_goal, cfg, has_status
        )
        cut, ep_problems = cutter.cut(g, end)
        if ep_problems:
            problems.extend(f"episode {gi} (goal at t={g.t:.3f}): {p}" for p in ep_problems)
            continue
        T = len(cut["tick"])
        if T < cfg.min_steps:
            skipped.append(
                f"goal at t={g.t:.3f}: {T} step(s) < min_steps={cfg.min_steps} ({outcome})"
            )
            continue
        for key, v in cut["counts"].items():
            counts[key] += v
        if reported is not None and reported != T:
            mismatches.append(f"episode {gi}: the simulator reported {reported} steps, {T} cut")
        used = sorted(set(cut["route"]) - {-1})
        remap = {r: i for i, r in enumerate(used)}
        cut["route"] = [remap.get(r, -1) for r in cut["route"]]
        attrs = {
            "source": "rosbag2",
            "robot": cfg.robot or (spec.name if spec else ""),
            "split": cfg.split,
            "control_hz": cfg.control_hz,
            "outcome": outcome,
            "outcome_source": outcome_source,
            "origin": {
                "bag": str(path),
                "goal_index": gi,
                "start": float(cut["tick"][0]),
                "end": float(end) if math.isfinite(end) else None,
                "reported_steps": reported,
                "odom_frame": odom_frame,
                "base_frame": base_frame,
                "topics": {r: v["topic"] for r, v in info["topics"].items()},
            },
            "import_counts": cut["counts"],
        }
        plans.append(_Plan(cut, g, [s.routes[r] for r in used], attrs))
    counts["image_not_used"] = int((~cutter.used_frames).sum())
    counts["cmd_vel_not_used"] = int((~cutter.used_cmd).sum())
    if spec is None or problems:
        raise DataError(_listing(path, problems))
    outcomes: dict[str, int] = {}
    for p in plans:
        outcomes[p.attrs["outcome"]] = outcomes.get(p.attrs["outcome"], 0) + 1
    summary = {
        "bag": str(path),
        "body": spec.name,
        "topics": info["topics"],
        "absent_optional_topics": info["absent_optional"],
        "counts": counts,
        "episodes": len(plans),
        "outcomes": outcomes,
        "skipped_episodes": skipped,
        "step_count_mismatches": mismatches,
        "settings": {
            "control_hz": cfg.control_hz,
            "sync_tolerance": cfg.tolerance,
            "max_gap": cfg.max_gap,
            "timeout": cfg.timeout,
        },
    }
    return plans, s, spec, summary


def _build_episode(path: Path, plan: _Plan, s: _Streams, spec: EmbodimentSpec) -> LogEpisode:
    """Second pass for one episode: decode its frames and assemble it."""
    cut = plan.cut
    rgb = np.stack(
        _load_frames(path, s.image.topic, [s.image.msgs[j] for j in cut["frame"]], "image")
    )
    dep = None
    if s.depth is not None:
        refs = [s.depth.msgs[d] for d in cut["depth"]]
        dep = np.stack(_load_frames(path, s.depth.topic, refs, "depth")).astype(np.float32)
        if dep.shape[1:] != rgb.shape[1:3]:
            raise DataError(
                f"{path}: episode {plan.attrs['origin']['goal_index']}: depth images "
                f"{dep.shape[2]}x{dep.shape[1]} differ from camera frames "
                f"{rgb.shape[2]}x{rgb.shape[1]}"
            )
    return LogEpisode(
        stamp=np.asarray(cut["tick"], np.float64),
        rgb=rgb,
        depth=dep,
        odom_pose=np.asarray(cut["pose"], np.float64),
        odom_twist=np.asarray(cut["twist"], np.float32),
        action=np.asarray(cut["action"], np.float32),
        goal=np.asarray(plan.goal.value, np.float64),
        routes=[pts for _, pts in plan.routes],
        route_stamps=np.array([t for t, _ in plan.routes], np.float64),
        route_index=np.asarray(cut["route"], np.int32),
        body=spec,
        attrs=plan.attrs,
    )


def read_bag_episodes(
    bag: str | Path,
    body: str | EmbodimentSpec,
    cfg: BagImportConfig | None = None,
    progress: bool = False,
) -> tuple[list[LogEpisode], dict[str, Any]]:
    """Cut a bag into log episodes, all in memory (nothing written).

    Returns:
        ``(episodes, summary)``; the summary counts every message used, held, interpolated,
        decimated or superseded, per stream, and lists episodes not imported and why.

    Raises:
        DataError: Listing every problem found (missing or mistyped topics, an unknown
            body, gaps longer than ``max_gap``, streams that never line up with the camera,
            goals in unknown frames, undecodable messages).
    """
    path = Path(bag)
    plans, s, spec, summary = _plan_bag(path, body, cfg or BagImportConfig(), progress)
    return [_build_episode(path, p, s, spec) for p in plans], summary


def _listing(path: Path, problems: list[str]) -> str:
    lines = "\n".join(f"  - {p}" for p in problems)
    return f"cannot import bag {path} ({len(problems)} problem(s)):\n{lines}"


def import_bag(
    bag: str | Path,
    body: str | EmbodimentSpec,
    out: str | Path,
    cfg: BagImportConfig | None = None,
    progress: bool = True,
    command: str = "",
) -> dict[str, Any]:
    """Import one bag into log dataset ``out`` (created, or appended to).

    Nothing is kept unless the whole bag imports: the whole bag is checked first (a pass
    that decodes everything but the frames), then each episode's frames are decoded and
    written; a failure there (or Ctrl-C) removes the episodes this import wrote.

    Returns:
        The import summary (also appended to ``meta.json``'s ``imports``), with the indices
        of the written episodes under ``written``.
    """
    cfg = cfg or BagImportConfig()
    path = Path(bag)
    plans, s, spec, summary = _plan_bag(path, body, cfg, progress)
    writer = LogWriter(out, cfg.control_hz)
    bar = progress_bar(len(plans), "write", "ep", progress)
    written: list[int] = []
    try:
        for plan in plans:  # one episode's frames in memory at a time
            written.append(writer.write(_build_episode(path, plan, s, spec)))
            bar.update(1)
    except BaseException:
        writer.remove(written)  # all of the bag or none of it
        raise
    finally:
        bar.close()
    summary["written"] = written
    writer.finish({"source": "rosbag2", "command": command, **summary})
    return summary
