"""The on-disk demonstrations format: one folder, a ``meta.json`` and one ``.npz`` per episode.

This module is the single place that knows file names, the format version, which arrays are
per-step and which per-episode, and how an episode is written (atomically) and read back
(with :class:`~compass_nav.utils.errors.DataError` naming the bad file). The recorder
(:mod:`compass_nav.data.recorder`) writes through :func:`write_episode` and
:func:`write_meta`; the reader (:mod:`compass_nav.data.dataset`) reads through
:func:`read_meta`, :func:`read_episode` and :func:`read_episode_attrs`. The layout is
documented field by field in ``docs/DATASET.md``; keep the two in step.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from compass_nav.utils.atomic import atomic_open, atomic_write_json
from compass_nav.utils.errors import DataError

__all__ = [
    "ATTR_KEYS",
    "EPISODE_ARRAY_KEYS",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "META_FILE",
    "STEP_KEYS",
    "episode_path",
    "list_episode_files",
    "list_temp_files",
    "read_episode",
    "read_episode_attrs",
    "read_meta",
    "write_episode",
    "write_meta",
]

FORMAT_NAME = "compass_nav.demos"
FORMAT_VERSION = 1
META_FILE = "meta.json"
EPISODES_DIR = "episodes"
_ATTRS_MEMBER = "attrs"  # 0-d unicode array holding the episode's JSON attributes
#: zlib level of compressed episodes: level 1 is ~2.5x faster to write than numpy's default
#: (6) and only ~4% larger on camera frames (measured in docs/DATASET.md).
COMPRESS_LEVEL = 1
_EPISODE_RE = re.compile(r"^ep_(\d{6,})\.npz$")

#: Per-step arrays every episode holds (rgb/depth only when the simulator rendered them).
STEP_KEYS: tuple[str, ...] = (
    "rgb",  # (T,H,W,3) uint8
    "depth",  # (T,H,W) float16, metres
    "speed",  # (T,3) float32, body (vx, vy, wz)
    "route",  # (T,K,2) float32, robot frame, the env's route mode
    "route_mapless",  # (T,K,2) float32, robot frame, straight line to the goal
    "goal",  # (T,3) float32, robot frame (x, y, yaw)
    "pose",  # (T,3) float32, world (x, y, yaw): privileged, for analysis only
    "action",  # (T,3) float32, executed (clipped) command
    "prev_action",  # (T,3) float32, previous executed command (0 at t=0)
    "reward",  # (T,) float32
    "terminated",  # (T,) bool
    "truncated",  # (T,) bool
)
#: Arrays that are not per step (no leading T axis).
EPISODE_ARRAY_KEYS: tuple[str, ...] = (
    "embodiment",  # (D,) float32 descriptor
    "final_rgb",  # (H,W,3) the observation returned with the episode's last step
    "final_depth",
    "final_speed",
    "final_route",
    "final_route_mapless",
    "final_goal",
    "final_pose",
)
_REQUIRED_STEP_KEYS = (
    "speed",
    "route",
    "goal",
    "action",
    "prev_action",
    "reward",
    "terminated",
    "truncated",
)
#: Scalar attributes stored as JSON inside every episode file.
ATTR_KEYS: tuple[str, ...] = (
    "index",
    "embodiment_name",
    "family",
    "scene_seed",
    "policy",
    "length",
    "success",
    "collision",
    "timeout",
    "spl",
    "ref_length",
    "path_length",
    "return",
    "env_slot",
    "seed_key",
    "start_pose",
    "goal_pose",
)


def episodes_dir(root: str | Path) -> Path:
    """Folder holding the episode files of dataset ``root``."""
    return Path(root) / EPISODES_DIR


def episode_path(root: str | Path, index: int) -> Path:
    """Path of episode ``index`` (``episodes/ep_NNNNNN.npz``)."""
    return episodes_dir(root) / f"ep_{index:06d}.npz"


def list_episode_files(root: str | Path) -> list[tuple[int, Path]]:
    """Finished episode files of ``root`` as ``(index, path)``, sorted by index.

    Temporary files of interrupted writes (``.ep_*.tmp``) never match: only a completed
    ``os.replace`` produces a name this lists.
    """
    folder = episodes_dir(root)
    if not folder.is_dir():
        return []
    found = []
    for p in folder.iterdir():
        m = _EPISODE_RE.match(p.name)
        if m and p.is_file():
            found.append((int(m.group(1)), p))
    return sorted(found)


def list_temp_files(root: str | Path) -> list[Path]:
    """Leftover temporary files of writes interrupted by a kill."""
    folder = episodes_dir(root)
    if not folder.is_dir():
        return []
    return sorted(
        p for p in folder.iterdir() if p.name.startswith(".") and p.name.endswith(".tmp")
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def write_episode(
    path: str | Path,
    steps: Mapping[str, np.ndarray],
    episode_arrays: Mapping[str, np.ndarray],
    attrs: Mapping[str, Any],
    compress: bool = True,
) -> None:
    """Write one episode atomically (temp file in the same folder, then ``os.replace``).

    Args:
        path: Final file name (``episode_path(root, index)``).
        steps: Per-step arrays, each with leading axis T (the standard :data:`STEP_KEYS`
            plus any extras such as ``policy_state``).
        episode_arrays: Arrays without a time axis (``embodiment``, ``final_*``).
        attrs: JSON-serialisable scalars (:data:`ATTR_KEYS` and any extras).
        compress: Deflate members (zlib level :data:`COMPRESS_LEVEL`) when True, store them
            otherwise. Either way the file is an ordinary ``.npz`` that ``np.load`` reads.

    Raises:
        ValueError: If step arrays disagree on T or a name is used twice (a recorder bug).
    """
    lengths = {k: int(np.shape(v)[0]) for k, v in steps.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"per-step arrays disagree on the episode length: {lengths}")
    clash = (set(steps) & set(episode_arrays)) | (
        {_ATTRS_MEMBER} & (set(steps) | set(episode_arrays))
    )
    if clash:
        raise ValueError(f"array names used twice or reserved: {sorted(clash)}")
    members = {
        **{k: np.asarray(v) for k, v in steps.items()},
        **{k: np.asarray(v) for k, v in episode_arrays.items()},
    }
    payload = {k: _jsonable(v) for k, v in attrs.items()}
    payload["step_keys"] = sorted(steps)
    members[_ATTRS_MEMBER] = np.array(json.dumps(payload))
    # np.savez_compressed with a faster level: same layout (one NAME.npy member per array).
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    level = COMPRESS_LEVEL if compress else None
    with (
        atomic_open(path, "wb") as fh,
        zipfile.ZipFile(fh, "w", method, compresslevel=level) as zf,
    ):
        for name, value in members.items():
            with zf.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, value, allow_pickle=False)


def _open_npz(path: Path):
    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise DataError(f"episode file {path} does not exist") from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(f"episode file {path} is corrupt or not an npz archive ({exc})") from None


def _attrs_from(npz, path: Path) -> dict[str, Any]:
    try:
        attrs = json.loads(str(npz[_ATTRS_MEMBER][()]))
    except KeyError:
        raise DataError(f"episode file {path} has no '{_ATTRS_MEMBER}' member") from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(f"episode file {path} is corrupt ({exc})") from None
    if not isinstance(attrs, dict) or "step_keys" not in attrs:
        raise DataError(f"episode file {path}: attributes are malformed")
    return attrs


def read_episode_attrs(path: str | Path) -> dict[str, Any]:
    """Only the scalar attributes of an episode (reads one small zip member).

    Raises:
        DataError: Naming ``path`` when it is missing, corrupt or malformed.
    """
    path = Path(path)
    with _open_npz(path) as npz:
        return _attrs_from(npz, path)


def read_episode(
    path: str | Path,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, Any]]:
    """Read a whole episode.

    Returns:
        ``(steps, episode_arrays, attrs)``: per-step arrays (leading axis T), arrays without
        a time axis, and the scalar attributes (``step_keys`` removed).

    Raises:
        DataError: Naming ``path`` when it is missing, corrupt, lacks a required array or
            its per-step arrays do not all have ``attrs['length']`` rows.
    """
    path = Path(path)
    with _open_npz(path) as npz:
        attrs = _attrs_from(npz, path)
        step_keys = set(attrs.pop("step_keys"))
        steps, per_episode = {}, {}
        try:
            for name in npz.files:
                if name == _ATTRS_MEMBER:
                    continue
                (steps if name in step_keys else per_episode)[name] = npz[name]
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
            raise DataError(f"episode file {path} is corrupt ({exc})") from None
    missing = [k for k in _REQUIRED_STEP_KEYS if k not in steps]
    if missing or "embodiment" not in per_episode:
        raise DataError(f"episode file {path} lacks arrays {missing or ['embodiment']}")
    length = attrs.get("length")
    bad = {k: v.shape[0] for k, v in steps.items() if v.shape[0] != length}
    if bad:
        raise DataError(f"episode file {path}: length={length} but arrays have rows {bad}")
    return steps, per_episode, attrs


def write_meta(root: str | Path, meta: Mapping[str, Any]) -> None:
    """Atomically (re)write ``meta.json`` of dataset ``root``."""
    atomic_write_json(Path(root) / META_FILE, dict(meta))


def read_meta(root: str | Path) -> dict[str, Any]:
    """Read and validate ``meta.json`` of dataset ``root``.

    Raises:
        DataError: When the folder or the file is missing, the JSON is corrupt, or the format
            name/version is not the one this code reads.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"demonstrations folder {root} does not exist")
    path = root / META_FILE
    if not path.is_file():
        raise DataError(f"{path} is missing: {root} is not a demonstrations dataset")
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
            f"{FORMAT_VERSION}; re-record the dataset or use a matching compass_nav"
        )
    return meta
