"""The robot-log dataset format: what a robot's log holds, resampled to the control rate.

One folder, a ``meta.json`` and one ``.npz`` per episode, written with the demonstrations'
machinery (:func:`compass_nav.data.format.write_episode`: atomic, deflated, one ``.npy``
member per array, JSON attributes). Unlike the demonstrations it holds only what a robot
logs: camera frames, odometry (odometry-frame pose, body-frame velocity), the commands, the
goal and route in the odometry frame, the body (by content) and labels saying how each
outcome was determined. Nothing from a simulator's map, planner, grid or actuator model.

Writers: :mod:`compass_nav.logs.bag` (rosbag2) and :mod:`compass_nav.logs.sim` (simulator
rollouts) build :class:`LogEpisode` objects and call :func:`LogWriter.write`; readers use
:class:`LogDataset`. ``docs/LOGS.md`` documents the layout field by field; keep the two in
step.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from compass_nav.contract.body import DESCRIPTOR_FIELDS, EmbodimentSpec, _from_mapping
from compass_nav.data import format as demo_fmt
from compass_nav.utils.atomic import atomic_write_json
from compass_nav.utils.errors import ConfigError, DataError

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "OUTCOMES",
    "SOURCES",
    "SPLITS",
    "LogDataset",
    "LogEpisode",
    "LogWriter",
    "body_key",
    "read_log_meta",
]

FORMAT_NAME = "compass_nav.logs"
FORMAT_VERSION = 1
META_FILE = "meta.json"
#: Outcome labels. ``aborted``: a new goal (or a cancel/reset) ended the episode before it was
#: judged; ``unknown``: the log ends first, or nothing in it says how the episode ended.
OUTCOMES = ("success", "collision", "timeout", "aborted", "unknown")
SOURCES = ("rosbag2", "sim")
SPLITS = ("train", "validation", "heldout", "test", "unlabelled")

#: Per-step arrays (leading axis T): name -> (dtype, trailing shape; None = image-sized).
STEP_ARRAYS: dict[str, tuple[str, tuple | None]] = {
    "stamp": ("float64", ()),
    "rgb": ("uint8", None),
    "depth": ("float32", None),
    "odom_pose": ("float64", (3,)),
    "odom_twist": ("float32", (3,)),
    "action": ("float32", (3,)),
    "route_index": ("int32", ()),
}
#: Per-episode arrays (no time axis).
EPISODE_ARRAYS: dict[str, tuple[str, tuple | None]] = {
    "goal": ("float64", (3,)),
    "route_points": ("float64", None),  # (P, 2)
    "route_offsets": ("int64", None),  # (R + 1,)
    "route_stamps": ("float64", None),  # (R,)
    "embodiment": ("float32", (len(DESCRIPTOR_FIELDS),)),
}
OPTIONAL_ARRAYS = ("depth",)
#: Attributes every episode carries (JSON).
ATTR_KEYS = (
    "index",
    "length",
    "source",
    "robot",
    "body",
    "split",
    "control_hz",
    "outcome",
    "outcome_source",
    "origin",
    "import_counts",
)


def body_key(spec: EmbodimentSpec) -> str:
    """The body's identity by content: ``<name>-<first 12 hex of sha256(spec JSON)>``.

    Two bodies that share a name but differ in any field (a camera moved, a limit changed)
    get different keys, so a log never silently mixes them.
    """
    text = json.dumps(spec.to_dict(), sort_keys=True, separators=(",", ":"))
    return f"{spec.name}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"


@dataclasses.dataclass
class LogEpisode:
    """One logged episode at the control rate (T steps, step t at ``stamp[t]``).

    Step t holds the observation at ``stamp[t]`` (frame, odometry) and the command the robot
    received in response to it (in ``[stamp[t], stamp[t+1])``).

    Attributes:
        stamp: (T,) float64 s, the sensor clock (header stamps), ``stamp[0] + t / control_hz``.
        rgb: (T, H, W, 3) uint8 camera frames, row 0 = top.
        depth: (T, H, W) float32 m, 0 = no return; None when the robot has no depth camera.
        odom_pose: (T, 3) float64 (x, y, yaw) of the body in the odometry frame.
        odom_twist: (T, 3) float32 body-frame (vx, vy, wz), m/s and rad/s.
        action: (T, 3) float32 commanded (vx, vy, wz).
        goal: (3,) float64 goal (x, y, yaw) in the odometry frame.
        routes: Route versions, each (M, 2) float64 odometry-frame waypoints, in the order the
            robot received them.
        route_stamps: (R,) float64 s, when each version arrived (sensor clock).
        route_index: (T,) int32, the version in effect at step t (-1: none yet: mapless).
        body: The body (:class:`EmbodimentSpec`).
        attrs: ``source``, ``robot``, ``split``, ``control_hz``, ``outcome``,
            ``outcome_source``, ``origin`` (dict), ``import_counts`` (dict), and after
            reading also ``index``, ``length``, ``body`` (the key).
    """

    stamp: np.ndarray
    rgb: np.ndarray
    depth: np.ndarray | None
    odom_pose: np.ndarray
    odom_twist: np.ndarray
    action: np.ndarray
    goal: np.ndarray
    routes: list[np.ndarray]
    route_stamps: np.ndarray
    route_index: np.ndarray
    body: EmbodimentSpec
    attrs: dict[str, Any]

    @property
    def length(self) -> int:
        """T, the number of control steps."""
        return int(self.stamp.shape[0])

    @property
    def outcome(self) -> str:
        """One of :data:`OUTCOMES`."""
        return str(self.attrs.get("outcome", "unknown"))

    def route_at(self, t: int) -> np.ndarray | None:
        """The route (M, 2) odometry frame in effect at step t, or None (mapless)."""
        i = int(self.route_index[t])
        return None if i < 0 else self.routes[i]

    def problems(self) -> list[str]:
        """Everything wrong with the episode's arrays and labels (empty when valid)."""
        return _episode_problems(self)


