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
}
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
    ``episode_status`` and ``collision`` are optional: a missing one is reported in the
    summary, not an error (``require_depth`` makes depth required).
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
            msgs.append(msg)
        bar.close()
    finally:
        reader.close()
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
) -> tuple[float, str, str]:
    """(end time, outcome, outcome_source) of an episode that starts at ``start``."""
    end, outcome, source = next_goal, "aborted", "a new goal arrived before any outcome"
    if not math.isfinite(next_goal):
        outcome, source = "unknown", "the bag ends before any outcome"
    for e in events:
        if e.t < start or e.t >= end:
            continue
        if e.kind == "episode_status" and has_status:
            raw = str(e.value.get("outcome", ""))
            if raw in _EPISODE_OUTCOMES:
                return e.t, _EPISODE_OUTCOMES[raw], f"episode_status outcome {raw!r}"
        elif e.kind == "collision":
            return e.t, "collision", "collision topic reported a contact"
        elif e.kind == "goal_status" and not has_status:
            state = str(e.value.get("state", ""))
            if state in _GOAL_STATES:
                return e.t, _GOAL_STATES[state], f"navigator goal_status {state!r}"
    if cfg.timeout > 0 and end - start > cfg.timeout:
        return start + cfg.timeout, "timeout", f"no outcome within timeout={cfg.timeout:g} s"
    return end, outcome, source


def _nearest(times: np.ndarray, t: float) -> int:
    j = int(np.searchsorted(times, t))
    if j == 0:
        return 0
    if j >= len(times):
        return len(times) - 1
    return j if times[j] - t < t - times[j - 1] else j - 1


