"""An in-memory stream of episodes that yields random training windows, and grows.

Imitation learning samples many short windows per second and DAgger appends on-policy
episodes between training phases, so episodes are stored concatenated in flat arrays (one
per field, leading axis = total steps) with ``is_first`` marking each episode's first step.
A window may run across an episode boundary: the model resets its recurrent state wherever
``is_first`` is set (the first step of every window is marked too, since the state before it
is not known), so no padding or masking is needed and every step can be sampled.

Demonstrations come in through :func:`episodes_from_dataset` (a folder written by
:mod:`compass_nav.data.recorder`); DAgger episodes from :mod:`compass_nav.il.dagger`.
Both are dicts of per-step arrays with the keys of :data:`FIELDS`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import torch

from compass_nav.data import DemoDataset
from compass_nav.data.routes import driven_path, mapless_route
from compass_nav.utils.errors import DataError

__all__ = ["FIELDS", "TRAINABLE_ROUTE_MODES", "SequenceBuffer", "episodes_from_dataset"]

#: Route modes a demonstrations folder may be recorded in for imitation. The path head's
#: target (``path``) is the planned route in ``planned`` recordings; in ``stale_map`` ones,
#: whose route runs through obstacles the map lacks, it is the path the teacher drove next
#: (:func:`~compass_nav.data.routes.driven_path`).
TRAINABLE_ROUTE_MODES = ("planned", "stale_map")

#: Per-step fields of a buffered episode: (dtype, what it holds).
FIELDS: dict[str, tuple[np.dtype, str]] = {
    "rgb": (np.dtype(np.uint8), "(H,W,3) camera image"),
    "depth": (np.dtype(np.float16), "(H,W) depth, m"),
    "speed": (np.dtype(np.float32), "(3,) body (vx, vy, wz)"),
    "route": (np.dtype(np.float32), "(K,2) route the policy was given, robot frame"),
    "route_mapless": (np.dtype(np.float32), "(K,2) straight-line route to the goal"),
    "path": (np.dtype(np.float32), "(K,2) path-head target, robot frame (see below)"),
    "goal": (np.dtype(np.float32), "(3,) robot-frame goal (x, y, yaw)"),
    "embodiment": (np.dtype(np.float32), "(D,) body descriptor"),
    "action": (np.dtype(np.float32), "(3,) teacher action (the label), SI"),
    "prev_action": (np.dtype(np.float32), "(3,) previously EXECUTED command, SI"),
}


def episodes_from_dataset(
    path: str | Path, embodiments: Iterable[str] | None = None, progress: bool = True
) -> Iterator[dict[str, np.ndarray]]:
    """Yield the episodes of a demonstrations folder as buffer episodes.

    The dataset must have been recorded in a :data:`TRAINABLE_ROUTE_MODES` mode; the
    episode's ``route`` is what the policy was shown, ``path`` (the path head's target) is
    the planned route or, for ``stale_map``, the driven path. ``route_mapless`` is read, or
    derived from the goal when an older recording lacks it.

    Raises:
        DataError: Wrong route mode, no camera images, no episodes (after filtering), or a
            recording of validation or held-out scenes (:meth:`DemoDataset.check_trainable`).
    """
    from tqdm import tqdm

    ds = DemoDataset(path, embodiments=tuple(embodiments) if embodiments else None, cache_size=0)
    ds.check_trainable()
    meta = ds.meta
    mode = meta.get("route_mode")
    if mode not in TRAINABLE_ROUTE_MODES:
        raise DataError(
            f"{path}: route_mode={mode!r}; imitation needs a dataset recorded with "
            f"{' or '.join(TRAINABLE_ROUTE_MODES)} routes (the path head's target comes "
            "from the planned route or the driven path)"
        )
    if len(ds) == 0:
        raise DataError(
            f"{path}: no episodes" + (f" of {sorted(embodiments)}" if embodiments else "")
        )
    for i in tqdm(
        range(len(ds)), desc="loading demos", unit="ep", disable=not progress, leave=False
    ):
        ep = ds[i]
        if "rgb" not in ep or "depth" not in ep:
            raise DataError(f"{ds.paths[i]}: the episode has no rgb/depth images")
        if "route_mapless" not in ep:
            ep["route_mapless"] = mapless_route(
                ep["goal"], meta["route_points"], meta["route_spacing"]
            )
        if mode == "planned":
            ep["path"] = ep["route"]
        else:
            if "pose" not in ep:
                raise DataError(f"{ds.paths[i]}: the episode has no poses to derive its path")
            ep["path"] = driven_path(
                ep["pose"], ep.get("final_pose"), meta["route_points"], meta["route_spacing"]
            )
        n = len(ep["action"])
        ep["embodiment"] = np.broadcast_to(ep["embodiment"], (n, len(ep["embodiment"])))
        yield {k: ep[k] for k in FIELDS}


class SequenceBuffer:
    """Concatenated episodes with random-window sampling (see the module docstring).

    The flat arrays keep :data:`HEADROOM` spare capacity, so the DAgger rounds appended after
    the demonstrations are copied into place instead of re-concatenating everything (a v2
    dataset is several GB; a full copy per round doubled the peak memory).
    """

    #: Spare capacity allocated whenever the arrays grow, as a fraction of the steps held.
    HEADROOM = 0.3
    #: Pending steps that trigger copying them into the flat arrays (bounds the peak memory
    #: while a large dataset loads into a buffer sized by :meth:`reserve`).
    FLUSH_STEPS = 65536

    def reserve(self, steps: int) -> None:
        """Size the flat arrays for ``steps`` steps (plus :data:`HEADROOM`) before loading.

        Optional; without it the arrays grow as episodes arrive.
        """
        self._reserve = int(steps)

    def __init__(self) -> None:
        self._data: dict[str, np.ndarray] | None = None
        self._size = 0
        self._reserve = 0
        self._pending: list[dict[str, np.ndarray]] = []
        self.num_episodes = 0

    def add(self, episodes: Iterable[dict[str, np.ndarray]]) -> int:
        """Append episodes (dicts with every key of :data:`FIELDS`); returns how many.

        Raises:
            DataError: A missing key or per-step arrays of different lengths.
        """
        count = 0
        for ep in episodes:
            missing = [k for k in FIELDS if k not in ep]
            if missing:
                raise DataError(f"episode lacks fields {missing}")
            n = len(ep["action"])
            bad = {k: len(ep[k]) for k in FIELDS if len(ep[k]) != n}
            if bad or n == 0:
                raise DataError(f"episode fields disagree on the length {n}: {bad}")
            chunk = {k: np.asarray(ep[k], dtype=FIELDS[k][0]) for k in FIELDS}
            first = np.zeros(n, bool)
            first[0] = True
            chunk["is_first"] = first
            self._pending.append(chunk)
            count += 1
            if self._reserve and sum(len(p["action"]) for p in self._pending) > self.FLUSH_STEPS:
                self._consolidate()
        self.num_episodes += count
        return count

    def _consolidate(self) -> dict[str, np.ndarray]:
        if self._pending:
            extra = sum(len(p["action"]) for p in self._pending)
            need = self._size + extra
            cap = 0 if self._data is None else len(self._data["action"])
            if need > cap:
                new_cap = int(max(need, self._reserve) * (1 + self.HEADROOM))
                grown = {
                    k: np.empty((new_cap,) + v.shape[1:], v.dtype)
                    for k, v in self._pending[0].items()
                }
                if self._data is not None:
                    for k, v in grown.items():
                        v[: self._size] = self._data[k][: self._size]
                self._data = grown
            at = self._size
            while self._pending:
                p = self._pending.pop(0)
                n = len(p["action"])
                for k, v in p.items():
                    self._data[k][at : at + n] = v
                at += n
            self._size = at
        if self._data is None:
            raise DataError("the sequence buffer is empty")
        return self._data

    def __len__(self) -> int:
        """Total buffered steps."""
        return self._size + sum(len(p["action"]) for p in self._pending)

    def sample(
        self, rng: np.random.Generator, batch_size: int, seq_len: int, mapless_prob: float
    ) -> dict[str, torch.Tensor]:
        """A batch of random windows as tensors for :meth:`XMobility.loss`.

        Each window sees the mapless route with probability ``mapless_prob`` and the recorded
        one (planned or stale) otherwise (one mode per window, as one episode runs in one
        mode); the ``path`` target is the episode's ``path`` either way.

        Returns:
            Tensors (B, L, ...): ``rgb`` uint8, ``depth`` float32, ``speed``, ``route`` (the
            input route), ``path`` (the target), ``goal``, ``embodiment``, ``action``,
            ``prev_action``, ``is_first`` bool.
        """
        data = self._consolidate()
        total = self._size
        if total < seq_len:
            raise DataError(f"the buffer holds {total} steps, fewer than seq_len={seq_len}")
        starts = rng.integers(0, total - seq_len + 1, size=batch_size)
        mapless = rng.random(batch_size) < mapless_prob
        idx = starts[:, None] + np.arange(seq_len)[None, :]
        out = {
            k: torch.from_numpy(data[k][idx])
            for k in ("rgb", "speed", "goal", "embodiment", "action", "prev_action", "is_first")
        }
        out["depth"] = torch.from_numpy(data["depth"][idx].astype(np.float32))
        out["path"] = torch.from_numpy(data["path"][idx])
        out["route"] = torch.from_numpy(
            np.where(mapless[:, None, None, None], data["route_mapless"][idx], data["route"][idx])
        )
        out["is_first"][:, 0] = True
        return out