def _episode_problems(ep: LogEpisode) -> list[str]:
    out: list[str] = []
    T = ep.length
    if T < 1:
        return ["the episode has no steps"]

    def check(name: str, arr, dtype: str, shape: tuple) -> None:
        if arr is None:
            out.append(f"{name} is missing")
            return
        a = np.asarray(arr)
        if a.dtype != np.dtype(dtype):
            out.append(f"{name} has dtype {a.dtype}, expected {dtype}")
        if a.shape != shape:
            out.append(f"{name} has shape {a.shape}, expected {shape}")
        elif a.dtype.kind == "f" and not np.isfinite(a).all():
            out.append(f"{name} holds NaN or inf")

    if ep.rgb is None or np.ndim(ep.rgb) != 4 or np.shape(ep.rgb)[-1] != 3:
        out.append(f"rgb must be (T, H, W, 3), got shape {np.shape(ep.rgb)}")
        H = W = 0
    else:
        H, W = ep.rgb.shape[1:3]
        check("rgb", ep.rgb, "uint8", (T, H, W, 3))
    if ep.depth is not None:
        check("depth", ep.depth, "float32", (T, H, W))
        if np.asarray(ep.depth).dtype.kind == "f" and (np.asarray(ep.depth) < 0).any():
            out.append("depth holds negative values")
    check("stamp", ep.stamp, "float64", (T,))
    check("odom_pose", ep.odom_pose, "float64", (T, 3))
    check("odom_twist", ep.odom_twist, "float32", (T, 3))
    check("action", ep.action, "float32", (T, 3))
    check("goal", ep.goal, "float64", (3,))
    check("route_index", ep.route_index, "int32", (T,))
    if T > 1 and np.asarray(ep.stamp).shape == (T,) and not (np.diff(ep.stamp) > 0).all():
        out.append("stamp is not strictly increasing")
    R = len(ep.routes)
    if np.shape(ep.route_stamps) != (R,):
        out.append(f"route_stamps has shape {np.shape(ep.route_stamps)}, expected ({R},)")
    for i, r in enumerate(ep.routes):
        r = np.asarray(r)
        if r.ndim != 2 or r.shape[1] != 2 or r.shape[0] < 1:
            out.append(f"route {i} has shape {r.shape}, expected (M >= 1, 2)")
        elif not np.isfinite(r).all():
            out.append(f"route {i} holds NaN or inf")
    ri = np.asarray(ep.route_index)
    if ri.shape == (T,) and ((ri < -1) | (ri >= R)).any():
        out.append(f"route_index has values outside [-1, {R - 1}]")
    hz = ep.attrs.get("control_hz")
    if not isinstance(hz, (int, float)) or not math.isfinite(hz) or hz <= 0:
        out.append(f"control_hz={hz!r}: must be a positive number")
    elif T > 1 and np.asarray(ep.stamp).shape == (T,):
        step = np.diff(np.asarray(ep.stamp, np.float64))
        if not np.allclose(step, 1.0 / hz, rtol=0.0, atol=1e-6):
            out.append(
                f"stamp steps range over [{step.min():.6g}, {step.max():.6g}] s, expected "
                f"one control period 1/control_hz = {1.0 / hz:.6g} s"
            )
    for key, allowed in (("outcome", OUTCOMES), ("source", SOURCES), ("split", SPLITS)):
        if ep.attrs.get(key) not in allowed:
            out.append(f"{key}={ep.attrs.get(key)!r}: must be one of {', '.join(allowed)}")
    for key in ("robot", "outcome_source"):
        if not isinstance(ep.attrs.get(key), str) or not ep.attrs.get(key):
            out.append(f"{key}={ep.attrs.get(key)!r}: must be a non-empty string")
    for key in ("origin", "import_counts"):
        if not isinstance(ep.attrs.get(key), dict):
            out.append(f"{key} must be a mapping")
    if not isinstance(ep.body, EmbodimentSpec):
        out.append(f"body must be an EmbodimentSpec, got {type(ep.body).__name__}")
    return out


