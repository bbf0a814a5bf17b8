"""Start bank: start states cut from logged episodes, to start a never-run policy in imagination.

A start state is what a policy needs to take its first step and what an imagination model
needs to roll forward from it: the first ``F`` camera frames (and depth), the odometry and
commands over them, the goal and the route (odometry frame) and the body. Nothing here
depends on the policy that drove the logged episode except those first frames. One ``.npz``
file (documented in ``docs/LOGS.md``); :func:`build_start_bank` writes it,
:class:`StartBank` reads and validates it and assembles the policy observation of each start
with the navigator's own geometry (:mod:`compass_nav.contract.observation`). Wired in as
``compass-nav logs start-bank`` (:mod:`compass_nav.logs.cli`).
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from compass_nav.contract import spec as task
from compass_nav.contract.body import DESCRIPTOR_FIELDS, EmbodimentSpec, _from_mapping
from compass_nav.contract.observation import (
    build_observation,
    goal_in_robot_frame,
    planned_route,
    straight_route,
)
from compass_nav.logs.format import LogDataset, body_key
from compass_nav.utils.atomic import atomic_open
from compass_nav.utils.errors import ConfigError, DataError
from compass_nav.utils.progress import progress_bar

__all__ = ["BANK_FORMAT", "BANK_VERSION", "StartBank", "build_start_bank"]

BANK_FORMAT = "compass_nav.startbank"
BANK_VERSION = 1
_REQUIRED = ("rgb", "stamp", "odom_pose", "odom_twist", "action", "goal", "embodiment")
_REQUIRED += ("route_points", "route_offsets", "meta")


def build_start_bank(
    logs: str | Path | Sequence[str | Path],
    out: str | Path,
    frames: int = 1,
    splits: Sequence[str] = (),
    robots: Sequence[str] = (),
    max_starts: int = 0,
    progress: bool = True,
) -> dict[str, Any]:
    """Cut one start state from each logged episode and write them to ``out`` (.npz).

    Args:
        logs: One or more log dataset folders.
        out: The bank file (``.npz``; written atomically).
        frames: Context frames F per start (the first F steps).
        splits: Keep only episodes with these split labels (empty: all).
        robots: Keep only episodes of these robots (empty: all).
        max_starts: Keep at most this many starts (0: all), in folder order.
        progress: Show a progress bar.

    Returns:
        A summary: starts, skipped episodes (too short) by folder, bodies.

    Raises:
        ConfigError: ``frames`` < 1 or ``max_starts`` < 0.
        DataError: No episode qualifies, or the episodes' frame sizes or depth differ
            (listed), or a log folder is invalid.
    """
    if frames < 1:
        raise ConfigError(f"frames={frames!r}: must be >= 1")
    if max_starts < 0:
        raise ConfigError(f"max_starts={max_starts!r}: must be >= 0")
    roots = [Path(logs)] if isinstance(logs, (str, Path)) else [Path(p) for p in logs]
    sets = [LogDataset(r) for r in roots]
    total = sum(len(ds) for ds in sets)
    picked: list[tuple[Path, int, Any]] = []
    skipped: list[str] = []
    bar = progress_bar(total, "start bank", "ep", progress)
    for root, ds in zip(roots, sets, strict=True):
        for i in range(len(ds)):
            bar.update(1)
            if max_starts and len(picked) >= max_starts:
                continue
            a = ds.attrs(i)
            if (splits and a.get("split") not in splits) or (
                robots and a.get("robot") not in robots
            ):
                continue
            if int(a.get("length", 0)) < frames:
                skipped.append(
                    f"{root} episode {a.get('index')}: {a.get('length')} < {frames} steps"
                )
                continue
            picked.append((root, i, ds[i]))
    bar.close()
    if not picked:
        raise DataError(
            f"no logged episode qualifies for the start bank (folders {[str(r) for r in roots]}, "
            f"splits {list(splits) or 'any'}, robots {list(robots) or 'any'}, frames {frames})"
        )
    sizes = {tuple(ep.rgb.shape[1:3]) for _, _, ep in picked}
    with_depth = {ep.depth is not None for _, _, ep in picked}
    problems = []
    if len(sizes) > 1:
        problems.append(f"frame sizes differ: {sorted(sizes)}")
    if len(with_depth) > 1:
        problems.append("some episodes have depth frames and some do not")
    if problems:
        raise DataError(
            "cannot build one start bank: " + "; ".join(problems) + " (filter with "
            "--split/--robot or build one bank per camera)"
        )
    F = frames
    arrays: dict[str, np.ndarray] = {
        "rgb": np.stack([ep.rgb[:F] for _, _, ep in picked]),
        "stamp": np.stack([ep.stamp[:F] - ep.stamp[0] for _, _, ep in picked]),
        "odom_pose": np.stack([ep.odom_pose[:F] for _, _, ep in picked]),
        "odom_twist": np.stack([ep.odom_twist[:F] for _, _, ep in picked]),
        "action": np.stack([ep.action[:F] for _, _, ep in picked]),
        "goal": np.stack([ep.goal for _, _, ep in picked]),
        "embodiment": np.stack([ep.body.descriptor() for _, _, ep in picked]),
    }
    if picked[0][2].depth is not None:
        arrays["depth"] = np.stack([ep.depth[:F] for _, _, ep in picked])
    routes = []
    for _, _, ep in picked:
        # the route the robot held at the last context frame, else the first it was given
        # for this goal (a planner's answer may come a little after the goal)
        r = ep.route_at(F - 1)
        given = ep.route_index[ep.route_index >= 0]
        if r is None and given.size:
            r = ep.routes[int(given[0])]
        routes.append(np.zeros((0, 2)) if r is None else np.asarray(r, np.float64))
    arrays["route_points"] = (
        np.concatenate(routes) if any(len(r) for r in routes) else np.zeros((0, 2))
    )
    arrays["route_offsets"] = np.cumsum([0] + [len(r) for r in routes]).astype(np.int64)
    bodies = {body_key(ep.body): ep.body.to_dict() for _, _, ep in picked}
    meta = {
        "format": BANK_FORMAT,
        "version": BANK_VERSION,
        "frames": F,
        "control_hz": float(picked[0][2].attrs["control_hz"]),
        "descriptor_fields": list(DESCRIPTOR_FIELDS),
        "bodies": bodies,
        "starts": [
            {
                "log": str(root),
                "episode": int(ep.attrs["index"]),
                "body": body_key(ep.body),
                "robot": ep.attrs["robot"],
                "split": ep.attrs["split"],
                "source": ep.attrs["source"],
                "logged_outcome": ep.outcome,
            }
            for root, _, ep in picked
        ],
    }
    hz = {float(ep.attrs["control_hz"]) for _, _, ep in picked}
    if len(hz) > 1:
        raise DataError(f"cannot build one start bank: control rates differ: {sorted(hz)}")
    arrays["meta"] = np.array(json.dumps(meta))
    out = Path(out)
    with (
        atomic_open(out, "wb") as fh,
        zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf,
    ):
        for name, value in arrays.items():
            with zf.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, value, allow_pickle=False)
    return {
        "bank": str(out),
        "starts": len(picked),
        "frames": F,
        "image_size": list(picked[0][2].rgb.shape[1:3]),
        "depth": "depth" in arrays,
        "bodies": sorted(bodies),
        "skipped": skipped,
    }


class StartBank:
    """A start bank read back and validated.

    Attributes:
        arrays: ``rgb`` (N,F,H,W,3) uint8, ``depth`` (N,F,H,W) float32 m (when logged),
            ``stamp`` (N,F) s from the first frame, ``odom_pose`` (N,F,3), ``odom_twist``
            (N,F,3), ``action`` (N,F,3), ``goal`` (N,3) odometry frame, ``embodiment`` (N,D).
        meta: ``frames``, ``control_hz``, ``bodies`` (key -> spec), ``starts`` (per start:
            log folder, episode, body key, robot, split, source, logged outcome).
        routes: N arrays (M, 2) odometry frame (M = 0: no route, mapless).

    Raises:
        DataError: Missing or corrupt file, another format or version, missing arrays or
            arrays whose leading sizes disagree (listed).
    """

    def __init__(self, path: str | Path) -> None:
        path = Path(path)
        if not path.is_file():
            raise DataError(f"start bank {path} does not exist")
        try:
            with np.load(path, allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
            raise DataError(f"start bank {path} is corrupt or not an npz file ({exc})") from None
        missing = [k for k in _REQUIRED if k not in arrays]
        if missing:
            raise DataError(f"start bank {path} lacks arrays {missing}")
        try:
            meta = json.loads(str(arrays.pop("meta")[()]))
        except ValueError as exc:
            raise DataError(f"start bank {path}: metadata is corrupt ({exc})") from None
        if meta.get("format") != BANK_FORMAT or meta.get("version") != BANK_VERSION:
            raise DataError(
                f"start bank {path}: format {meta.get('format')!r} version "
                f"{meta.get('version')!r}, expected {BANK_FORMAT!r} version {BANK_VERSION}"
            )
        n = arrays["rgb"].shape[0]
        F = int(meta.get("frames", 0))
        problems = [
            f"{k} has {v.shape[0]} rows, rgb has {n}"
            for k, v in arrays.items()
            if k not in ("route_points", "route_offsets") and v.shape[0] != n
        ]
        problems += [
            f"{k} has {v.shape[1]} frames, expected {F}"
            for k, v in arrays.items()
            if k in ("rgb", "depth", "stamp", "odom_pose", "odom_twist", "action")
            and v.shape[1] != F
        ]
        off = arrays["route_offsets"]
        if off.shape != (n + 1,) or off[-1] != len(arrays["route_points"]):
            problems.append("route_offsets do not match route_points")
        if len(meta.get("starts", [])) != n:
            problems.append(f"metadata lists {len(meta.get('starts', []))} starts, arrays {n}")
        if problems:
            raise DataError(f"start bank {path}: " + "; ".join(problems))
        self.path, self.arrays, self.meta = path, arrays, meta
        self.routes = [arrays["route_points"][off[i] : off[i + 1]] for i in range(n)]

    def __len__(self) -> int:
        return int(self.arrays["rgb"].shape[0])

    def body(self, i: int) -> EmbodimentSpec:
        """The body of start ``i``."""
        key = self.meta["starts"][i]["body"]
        return _from_mapping(self.meta["bodies"][key], f"{self.path}: bodies.{key}")

    def observation(
        self,
        i: int,
        route_points: int = task.ROUTE_POINTS,
        route_spacing: float = task.ROUTE_SPACING_M,
    ) -> dict[str, np.ndarray]:
        """The batch-of-one policy observation at start ``i``'s last context frame.

        Goal and route in the robot frame, computed from the logged odometry pose with the
        navigator's geometry (planned route when the start has one, else mapless).
        """
        a = self.arrays
        pose, goal = a["odom_pose"][i, -1], a["goal"][i]
        route = self.routes[i]
        if len(route):
            r, _ = planned_route(route, pose, goal, route_points, route_spacing)
        else:
            r = straight_route(pose, goal, route_points, route_spacing)
        depth = a["depth"][i, -1] if "depth" in a else None
        return build_observation(
            a["rgb"][i, -1],
            depth,
            a["odom_twist"][i, -1],
            r,
            goal_in_robot_frame(pose, goal),
            a["embodiment"][i],
        )

    def observations(
        self,
        indices: Sequence[int] | None = None,
        route_points: int = task.ROUTE_POINTS,
        route_spacing: float = task.ROUTE_SPACING_M,
    ) -> dict[str, np.ndarray]:
        """The observations of several starts as one batch (N, ...), in ``indices`` order.

        A policy's first step from the bank: ``policy.act(bank.observations(ix), start)``.
        """
        ix = range(len(self)) if indices is None else indices
        rows = [self.observation(int(i), route_points, route_spacing) for i in ix]
        if not rows:
            raise ConfigError("observations: no start indices given")
        return {k: np.concatenate([r[k] for r in rows]) for k in rows[0]}
