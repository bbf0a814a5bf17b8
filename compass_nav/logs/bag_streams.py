"""Reading a rosbag2 file for the log importer: topics, clocks, frames and events.

:func:`read_streams` reads every topic the importer uses in one pass (pixels stay encoded:
frames are kept as :class:`FrameRef` and decoded by :func:`load_frames` when their episode is
written), :func:`clock_map` puts receive times on the sensor clock, :func:`decode_streams`
decodes odometry, commands and routes, :func:`goal_events` the goals and status messages.
Used by :mod:`compass_nav.logs.bag`; the rules are in ``docs/LOGS.md``.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from compass_nav.contract.geometry import wrap_angle
from compass_nav.logs import decode
from compass_nav.utils.errors import CompassNavError, DataError
from compass_nav.utils.progress import progress_bar

if TYPE_CHECKING:
    from compass_nav.logs.bag import BagImportConfig

__all__ = [
    "REQUIRED_ROLES",
    "TOPIC_TYPES",
    "Event",
    "FrameRef",
    "Stream",
    "Streams",
    "clock_map",
    "clock_problems",
    "decode_streams",
    "goal_events",
    "load_frames",
    "open_reader",
    "read_streams",
]

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

#: Streams a bag must have (depth too with ``require_depth``).
REQUIRED_ROLES = ("image", "odom", "cmd_vel", "goal")


@dataclasses.dataclass(frozen=True)
class FrameRef:
    """Where a camera or depth frame sits in the bag.

    Its receive time and, among messages of its topic received in the same nanosecond, its
    rank. Frames are decoded only when an episode is built (a second pass over the episode's
    time range), so a long bag of large frames never sits in memory whole.
    """

    t_ns: int
    rank: int


@dataclasses.dataclass
class Stream:
    """One topic's messages in receive order: receive times, stamps (sensor clock), payloads."""

    topic: str
    msgtype: str
    recv: np.ndarray  # (n,) float64 s, receive (log) time
    stamp: np.ndarray  # (n,) float64 s, header stamp, or receive time mapped to the clock
    msgs: list

    def __len__(self) -> int:
        return len(self.msgs)


def open_reader(path: Path):
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


def read_streams(
    path: Path, cfg: BagImportConfig, problems: list[str], progress: bool
) -> tuple[dict[str, Stream], dict[str, Any]]:
    """Every used topic's messages; appends missing/mistyped topics to ``problems``."""
    reader = open_reader(path)
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
                msgs.append(FrameRef(int(t_ns), rank))
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
        streams[role] = Stream(
            topic,
            info["topics"][role]["type"],
            np.asarray(recv, np.float64)[order],
            np.asarray(stamps, np.float64)[order],
            [msgs[i] for i in order],
        )
    return streams, info


def load_frames(path: Path, topic: str, refs: list[FrameRef], role: str) -> list[np.ndarray]:
    """Decode the frames ``refs`` of ``topic`` (one pass over their time range)."""
    if not refs:
        return []
    where: dict[tuple[int, int], list[int]] = {}
    for i, r in enumerate(refs):  # a held frame appears at several steps
        where.setdefault((r.t_ns, r.rank), []).append(i)
    out: list[np.ndarray | None] = [None] * len(refs)
    reader = open_reader(path)
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


def clock_map(image: Stream) -> Callable[[np.ndarray], np.ndarray]:
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


def sort_by_stamp(s: Stream) -> Stream:
    order = np.argsort(s.stamp, kind="stable")
    return Stream(s.topic, s.msgtype, s.recv[order], s.stamp[order], [s.msgs[i] for i in order])


@dataclasses.dataclass
class Event:
    t: float  # sensor clock
    kind: str  # goal | episode_status | goal_status | collision
    value: Any


def frame_pose(
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


def to_odom(pose: np.ndarray, xy: np.ndarray) -> np.ndarray:
    c, s = math.cos(pose[2]), math.sin(pose[2])
    return np.stack(
        [pose[0] + c * xy[:, 0] - s * xy[:, 1], pose[1] + s * xy[:, 0] + c * xy[:, 1]], 1
    )


def goal_events(streams, clock, problems, odom_frame, base_frame, odom_t, odom_pose):
    events: list[Event] = []
    g = streams.get("goal")
    if g is not None:
        t_goal = clock(g.recv)
        for t, msg in zip(t_goal, g.msgs, strict=True):
            try:
                xyyaw = decode.pose_xyyaw(msg.pose, "goal pose")
            except CompassNavError as exc:
                problems.append(f"{g.topic} at t={t:.3f}: {exc}")
                continue
            pose, err = frame_pose(
                msg.header.frame_id, odom_frame, base_frame, t, odom_t, odom_pose, "goal"
            )
            if err:
                problems.append(f"{g.topic} at t={t:.3f}: {err} (no tf lookups here)")
                continue
            if pose is not None:
                xy = to_odom(pose, xyyaw[None, :2])[0]
                xyyaw = np.array([xy[0], xy[1], float(wrap_angle(np.float64(pose[2] + xyyaw[2])))])
            events.append(Event(float(t), "goal", xyyaw))
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
            events.append(Event(float(t), role, data if isinstance(data, dict) else {}))
    s = streams.get("collision")
    if s is not None:
        t_c = np.where(np.isfinite(s.stamp), s.stamp, clock(s.recv))
        for t, msg in zip(t_c, s.msgs, strict=True):
            if bool(msg.data):
                events.append(Event(float(t), "collision", True))
    events.sort(key=lambda e: e.t)
    return events


@dataclasses.dataclass
class Streams:
    """A bag's streams on the sensor clock, decoded where it is cheap (everything but frames)."""

    image: Stream
    depth: Stream | None
    odom: Stream
    odom_pose: np.ndarray  # (n, 3)
    odom_twist: np.ndarray  # (n, 3)
    cmd_topic: str
    cmd_t: np.ndarray  # (m,) sensor clock
    cmd_v: np.ndarray  # (m, 3)
    cmd_answer: np.ndarray  # (m,) bool: a TwistStamped carrying a frame's stamp
    routes: list[tuple[float, np.ndarray]]


def clock_problems(streams: dict[str, Stream], clock, tolerance: float) -> list[str]:
    """Stamped streams on another clock than the camera's (compared through receive times)."""
    out = []
    for role in ("depth", "odom", "cmd_vel"):
        s = streams.get(role)
        if s is None:
            continue
        stamped = np.isfinite(s.stamp) & (s.stamp > 0)  # zero: a TwistStamped stop
        if not stamped.any():
            continue
        offset = float(np.median(s.stamp[stamped] - clock(s.recv[stamped])))
        if abs(offset) > tolerance:
            out.append(
                f"{s.topic}: stamps differ from {streams['image'].topic}'s by a median of "
                f"{offset:+.3f} s (received together, stamped apart): another clock? "
                f"(clock_tolerance {tolerance:g} s)"
            )
    return out


def decode_streams(
    streams: dict[str, Stream], clock, problems: list[str]
) -> tuple[Streams, str, str]:
    """Sorted, decoded streams (odometry, commands, routes); (streams, odom frame, base frame)."""
    image = sort_by_stamp(streams["image"])
    odom = sort_by_stamp(streams["odom"])
    depth = sort_by_stamp(streams["depth"]) if "depth" in streams else None
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
            at, err = frame_pose(
                msg.header.frame_id, odom_frame, base_frame, t, odom.stamp, pose, "route"
            )
            if err:
                problems.append(f"{r.topic} at t={t:.3f}: {err}")
                continue
            routes.append((float(t), pts if at is None else to_odom(at, pts)))
    s = Streams(
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