def read_bag_episodes(
    bag: str | Path,
    body: str | EmbodimentSpec,
    cfg: BagImportConfig | None = None,
    progress: bool = False,
) -> tuple[list[LogEpisode], dict[str, Any]]:
    """Cut a bag into log episodes (nothing written).

    Returns:
        ``(episodes, summary)``; the summary counts every message used, held, interpolated,
        decimated or superseded, per stream, and lists episodes not imported and why.

    Raises:
        DataError: Listing every problem found (missing or mistyped topics, an unknown
            body, gaps longer than ``max_gap``, streams that never line up with the camera,
            goals in unknown frames, undecodable messages).
    """
    cfg = cfg or BagImportConfig()
    path = Path(bag)
    problems: list[str] = []
    spec = None
    try:
        spec = get_embodiment(body)
    except ConfigError as exc:
        problems.append(f"body: {exc}")
    streams, info = _read_streams(path, cfg, problems, progress)
    if "image" not in streams or "odom" not in streams:
        raise DataError(_listing(path, problems))
    image = streams["image"]
    if not np.isfinite(image.stamp).all():
        problems.append(f"{image.topic}: frames without header stamps")
        raise DataError(_listing(path, problems))
    clock = _clock_map(image)
    image = _sort_by_stamp(image)
    odom = _sort_by_stamp(streams["odom"])
    depth = _sort_by_stamp(streams["depth"]) if "depth" in streams else None
    # odometry decoded once (a NaN pose or bad quaternion is listed, never skipped quietly)
    odom_pose = np.zeros((len(odom), 3))
    odom_twist = np.zeros((len(odom), 3))
    for i, msg in enumerate(odom.msgs):
        try:
            odom_pose[i], odom_twist[i] = decode.odometry(msg)
        except CompassNavError as exc:
            problems.append(f"{odom.topic} at t={odom.stamp[i]:.3f}: {exc}")
    odom_frame = odom.msgs[0].header.frame_id if odom.msgs else ""
    base_frame = odom.msgs[0].child_frame_id if odom.msgs else ""
    cmd = streams.get("cmd_vel")
    if cmd is not None:
        cmd_t = np.where(np.isfinite(cmd.stamp) & (cmd.stamp > 0), cmd.stamp, clock(cmd.recv))
        order = np.argsort(cmd_t, kind="stable")
        cmd_t = cmd_t[order]
        cmd_v = np.array([decode.twist(cmd.msgs[i]) for i in order]).reshape(-1, 3)
    events = _goal_events(streams, clock, problems, odom_frame, base_frame, odom.stamp, odom_pose)
    has_status = "episode_status" in streams
    route_versions: list[tuple[float, np.ndarray]] = []
    if "route" in streams:
        r = streams["route"]
        for t, msg in zip(clock(r.recv), r.msgs, strict=True):
            pts = decode.path_points(msg)
            if pts.shape[0] == 0:
                continue
            pose, err = _frame_pose(
                msg.header.frame_id, odom_frame, base_frame, t, odom.stamp, odom_pose, "route"
            )
            if err:
                problems.append(f"{r.topic} at t={t:.3f}: {err}")
                continue
            route_versions.append((float(t), pts if pose is None else _to_odom(pose, pts)))
    goals = [e for e in events if e.kind == "goal"]
    if not goals and "goal" in streams:
        problems.append(f"{streams['goal'].topic}: no usable goal message")
    counts: dict[str, int] = {
        "image_frames": len(image),
        "depth_frames": len(depth) if depth else 0,
        "odom_messages": len(odom),
        "cmd_vel_messages": len(cmd) if cmd else 0,
        "route_versions": len(route_versions),
        "goals": len(goals),
        **dict.fromkeys(_EPISODE_COUNTS, 0),
    }
    tol, dt = cfg.tolerance, cfg.dt
    episodes: list[LogEpisode] = []
    skipped: list[str] = []
    used_cmd = np.zeros(len(cmd_t) if cmd is not None else 0, bool)
    used_frames = np.zeros(len(image), bool)
    for gi, g in enumerate(goals):
        next_goal = goals[gi + 1].t if gi + 1 < len(goals) else math.inf
        end, outcome, outcome_source = _episode_end(events, g.t, next_goal, cfg, has_status)
        first = int(np.searchsorted(image.stamp, g.t - 1e-9))
        if first >= len(image) or image.stamp[first] >= end:
            skipped.append(f"goal at t={g.t:.3f}: no camera frame before it ended ({outcome})")
            continue
        last_frame = image.stamp[min(int(np.searchsorted(image.stamp, end)), len(image)) - 1]
        t0 = image.stamp[first]
        n = int(math.floor((min(end - 1e-9, last_frame + tol) - t0) / dt + 1e-9)) + 1
        ticks = t0 + dt * np.arange(max(n, 0))
        ep_problems: list[str] = []
        ec = dict.fromkeys(_EPISODE_COUNTS, 0)  # this episode's held/interpolated samples
        frame_idx, depth_idx = [], []
        poses, twists, actions, route_idx = [], [], [], []
        last_cmd, have_cmd = np.zeros(3), False
        for tk in ticks:
            j = _nearest(image.stamp, tk)
            if abs(image.stamp[j] - tk) > tol:
                prev = int(np.searchsorted(image.stamp, tk, side="right")) - 1
                nxt = prev + 1
                gap = (image.stamp[nxt] if nxt < len(image) else end) - image.stamp[prev]
                if gap > cfg.max_gap:
                    ep_problems.append(
                        f"{image.topic}: gap of {gap:.3f} s at t={image.stamp[prev]:.3f} "
                        f"(max_gap {cfg.max_gap:g} s)"
                    )
                    break
                j = prev
                ec["image_held"] += 1
            frame_idx.append(j)
            used_frames[j] = True
            ts = image.stamp[j]
            if depth is not None:
                d = _nearest(depth.stamp, ts)
                if abs(depth.stamp[d] - ts) > tol:
                    prev = int(np.searchsorted(depth.stamp, ts, side="right")) - 1
                    later = depth.stamp[prev + 1] if prev + 1 < len(depth) else end
                    if prev < 0:
                        ep_problems.append(
                            f"{depth.topic} and {image.topic} are not synchronised: no depth "
                            f"within {tol:.3f} s of the frame at t={ts:.3f} (nearest "
                            f"{depth.stamp[d] - ts:+.3f} s away) and none before it to hold"
                        )
                        break
                    if later - depth.stamp[prev] > cfg.max_gap:
                        ep_problems.append(
                            f"{depth.topic}: gap of {later - depth.stamp[prev]:.3f} s at "
                            f"t={depth.stamp[prev]:.3f} (max_gap {cfg.max_gap:g} s)"
                        )
                        break
                    d = prev
                    ec["depth_held"] += 1
                depth_idx.append(d)
            p, v, kind = _interp_odometry(ts, odom.stamp, odom_pose, odom_twist, cfg.max_gap, tol)
            if not kind:
                near = odom.stamp[_nearest(odom.stamp, ts)]
                ep_problems.append(
                    f"{odom.topic}: no odometry around the frame at t={ts:.3f} within "
                    f"{cfg.max_gap:g} s (nearest at {near:.3f})"
                )
                break
            ec[f"odom_{kind}"] += 1
            poses.append(p)
            twists.append(v)
            if cmd is not None and len(cmd_t):
                lo = int(np.searchsorted(cmd_t, tk - 1e-9))
                hi = int(np.searchsorted(cmd_t, tk + dt - 1e-9))
                if hi > lo:
                    last_cmd, have_cmd = cmd_v[hi - 1], True
                    used_cmd[hi - 1] = True
                    ec["cmd_vel_superseded"] += hi - lo - 1
                    used_cmd[lo : hi - 1] = True
                elif have_cmd:
                    before = cmd_t[lo - 1] if lo > 0 else -math.inf
                    if tk - before > cfg.max_gap:
                        ep_problems.append(
                            f"{cmd.topic}: no command for {tk - before:.3f} s at t={tk:.3f} "
                            f"(max_gap {cfg.max_gap:g} s)"
                        )
                        break
                    ec["cmd_vel_held"] += 1
                else:
                    ec["cmd_vel_zero_before_first"] += 1
            actions.append(last_cmd.copy())
            ri = -1
            for r, (rt, pts) in enumerate(route_versions):
                if rt <= tk + tol and (
                    rt >= g.t - tol
                    or float(np.hypot(*(pts[-1] - g.value[:2]))) <= cfg.route_goal_match
                ):
                    ri = r
            route_idx.append(ri)
        if ep_problems:
            problems.extend(f"episode {gi} (goal at t={g.t:.3f}): {p}" for p in ep_problems)
            continue
        T = len(frame_idx)
        if T < cfg.min_steps:
            skipped.append(f"goal at t={g.t:.3f}: {T} step(s) < min_steps={cfg.min_steps}")
            continue
        if depth is not None:
            offs = np.abs(depth.stamp[depth_idx] - image.stamp[frame_idx])
            if np.median(offs) > tol:
                problems.append(
                    f"episode {gi}: {depth.topic} and {image.topic} are not synchronised "
                    f"(median offset {np.median(offs):.3f} s > tolerance {tol:.3f} s)"
                )
                continue
        used = sorted(set(route_idx) - {-1})
        remap = {r: i for i, r in enumerate(used)}
        try:
            rgb = np.stack([decode.rgb(image.msgs[j]) for j in frame_idx])
            dep = (
                np.stack([decode.depth_m(depth.msgs[d]) for d in depth_idx]).astype(np.float32)
                if depth is not None
                else None
            )
        except (CompassNavError, ValueError) as exc:
            problems.append(f"episode {gi}: {exc}")
            continue
        if dep is not None and dep.shape[1:] != rgb.shape[1:3]:
            problems.append(
                f"episode {gi}: depth images {dep.shape[2]}x{dep.shape[1]} differ from "
                f"camera frames {rgb.shape[2]}x{rgb.shape[1]}"
            )
            continue
        ec["steps"] = T
        for key, v in ec.items():
            counts[key] += v
        episodes.append(
            LogEpisode(
                stamp=ticks[:T].astype(np.float64),
                rgb=rgb,
                depth=dep,
                odom_pose=np.asarray(poses, np.float64),
                odom_twist=np.asarray(twists, np.float32),
                action=np.asarray(actions, np.float32),
                goal=np.asarray(g.value, np.float64),
                routes=[route_versions[r][1] for r in used],
                route_stamps=np.array([route_versions[r][0] for r in used], np.float64),
                route_index=np.array([remap.get(r, -1) for r in route_idx], np.int32),
                body=spec,
                attrs={
                    "source": "rosbag2",
                    "robot": cfg.robot or (spec.name if spec else ""),
                    "split": cfg.split,
                    "control_hz": cfg.control_hz,
                    "outcome": outcome,
                    "outcome_source": outcome_source,
                    "origin": {
                        "bag": str(path),
                        "goal_index": gi,
                        "start": float(ticks[0]),
                        "end": float(end) if math.isfinite(end) else None,
                        "odom_frame": odom_frame,
                        "base_frame": base_frame,
                        "topics": {r: v["topic"] for r, v in info["topics"].items()},
                    },
                    "import_counts": ec,
                },
            )
        )
    counts["image_not_used"] = int((~used_frames).sum())
    counts["cmd_vel_not_used"] = int((~used_cmd).sum()) if cmd is not None else 0
    if spec is None or problems:
        raise DataError(_listing(path, problems))
    summary = {
        "bag": str(path),
        "body": spec.name,
        "topics": info["topics"],
        "absent_optional_topics": info["absent_optional"],
        "counts": counts,
        "episodes": len(episodes),
        "outcomes": {o: sum(e.outcome == o for e in episodes) for o in _outcomes(episodes)},
        "skipped_episodes": skipped,
        "settings": {
            "control_hz": cfg.control_hz,
            "sync_tolerance": cfg.tolerance,
            "max_gap": cfg.max_gap,
            "timeout": cfg.timeout,
        },
    }
    return episodes, summary


def _outcomes(episodes: list[LogEpisode]) -> list[str]:
    return sorted({e.outcome for e in episodes})


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

    Nothing is written unless the whole bag imports: the episodes are checked first.

    Returns:
        The import summary (also appended to ``meta.json``'s ``imports``), with the indices
        of the written episodes under ``written``.
    """
    cfg = cfg or BagImportConfig()
    episodes, summary = read_bag_episodes(bag, body, cfg, progress)
    writer = LogWriter(out, cfg.control_hz)
    bar = progress_bar(len(episodes), "write", "ep", progress)
    written = []
    for ep in episodes:
        written.append(writer.write(ep))
        bar.update(1)
    bar.close()
    summary["written"] = written
    writer.finish({"source": "rosbag2", "command": command, **summary})
    return summary