def _new_meta(control_hz: float) -> dict[str, Any]:
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "created": now,
        "control_hz": float(control_hz),
        "descriptor_fields": list(DESCRIPTOR_FIELDS),
        "bodies": {},
        "imports": [],
        "counts": {},
    }


def read_log_meta(root: str | Path) -> dict[str, Any]:
    """Read and validate ``meta.json`` of log dataset ``root``.

    Raises:
        DataError: The folder or file is missing or corrupt, another format or version, or
            a body entry that is not a valid embodiment spec.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"log dataset folder {root} does not exist")
    path = root / META_FILE
    if not path.is_file():
        raise DataError(f"{path} is missing: {root} is not a log dataset")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path} is corrupt ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise DataError(f"{path}: format={found!r}, expected {FORMAT_NAME!r}")
    if meta.get("version") != FORMAT_VERSION:
        raise DataError(
            f"{path}: format version={meta.get('version')!r}, this code reads version "
            f"{FORMAT_VERSION}"
        )
    problems = [f"'{k}' is missing" for k in ("control_hz", "bodies", "imports") if k not in meta]
    if meta.get("descriptor_fields", list(DESCRIPTOR_FIELDS)) != list(DESCRIPTOR_FIELDS):
        problems.append(
            f"descriptor_fields={meta.get('descriptor_fields')} differ from this code's "
            f"{list(DESCRIPTOR_FIELDS)}"
        )
    for key, spec in dict(meta.get("bodies") or {}).items():
        try:
            body = _from_mapping(spec, f"{path}: bodies.{key}")
        except ConfigError as exc:
            problems.append(str(exc))
            continue
        if body_key(body) != key:
            problems.append(f"bodies.{key}: its content hashes to {body_key(body)!r}")
    if problems:
        raise DataError(f"{path}: " + "; ".join(problems))
    return meta


class LogWriter:
    """Appends episodes to a log dataset folder (created if new).

    Args:
        root: The folder.
        control_hz: Control rate of the episodes; an existing folder must have the same.
        compress: Deflate episode files.
    """

    def __init__(self, root: str | Path, control_hz: float, compress: bool = True) -> None:
        self.root = Path(root)
        self.compress = compress
        if self.root.exists() and not self.root.is_dir():
            raise DataError(f"{self.root} exists and is not a folder")
        if (self.root / META_FILE).exists():
            self.meta = read_log_meta(self.root)
            if not math.isclose(self.meta["control_hz"], control_hz, rel_tol=1e-9):
                raise DataError(
                    f"{self.root} holds episodes at control_hz={self.meta['control_hz']}; "
                    f"cannot add episodes at {control_hz} Hz"
                )
        else:
            if self.root.is_dir() and any(self.root.iterdir()):
                raise DataError(f"{self.root} is not empty and not a log dataset")
            self.meta = _new_meta(control_hz)
        demo_fmt.episodes_dir(self.root).mkdir(parents=True, exist_ok=True)
        for tmp in demo_fmt.list_temp_files(self.root):
            tmp.unlink(missing_ok=True)
        files = demo_fmt.list_episode_files(self.root)
        self.next_index = files[-1][0] + 1 if files else 0
        demo_fmt.write_meta(self.root, self.meta)

    def write(self, ep: LogEpisode) -> int:
        """Validate and write one episode; returns its index.

        Raises:
            DataError: Listing every problem of the episode (a writer bug or bad input).
        """
        problems = ep.problems()
        if not math.isclose(float(ep.attrs.get("control_hz", 0)), self.meta["control_hz"]):
            problems.append(
                f"control_hz={ep.attrs.get('control_hz')} differs from the dataset's "
                f"{self.meta['control_hz']}"
            )
        if problems:
            raise DataError("episode not written: " + "; ".join(problems))
        index = self.next_index
        key = body_key(ep.body)
        self.meta["bodies"].setdefault(key, ep.body.to_dict())
        offsets = np.cumsum([0] + [len(r) for r in ep.routes]).astype(np.int64)
        points = (
            np.concatenate([np.asarray(r, np.float64) for r in ep.routes])
            if ep.routes
            else np.zeros((0, 2))
        )
        steps = {
            "stamp": ep.stamp,
            "rgb": ep.rgb,
            "odom_pose": ep.odom_pose,
            "odom_twist": ep.odom_twist,
            "action": ep.action,
            "route_index": ep.route_index,
        }
        if ep.depth is not None:
            steps["depth"] = ep.depth
        arrays = {
            "goal": ep.goal,
            "route_points": points,
            "route_offsets": offsets,
            "route_stamps": np.asarray(ep.route_stamps, np.float64),
            "embodiment": ep.body.descriptor(),
        }
        attrs = {k: v for k, v in ep.attrs.items() if k not in ("index", "length", "body")}
        attrs.update(index=index, length=ep.length, body=key)
        # meta first: an episode file never names a body meta.json lacks
        demo_fmt.write_meta(self.root, self.meta)
        demo_fmt.write_episode(
            demo_fmt.episode_path(self.root, index), steps, arrays, attrs, self.compress
        )
        self.next_index += 1
        return index

    def remove(self, indices: list[int]) -> None:
        """Delete episodes this writer wrote (an import that failed half-way)."""
        for i in indices:
            demo_fmt.episode_path(self.root, i).unlink(missing_ok=True)
        files = demo_fmt.list_episode_files(self.root)
        self.next_index = files[-1][0] + 1 if files else 0
        self.meta["counts"] = LogDataset(self.root, meta=self.meta).summary()
        atomic_write_json(self.root / META_FILE, self.meta)

    def finish(self, record: Mapping[str, Any]) -> None:
        """Append one import's summary to ``meta.imports`` and refresh ``meta.counts``."""
        self.meta["imports"].append(dict(record))
        self.meta["counts"] = LogDataset(self.root, meta=self.meta).summary()
        atomic_write_json(self.root / META_FILE, self.meta)


