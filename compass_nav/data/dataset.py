"""Reading demonstrations: episodes (:class:`DemoDataset`) and training windows.

:class:`DemoDataset` opens a folder written by :mod:`compass_nav.data.recorder`, lists its
finished episodes, filters them by embodiment, scene family or outcome using only the small
attribute member of each file, and loads whole episodes lazily through an LRU cache (or all
at once with :meth:`DemoDataset.preload`). :class:`SequenceDataset` cuts fixed-length windows
inside episodes and returns torch tensors laid out for the imitation-learning trainer
(:mod:`compass_nav.learning.sequences`), with ``is_first`` marking where recurrent state must
reset and ``mask`` marking padding. The file layout is in ``docs/DATASET.md``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from compass_nav.data import format as fmt
from compass_nav.data.summary import summarize_attrs
from compass_nav.utils.errors import ConfigError, DataError

__all__ = ["SEQUENCE_KEYS", "DemoDataset", "SequenceDataset"]

#: Keys :class:`SequenceDataset` returns by default (those the episodes hold).
SEQUENCE_KEYS: tuple[str, ...] = (
    "rgb",
    "depth",
    "speed",
    "route",
    "route_mapless",
    "goal",
    "embodiment",
    "action",
    "prev_action",
    "reward",
)


class DemoDataset:
    """The finished episodes of one demonstrations folder, loaded lazily.

    ``dataset[i]`` is a dict holding the per-step arrays (leading axis T: ``rgb``,
    ``depth``, ``speed``, ``route``, ``route_mapless``, ``goal``, ``pose``, ``action``,
    ``prev_action``, ``reward``, ``terminated``, ``truncated`` and any extras), the
    per-episode arrays (``embodiment``, ``final_*``) and the scalar attributes
    (``embodiment_name``, ``family``, ``success``, ``length``...). Arrays are read-only: they
    may be shared through the cache.

    Args:
        path: Dataset folder (holds ``meta.json`` and ``episodes/``).
        embodiments: Keep only episodes of these embodiment names.
        families: Keep only episodes of these scene families.
        success_only: Keep only successful episodes.
        cache_size: Episodes kept decoded in memory (least recently used are dropped).

    Raises:
        DataError: Missing folder, missing/corrupt ``meta.json``, other format or version, or
            (when filtering) a corrupt episode file, named.
    """

    def __init__(
        self,
        path: str | Path,
        embodiments: Sequence[str] | None = None,
        families: Sequence[str] | None = None,
        success_only: bool = False,
        cache_size: int = 32,
    ) -> None:
        if cache_size < 0:
            raise ConfigError(f"cache_size={cache_size!r}: must be >= 0")
        self.root = Path(path)
        self.meta: dict[str, Any] = fmt.read_meta(self.root)
        self._paths: list[Path] = [p for _, p in fmt.list_episode_files(self.root)]
        self._attrs: dict[Path, dict[str, Any]] = {}
        self._cache: OrderedDict[Path, dict[str, Any]] = OrderedDict()
        self.cache_size = cache_size
        self._preloaded = False
        if embodiments is not None or families is not None or success_only:
            self._paths = self._select(embodiments, families, success_only)

    def check_trainable(self) -> None:
        """Refuse a recording of scenes that no training stage may see.

        Raises:
            DataError: The dataset was recorded on ``validation`` or ``heldout`` scene seeds,
                or in a held-out scene family (``meta.json``'s ``sim_config``).
        """
        from compass_nav.sim.scenes import heldout_families

        sim = self.meta.get("sim_config", {})
        split = sim.get("split", "train")
        if split != "train":
            raise DataError(
                f"{self.root}: recorded on {split!r} scene seeds (sim_config.split); "
                "training reads only recordings of the 'train' split"
            )
        held = sorted(set(sim.get("families", ())) & set(heldout_families()))
        if held:
            raise DataError(
                f"{self.root}: recorded in the held-out scene family {held[0]!r} "
                "(evaluation only, never trained on)"
            )

    def _select(self, embodiments, families, success_only) -> list[Path]:
        keep = []
        for i, p in enumerate(self._paths):
            a = self.attrs(i)
            if embodiments is not None and a["embodiment_name"] not in embodiments:
                continue
            if families is not None and a["family"] not in families:
                continue
            if success_only and not a["success"]:
                continue
            keep.append(p)
        return keep

    def filter(
        self,
        embodiments: Sequence[str] | None = None,
        families: Sequence[str] | None = None,
        success_only: bool = False,
    ) -> DemoDataset:
        """A view on the episodes matching all given conditions (shares the loaded data)."""
        view = object.__new__(DemoDataset)
        view.root, view.meta, view.cache_size = self.root, self.meta, self.cache_size
        view._attrs, view._cache, view._preloaded = self._attrs, self._cache, self._preloaded
        view._paths = self._select(embodiments, families, success_only)
        return view

    def __len__(self) -> int:
        return len(self._paths)

    @property
    def paths(self) -> list[Path]:
        """Episode files in this (possibly filtered) dataset, in index order."""
        return list(self._paths)

    def attrs(self, i: int) -> dict[str, Any]:
        """Scalar attributes of episode ``i`` (reads only the file's attribute member)."""
        p = self._paths[i]
        if p not in self._attrs:
            self._attrs[p] = fmt.read_episode_attrs(p)
        return self._attrs[p]

    def lengths(self) -> np.ndarray:
        """Steps per episode, (len(self),) int64."""
        return np.array([self.attrs(i)["length"] for i in range(len(self))], np.int64)

    def __getitem__(self, i: int) -> dict[str, Any]:
        if not -len(self) <= i < len(self):
            raise IndexError(f"episode {i} out of range for {len(self)} episodes")
        p = self._paths[i]
        if p in self._cache:
            self._cache.move_to_end(p)
            return dict(self._cache[p])
        steps, per_episode, attrs = fmt.read_episode(p)
        episode: dict[str, Any] = {**steps, **per_episode}
        for v in episode.values():
            v.flags.writeable = False
        self._attrs.setdefault(p, {**attrs, "step_keys": sorted(steps)})
        episode.update({k: v for k, v in attrs.items() if k not in episode})
        if self._preloaded or self.cache_size > 0:
            self._cache[p] = episode
            while not self._preloaded and len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return dict(episode)

    def preload(self, progress: bool = False) -> DemoDataset:
        """Decode every episode into memory (the cache stops evicting); returns ``self``."""
        from tqdm import tqdm

        self._preloaded = True
        for i in tqdm(range(len(self)), desc="loading demos", unit="ep", disable=not progress):
            self[i]
        return self

    def summary(self) -> dict[str, Any]:
        """Counts and outcome rates of the episodes in this dataset (see summarize_attrs)."""
        return summarize_attrs(self.attrs(i) for i in range(len(self)))


def _to_tensor(key: str, window: np.ndarray, rgb_float: bool) -> torch.Tensor:
    if key == "rgb":  # (L,H,W,3) -> (L,3,H,W)
        t = torch.from_numpy(np.ascontiguousarray(window.transpose(0, 3, 1, 2)))
        return t.float().div_(255.0) if rgb_float else t
    if key == "depth":  # (L,H,W) -> (L,1,H,W)
        return torch.from_numpy(window.astype(np.float32)[:, None])
    if window.dtype == np.bool_ or np.issubdtype(window.dtype, np.integer):
        return torch.from_numpy(np.ascontiguousarray(window))
    return torch.from_numpy(window.astype(np.float32))


class SequenceDataset(Dataset):
    """Fixed-length windows inside episodes, as a ``torch.utils.data.Dataset``.

    Windows never cross episode boundaries. An episode of T >= L steps gives windows starting
    at ``0, stride, 2*stride, ...`` up to ``T - L``, plus one ending exactly at its last step
    when the stride does not land there (so every step is covered). An episode shorter than
    L gives one window starting at 0, zero-padded at the end, with ``mask`` False on the
    padding (or is skipped with ``pad_short=False``).

    Each item is a dict of tensors (L = ``seq_len``):
        ``rgb`` (L,3,H,W) uint8 (float32 in [0, 1] with ``rgb_float``), ``depth`` (L,1,H,W)
        float32 m, ``speed`` (L,3), ``route``/``route_mapless`` (L,K,2), ``goal`` (L,3),
        ``embodiment`` (L,D) (the episode's descriptor repeated), ``action``/``prev_action``
        (L,3), ``reward`` (L,), all float32; extras named in ``keys`` (float16 becomes
        float32); ``is_first`` (L,) bool, True only at an episode's first step (a window
        starting mid-episode has none: the trainer starts it from the initial state or a
        burn-in); ``mask`` (L,) bool; ``step`` (L,) int64 step index within the episode;
        ``episode`` () int64 index into ``dataset``.

    Args:
        dataset: The episodes.
        seq_len: Window length L.
        stride: Steps between window starts (default ``seq_len``: no overlap).
        keys: Per-step keys to return (default: :data:`SEQUENCE_KEYS` the data holds).
        pad_short: Keep episodes shorter than L as one padded window.
        rgb_float: Return ``rgb`` as float32 in [0, 1] instead of uint8.
        preload: Decode every episode into memory first (see :meth:`DemoDataset.preload`).

    Raises:
        ConfigError: Bad ``seq_len``/``stride``/``keys``.
        DataError: An episode lacks a requested key (its file is named).
    """

    def __init__(
        self,
        dataset: DemoDataset,
        seq_len: int,
        stride: int | None = None,
        keys: Sequence[str] | None = None,
        pad_short: bool = True,
        rgb_float: bool = False,
        preload: bool = False,
    ) -> None:
        if seq_len < 1:
            raise ConfigError(f"seq_len={seq_len!r}: must be >= 1")
        stride = seq_len if stride is None else stride
        if stride < 1:
            raise ConfigError(f"stride={stride!r}: must be >= 1")
        self.dataset, self.seq_len, self.stride = dataset, seq_len, stride
        self.rgb_float = rgb_float
        if preload:
            dataset.preload()
        available = None
        for i in range(len(dataset)):
            have = set(dataset.attrs(i)["step_keys"]) | {"embodiment"}
            available = have if available is None else available & have
            if keys is not None and not set(keys) <= have:
                raise DataError(
                    f"episode file {dataset.paths[i]} lacks keys {sorted(set(keys) - have)}"
                )
        available = available or set()
        self.keys = (
            tuple(keys) if keys is not None else tuple(k for k in SEQUENCE_KEYS if k in available)
        )
        reserved = {"is_first", "mask", "step", "episode"} & set(self.keys)
        if reserved:
            raise ConfigError(f"keys={list(self.keys)!r}: {sorted(reserved)} are reserved")
        self.windows: list[tuple[int, int]] = []
        for i, length in enumerate(dataset.lengths()):
            length = int(length)
            if length >= seq_len:
                starts = list(range(0, length - seq_len + 1, stride))
                if starts[-1] != length - seq_len:
                    starts.append(length - seq_len)
            else:
                starts = [0] if pad_short else []
            self.windows.extend((i, s) for s in starts)

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, j: int) -> dict[str, Any]:
        i, start = self.windows[j]
        ep = self.dataset[i]
        length = int(ep["length"])
        L = self.seq_len
        valid = min(L, length - start)
        out: dict[str, Any] = {}
        for key in self.keys:
            arr = ep[key]
            if key == "embodiment":
                window = np.broadcast_to(arr, (valid, *arr.shape))
            else:
                window = arr[start : start + valid]
            if valid < L:
                pad = np.zeros((L - valid, *window.shape[1:]), window.dtype)
                window = np.concatenate([window, pad])
            out[key] = _to_tensor(key, window, self.rgb_float)
        is_first = torch.zeros(L, dtype=torch.bool)
        is_first[0] = start == 0
        mask = torch.zeros(L, dtype=torch.bool)
        mask[:valid] = True
        out["is_first"] = is_first
        out["mask"] = mask
        out["step"] = torch.arange(start, start + L, dtype=torch.int64)
        out["episode"] = torch.tensor(i, dtype=torch.int64)
        return out
