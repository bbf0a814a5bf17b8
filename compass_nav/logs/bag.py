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
import math
from pathlib import Path
from typing import Any

import numpy as np

from compass_nav.contract.body import EmbodimentSpec, get_embodiment
from compass_nav.logs.bag_resample import EPISODE_COUNTS, Resampler, episode_end
from compass_nav.logs.bag_streams import (
    TOPIC_TYPES,
    Event,
    Stream,
    Streams,
    clock_map,
    clock_problems,
    decode_streams,
    goal_events,
    load_frames,
    read_streams,
)
from compass_nav.logs.format import SPLITS, LogEpisode, LogWriter
from compass_nav.utils.errors import ConfigError, DataError
from compass_nav.utils.progress import progress_bar

__all__ = ["TOPIC_TYPES", "BagImportConfig", "BagTopics", "import_bag", "read_bag_episodes"]

#: The body's field of view and the bag's camera_info may differ by this much, degrees.
HFOV_TOLERANCE_DEG = 1.0


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
        clock_tolerance: A stamped stream (depth, odometry, TwistStamped) whose stamps differ
            from the camera's clock, read through receive times, by more than this (median)
            is on another clock: an error, s. Latency between sensors stays well below it.
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
    clock_tolerance: float = 1.0
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
        if not (math.isfinite(self.clock_tolerance) and self.clock_tolerance > 0):
            raise ConfigError(f"clock_tolerance={self.clock_tolerance!r}: must be > 0")
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
class _Plan:
    """One episode as cut from the bag: everything but the decoded frames."""

    cut: dict
    goal: Event
    routes: list[tuple[float, np.ndarray]]
    attrs: dict


def _camera_problems(cam: Stream, spec: EmbodimentSpec, info: dict) -> list[str]:
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


def _limit_problems(s: Streams, spec: EmbodimentSpec) -> list[str]:
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
) -> tuple[list[_Plan], Streams, EmbodimentSpec, dict[str, Any]]:
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
    streams, info = read_streams(path, cfg, problems, progress)
    if "image" not in streams or "odom" not in streams:
        raise DataError(_listing(path, problems))
    image = streams["image"]
    if not np.isfinite(image.stamp).all():
        problems.append(f"{image.topic}: frames without header stamps")
        raise DataError(_listing(path, problems))
    repeats = int((np.diff(image.stamp) <= 0).sum())
    if repeats:
        # the sensor clock comes from the frames' stamps: they must advance
        problems.append(
            f"{image.topic}: {repeats} frame(s) stamped no later than the frame received "
            "before them (a driver that leaves stamps zero or repeats them?)"
        )
        raise DataError(_listing(path, problems))
    clock = clock_map(streams["image"])
    problems.extend(clock_problems(streams, clock, cfg.clock_tolerance))
    if spec is not None and "camera_info" in streams:
        problems.extend(_camera_problems(streams["camera_info"], spec, info))
    s, odom_frame, base_frame = decode_streams(streams, clock, problems)
    if spec is not None:
        problems.extend(_limit_problems(s, spec))
    events = goal_events(
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
        **dict.fromkeys(EPISODE_COUNTS, 0),
    }
    cutter = Resampler(s, cfg)
    plans: list[_Plan] = []
    skipped: list[str] = []
    mismatches: list[str] = []  # a recorder that missed frames at an episode's ends
    for gi, g in enumerate(goals):
        next_goal = goals[gi + 1].t if gi + 1 < len(goals) else math.inf
        end, outcome, outcome_source, reported = episode_end(
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


def _build_episode(path: Path, plan: _Plan, s: Streams, spec: EmbodimentSpec) -> LogEpisode:
    """Second pass for one episode: decode its frames and assemble it."""
    cut = plan.cut
    rgb = np.stack(
        load_frames(path, s.image.topic, [s.image.msgs[j] for j in cut["frame"]], "image")
    )
    dep = None
    if s.depth is not None:
        refs = [s.depth.msgs[d] for d in cut["depth"]]
        dep = np.stack(load_frames(path, s.depth.topic, refs, "depth")).astype(np.float32)
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