def _episode_from_members(
    path: Path, steps: dict, arrays: dict, attrs: dict, bodies: Mapping[str, Any]
) -> LogEpisode:
    problems = [f"array '{k}' is missing" for k in STEP_ARRAYS if k not in steps]
    problems += [f"array '{k}' is missing" for k in EPISODE_ARRAYS if k not in arrays]
    problems = [p for p in problems if "'depth'" not in p]
    problems += [f"attribute '{k}' is missing" for k in ATTR_KEYS if k not in attrs]
    key = attrs.get("body")
    if key not in bodies:
        problems.append(f"body={key!r} is not among meta.json's bodies {sorted(bodies)}")
    if problems:
        raise DataError(f"episode file {path}: " + "; ".join(problems))
    body = _from_mapping(bodies[key], f"bodies.{key}")
    offsets = np.asarray(arrays["route_offsets"])
    points = np.asarray(arrays["route_points"])
    if offsets.ndim != 1 or offsets.size < 1 or offsets[-1] != len(points):
        raise DataError(f"episode file {path}: route_offsets do not match route_points")
    routes = [points[offsets[i] : offsets[i + 1]] for i in range(len(offsets) - 1)]
    ep = LogEpisode(
        stamp=steps["stamp"],
        rgb=steps["rgb"],
        depth=steps.get("depth"),
        odom_pose=steps["odom_pose"],
        odom_twist=steps["odom_twist"],
        action=steps["action"],
        goal=arrays["goal"],
        routes=routes,
        route_stamps=arrays["route_stamps"],
        route_index=steps["route_index"],
        body=body,
        attrs=attrs,
    )
    problems = ep.problems()
    if not np.allclose(arrays["embodiment"], body.descriptor()):
        problems.append("the stored descriptor differs from the body's")
    if problems:
        raise DataError(f"episode file {path}: " + "; ".join(problems))
    return ep


