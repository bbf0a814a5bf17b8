"""Pieces every trainer shares: run folders, checkpoints, RNG state, logging, schedules.

The imitation trainer (:mod:`compass_nav.il.runner`) uses them, and so can the residual RL
and distillation trainers: a run folder holds ``config.yaml`` (the resolved config, written
before the first step), ``checkpoints/step_NNNNNNNN.pt`` (full training state, written
atomically, the newest few kept), ``tb/`` (TensorBoard event files) and whatever final
artefact the trainer produces. ``--resume`` reloads the newest checkpoint, including every
RNG, so an interrupted run continues with exactly the step it would have taken.
"""

from __future__ import annotations

import math
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from compass_nav.utils.atomic import atomic_save_torch
from compass_nav.utils.config import config_from_dict, dump_yaml, read_yaml_mapping
from compass_nav.utils.errors import ConfigError, ModelError

__all__ = [
    "CheckpointManager",
    "TrainLogger",
    "capture_rng",
    "cosine_lr",
    "load_run_config",
    "prepare_run_dir",
    "restore_rng",
    "seed_everything",
]

CONFIG_FILE = "config.yaml"
CHECKPOINT_DIR = "checkpoints"
_CKPT_RE = re.compile(r"^step_(\d{8})\.pt$")


def seed_everything(seed: int) -> None:
    """Seed Python, numpy's global generator and torch (CPU)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def capture_rng(generator: np.random.Generator | None = None) -> dict[str, Any]:
    """Every RNG state a trainer consumes (plus ``generator``'s, if given), picklable."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    # Plain lists and ints (no numpy arrays) so checkpoints load with weights_only=True.
    state = {
        "python": random.getstate(),
        "numpy": [kind, [int(k) for k in keys], int(pos), int(has_gauss), float(cached)],
        "torch": torch.get_rng_state(),
    }
    if generator is not None:
        state["generator"] = generator.bit_generator.state
    return state


def restore_rng(state: dict[str, Any], generator: np.random.Generator | None = None) -> None:
    """Inverse of :func:`capture_rng`."""
    random.setstate(state["python"])
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if generator is not None and "generator" in state:
        generator.bit_generator.state = state["generator"]


def cosine_lr(step: int, total: int, base: float, warmup: int, final_frac: float) -> float:
    """Linear warm-up over ``warmup`` steps then cosine decay to ``final_frac * base``."""
    if warmup > 0 and step < warmup:
        return base * (step + 1) / warmup
    span = max(total - warmup, 1)
    progress = min(max(step - warmup, 0) / span, 1.0)
    return base * (final_frac + (1.0 - final_frac) * 0.5 * (1.0 + math.cos(math.pi * progress)))


def prepare_run_dir(out: str | Path, config: Any, resume: bool) -> Path:
    """Create the run folder and write the resolved ``config.yaml``.

    Args:
        out: Run folder.
        config: The resolved dataclass config of this run.
        resume: Continuing a run: the folder must hold checkpoints (the config is rewritten,
            so overrides given on resume are recorded).

    Raises:
        ConfigError: A new run pointed at a folder that already holds checkpoints, or a
            resume pointed at one that holds none.
    """
    run = Path(out)
    has_ckpt = CheckpointManager(run).latest() is not None
    if has_ckpt and not resume:
        raise ConfigError(
            f"out={str(run)!r}: already holds a training run; pass --resume to "
            "continue it or choose a new folder"
        )
    if resume and not has_ckpt:
        raise ConfigError(
            f"out={str(run)!r}: --resume given but there is no checkpoint in "
            f"{run / CHECKPOINT_DIR}"
        )
    run.mkdir(parents=True, exist_ok=True)
    dump_yaml(config, run / CONFIG_FILE)
    return run


def load_run_config(run: str | Path, cls: type) -> Any:
    """The config a run was started with (its ``config.yaml``), as dataclass ``cls``."""
    path = Path(run) / CONFIG_FILE
    if not path.is_file():
        raise ConfigError(f"{path} is missing: {run} is not a run folder")
    return config_from_dict(cls, read_yaml_mapping(path))


class CheckpointManager:
    """Numbered, atomically written checkpoints in ``<run>/checkpoints``, newest ``keep``."""

    def __init__(self, run: str | Path, keep: int = 3) -> None:
        self.folder = Path(run) / CHECKPOINT_DIR
        self.keep = keep

    def list(self) -> list[tuple[int, Path]]:
        """``(step, path)`` of every finished checkpoint, oldest first."""
        if not self.folder.is_dir():
            return []
        found = [
            (int(m.group(1)), p) for p in self.folder.iterdir() if (m := _CKPT_RE.match(p.name))
        ]
        return sorted(found)

    def latest(self) -> Path | None:
        """Newest checkpoint, or None."""
        found = self.list()
        return found[-1][1] if found else None

    def save(self, step: int, payload: dict[str, Any]) -> Path:
        """Write ``payload`` as the checkpoint of ``step``; drop the oldest beyond ``keep``."""
        path = self.folder / f"step_{step:08d}.pt"
        atomic_save_torch(payload, path)
        for _, old in self.list()[: -self.keep]:
            old.unlink(missing_ok=True)
        return path

    @staticmethod
    def load(path: str | Path) -> dict[str, Any]:
        """Read a checkpoint written by :meth:`save` (tensors on the CPU).

        Raises:
            ModelError: Missing or unreadable file, named.
        """
        path = Path(path)
        if not path.is_file():
            raise ModelError(f"checkpoint {path} does not exist")
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any unpickling failure means a bad file
            raise ModelError(f"checkpoint {path} is corrupt or not a checkpoint ({exc})") from None


class TrainLogger:
    """Scalars to TensorBoard (``<run>/tb``); optional, so tests can run without it."""

    def __init__(self, run: str | Path, enabled: bool = True) -> None:
        self._writer = None
        if enabled:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(str(Path(run) / "tb"))

    def scalars(self, step: int, values: dict[str, float], prefix: str) -> None:
        """Log ``prefix/name`` for every entry of ``values``."""
        if self._writer is None:
            return
        for k, v in values.items():
            self._writer.add_scalar(f"{prefix}/{k}", float(v), step)

    def close(self) -> None:
        """Flush and close the event file."""
        if self._writer is not None:
            self._writer.flush()
            self._writer.close()
            self._writer = None