class LogDataset:
    """Read access to a log dataset folder.

    ``len(ds)``, ``ds[i]`` (a validated :class:`LogEpisode`), iteration, ``ds.attrs(i)``
    (attributes only), ``ds.summary()``.

    Args:
        root: The folder.
        meta: Its already-read ``meta.json`` (read and validated when None).
        where: Keep only episodes whose attributes take one of the given values, e.g.
            ``{"split": ["train"], "source": ["rosbag2"]}`` (reads each file's attributes).

    Raises:
        DataError: On a missing/corrupt folder or episode file, naming it and listing every
            problem found in it.
    """

    def __init__(
        self,
        root: str | Path,
        meta: dict[str, Any] | None = None,
        where: Mapping[str, Any] | None = None,
    ) -> None:
        self.root = Path(root)
        self.meta = meta if meta is not None else read_log_meta(self.root)
        self.paths = [p for _, p in demo_fmt.list_episode_files(self.root)]
        if where:
            unknown = sorted(set(where) - set(ATTR_KEYS))
            if unknown:
                raise ConfigError(f"where: unknown attribute(s) {unknown}; known: {ATTR_KEYS}")
            keep = {k: list(v) for k, v in where.items()}

            def wanted(path: Path) -> bool:
                attrs = demo_fmt.read_episode_attrs(path)
                return all(attrs.get(k) in v for k, v in keep.items())

            self.paths = [p for p in self.paths if wanted(p)]

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> LogEpisode:
        path = self.paths[i]
        steps, arrays, attrs = _read_members(path)
        return _episode_from_members(path, steps, arrays, attrs, self.meta["bodies"])

    def __iter__(self) -> Iterator[LogEpisode]:
        for i in range(len(self)):
            yield self[i]

    def attrs(self, i: int) -> dict[str, Any]:
        """Attributes of episode ``i`` (one small zip member)."""
        return demo_fmt.read_episode_attrs(self.paths[i])

    def summary(self) -> dict[str, Any]:
        """Counts: episodes, steps, seconds, by outcome, source, robot, body and split."""
        out: dict[str, Any] = {"episodes": 0, "steps": 0, "seconds": 0.0}
        groups = ("outcome", "source", "robot", "body", "split")
        for g in groups:
            out[f"by_{g}"] = {}
        depth = 0
        for i in range(len(self)):
            a = self.attrs(i)
            out["episodes"] += 1
            out["steps"] += int(a.get("length", 0))
            out["seconds"] += int(a.get("length", 0)) / float(a.get("control_hz", 1.0))
            depth += "depth" in a.get("step_keys", [])
            for g in groups:
                v = str(a.get(g))
                out[f"by_{g}"][v] = out[f"by_{g}"].get(v, 0) + 1
        out["seconds"] = round(out["seconds"], 3)
        out["with_depth"] = depth
        return out


def _read_members(path: Path) -> tuple[dict, dict, dict]:
    """(per-step arrays, per-episode arrays, attributes) of one file, no demos checks."""
    with demo_fmt._open_npz(path) as npz:
        attrs = demo_fmt._attrs_from(npz, path)
        step_keys = set(attrs.get("step_keys", []))
        steps, arrays = {}, {}
        try:
            for name in npz.files:
                if name != demo_fmt._ATTRS_MEMBER:
                    (steps if name in step_keys else arrays)[name] = npz[name]
        except (OSError, ValueError, EOFError) as exc:
            raise DataError(f"episode file {path} is corrupt ({exc})") from None
    attrs.pop("step_keys", None)
    return steps, arrays, attrs
