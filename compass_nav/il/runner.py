"""Imitation learning of the X-Mobility world-model policy: config, algorithm and runner.

``compass-nav il train`` (:mod:`compass_nav.il.cli`) builds an :class:`ILConfig` from a
preset, an optional YAML file and ``--set key=value`` overrides, and calls
:func:`train_il`. Split as STYLE.md asks:

* :class:`ILAlgorithm` owns the network, the optimiser and the update (``model.loss`` +
  clipped AdamW step); it knows nothing about files or loops.
* :class:`ILRunner` owns the loop: data (a :class:`SequenceBuffer` of demonstrations that
  DAgger rounds grow), the learning-rate schedule, TensorBoard logs, the progress bar,
  checkpoints (with every RNG, so ``--resume`` repeats exactly the step an uninterrupted run
  would have taken) and the final ``model.pt`` that
  :mod:`compass_nav.models.checkpoint_policy` opens.

Run folder: ``config.yaml``, ``checkpoints/step_*.pt``, ``dagger/round_*.npz``, ``tb/``,
``model.pt``, ``summary.json``.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from compass_nav.data.format import read_meta
from compass_nav.il.dagger import DaggerConfig, collect_round, load_round, save_round
from compass_nav.learning.common import (
    CheckpointManager,
    TrainLogger,
    capture_rng,
    cosine_lr,
    prepare_run_dir,
    restore_rng,
    seed_everything,
)
from compass_nav.learning.sequences import SequenceBuffer, episodes_from_dataset
from compass_nav.models.xmobility import XMobility, XMobilityConfig, count_parameters
from compass_nav.models.xmobility.processing import resize_frames
from compass_nav.utils.atomic import atomic_save_torch, atomic_write_json
from compass_nav.utils.config import (
    check,
    check_at_least,
    check_positive,
    check_within,
    config_to_dict,
    resolve_config,
)
from compass_nav.utils.errors import DataError
from compass_nav.utils.finite import WEIGHT_CHECK_EVERY, check_loss, check_weights
from compass_nav.utils.progress import progress_bar

__all__ = ["ILAlgorithm", "ILConfig", "ILRunner", "MODEL_KIND", "il_preset", "train_il"]

#: ``kind`` tag of every checkpoint this trainer writes (the loader checks it).
MODEL_KIND = "xmobility"


@dataclasses.dataclass(frozen=True)
class ILConfig:
    """Everything an imitation run depends on (written to ``config.yaml``).

    Attributes:
        data: Demonstrations folder (recorded with ``planned`` or ``stale_map`` routes).
        embodiments: Train on these bodies' episodes only, and drive them in the DAgger
            rounds (empty = all in the dataset).
        seed: Seeds the model init, the window sampler and the DAgger rollouts.
        steps: Optimiser steps.
        batch_size: Windows per batch (B).
        seq_len: Window length (L), control steps.
        lr: Peak learning rate (AdamW); warm-up then cosine decay to ``lr * lr_final``.
        lr_final: Final learning rate as a fraction of ``lr``.
        warmup: Warm-up steps.
        weight_decay: AdamW weight decay.
        grad_clip: Global gradient-norm clip.
        mapless_prob: Probability that a window shows the mapless route instead of the
            recorded one (route-mode augmentation: one model for both modes).
        num_threads: torch CPU threads (0 = torch's default). One by default: on this shared
            2-core machine a second thread made steps up to 6x slower whenever other jobs ran
            (OpenMP threads spin-wait for a core that is busy).
        log_every: Steps between TensorBoard/progress-bar updates.
        checkpoint_every: Steps between checkpoints (one is always written at the end).
        keep_checkpoints: Newest checkpoints kept.
        tensorboard: Write TensorBoard logs.
        model: Network sizes and loss weights.
        dagger: On-policy aggregation rounds.
    """

    data: str = "runs/demos_carter"
    embodiments: tuple[str, ...] = ("carter",)
    seed: int = 0
    steps: int = 3000
    batch_size: int = 32
    seq_len: int = 16
    lr: float = 1e-3
    lr_final: float = 0.05
    warmup: int = 100
    weight_decay: float = 1e-4
    grad_clip: float = 10.0
    mapless_prob: float = 0.5
    num_threads: int = 1
    log_every: int = 20
    checkpoint_every: int = 250
    keep_checkpoints: int = 2
    tensorboard: bool = True
    model: XMobilityConfig = dataclasses.field(default_factory=XMobilityConfig)
    dagger: DaggerConfig = dataclasses.field(default_factory=DaggerConfig)

    def __post_init__(self) -> None:
        object.__setattr__(self, "embodiments", tuple(self.embodiments))
        check(bool(self.data), "data", self.data, "must name a demonstrations folder")
        check_at_least("seed", self.seed, 0)
        check_at_least("steps", self.steps, 1)
        check_at_least("batch_size", self.batch_size, 1)
        check_at_least("seq_len", self.seq_len, 1)
        check_positive("lr", self.lr)
        check(0 < self.lr_final <= 1, "lr_final", self.lr_final, "must be in (0, 1]")
        check_at_least("warmup", self.warmup, 0)
        check_at_least("weight_decay", self.weight_decay, 0)
        check_positive("grad_clip", self.grad_clip)
        check_within("mapless_prob", self.mapless_prob, 0, 1)
        check_at_least("num_threads", self.num_threads, 0)
        check_at_least("log_every", self.log_every, 1)
        check_at_least("checkpoint_every", self.checkpoint_every, 1)
        check_at_least("keep_checkpoints", self.keep_checkpoints, 1)


def il_preset(name: str, **overrides) -> ILConfig:
    """The named preset of ``configs/presets/il.yaml`` with ``overrides`` merged over it.

    ``default`` is what BENCHMARKS.md reports; ``debug`` shrinks everything for tests.

    Raises:
        ConfigError: Unknown preset, listing the known ones.
    """
    return resolve_config(ILConfig, preset=name, presets="il", values=overrides)


class ILAlgorithm:
    """Network + optimiser + one update (behaviour cloning with world-model losses)."""

    def __init__(self, model_cfg: XMobilityConfig, cfg: ILConfig) -> None:
        self.model = XMobility(model_cfg)
        self.optimizer = torch.optim.AdamW(
            self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay
        )
        self.grad_clip = cfg.grad_clip

    def update(self, batch: dict[str, torch.Tensor], lr: float) -> dict[str, float]:
        """One optimiser step on a batch of windows; returns the loss terms."""
        self.model.train()
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        loss, terms = self.model.loss(batch)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
        self.optimizer.step()
        terms["grad_norm"] = float(norm)
        return terms

    def state_dict(self) -> dict[str, Any]:
        """Model and optimiser state."""
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Inverse of :meth:`state_dict`."""
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])


def model_payload(model: XMobility, step: int, cfg: ILConfig | None = None) -> dict[str, Any]:
    """What :mod:`~compass_nav.models.checkpoint_policy` needs to rebuild ``model``.

    No training state: optimiser and RNG states stay in the run's checkpoints.
    """
    payload = {
        "kind": MODEL_KIND,
        "model_config": config_to_dict(model.cfg),
        "model": model.state_dict(),
        "step": step,
    }
    if cfg is not None:
        payload["train_config"] = config_to_dict(cfg)
    return payload


class ILRunner:
    """The training loop around :class:`ILAlgorithm` (see the module docstring).

    Args:
        cfg: Resolved config.
        out: Run folder.
        resume: Continue from the newest checkpoint in ``out``.
        progress: Show progress bars.
        stop_after: Stop (as if killed) once this many steps are done; for tests of resume.
    """

    def __init__(
        self,
        cfg: ILConfig,
        out: str | Path,
        resume: bool = False,
        progress: bool = True,
        stop_after: int | None = None,
    ) -> None:
        self.cfg = cfg
        self.progress = progress
        self.stop_after = stop_after
        self.run = prepare_run_dir(out, cfg, resume)
        self.ckpt = CheckpointManager(self.run, keep=cfg.keep_checkpoints)
        self.resume = resume
        self._apply_threads()
        seed_everything(cfg.seed)
        self.algo = ILAlgorithm(cfg.model, cfg)
        self.rng = np.random.default_rng(cfg.seed)
        self.buffer = SequenceBuffer()
        self.step = 0
        self.schedule = cfg.dagger.schedule(cfg.steps)
        self.summary: dict[str, Any] = {"dagger": {}}
        #: Loss terms of every step this runner took, in order (for tests and notebooks).
        self.history: list[dict[str, float]] = []

    def _apply_threads(self) -> None:
        # Called again after every simulator rollout: numba's OpenMP kernels reset the
        # process-wide OpenMP thread count that torch reads.
        if self.cfg.num_threads:
            torch.set_num_threads(self.cfg.num_threads)

    # ------------------------------------------------------------------ data
    def _fit(self, episodes):
        """Resize episode frames to the model's input size once (see processing)."""
        size = (self.cfg.model.image_height, self.cfg.model.image_width)
        for ep in episodes:
            if ep["rgb"].shape[1:3] != size:
                rgb, depth = resize_frames(
                    torch.from_numpy(np.array(ep["rgb"])),
                    torch.from_numpy(np.array(ep["depth"])),
                    *size,
                )
                ep = {**ep, "rgb": rgb.numpy(), "depth": depth.numpy()}
            yield ep

    def _load_demos(self) -> None:
        meta = read_meta(self.cfg.data)
        self.image_hw = tuple(meta["image_size"])
        self.route_points = int(meta["route_points"])
        self.route_spacing = float(meta["route_spacing"])
        self.demo_bodies = tuple(meta.get("embodiments") or ("carter",))
        if self.route_points != self.cfg.model.route_points:
            raise DataError(
                f"{self.cfg.data}: routes have {self.route_points} waypoints but "
                f"model.route_points={self.cfg.model.route_points}"
            )
        from compass_nav.data import DemoDataset

        bodies = self.cfg.embodiments or None
        self.buffer.reserve(int(DemoDataset(self.cfg.data, embodiments=bodies).lengths().sum()))
        n = self.buffer.add(
            self._fit(
                episodes_from_dataset(
                    self.cfg.data, self.cfg.embodiments or None, progress=self.progress
                )
            )
        )
        self.summary["demo_episodes"] = n
        self.summary["demo_steps"] = len(self.buffer)

    def _round_path(self, r: int) -> Path:
        return self.run / "dagger" / f"round_{r:02d}.npz"

    def _dagger_round(self, r: int) -> None:
        path = self._round_path(r)
        if path.is_file():
            episodes = load_round(path)
            stats = self.summary["dagger"].get(str(r), {})
        else:
            t0 = time.perf_counter()
            self.algo.model.eval()
            episodes, stats = collect_round(
                self.algo.model,
                self.cfg.dagger,
                self.cfg.embodiments or self.demo_bodies,
                r,
                self.cfg.seed,
                self.image_hw,
                self.route_points,
                self.route_spacing,
                progress=self.progress,
            )
            self._apply_threads()
            episodes = list(self._fit(episodes))
            save_round(path, episodes)
            stats["seconds"] = time.perf_counter() - t0
            self.summary["dagger"][str(r)] = stats
            self.logger.scalars(self.step, stats, "dagger")
            if self.progress:
                tqdm.write(
                    f"dagger round {r} at step {self.step}: "
                    + ", ".join(f"{k}={v:.3g}" for k, v in stats.items())
                )
        self.buffer.add(episodes)

    # ------------------------------------------------------------------ checkpoints
    def _save(self) -> None:
        check_weights("imitation", self.step, self.algo.model)
        payload = {
            **model_payload(self.algo.model, self.step, self.cfg),
            "optimizer": self.algo.optimizer.state_dict(),
            "rng": capture_rng(self.rng),
            "summary": self.summary,
        }
        self.ckpt.save(self.step, payload)

    def _restore(self) -> None:
        path = self.ckpt.latest()
        state = self.ckpt.load(path)
        self.algo.load_state_dict(state)
        self.step = int(state["step"])
        self.summary = state.get("summary", self.summary)
        for r, at in enumerate(self.schedule):
            if at < self.step:
                if not self._round_path(r).is_file():
                    raise DataError(f"{self._round_path(r)} is missing: cannot resume {self.run}")
                self._dagger_round(r)
        restore_rng(state["rng"], self.rng)

    # ------------------------------------------------------------------ loop
    def train(self) -> Path:
        """Run (or continue) training; returns the path of the final ``model.pt``."""
        cfg = self.cfg
        self.logger = TrainLogger(self.run, enabled=cfg.tensorboard)
        t_start = time.perf_counter()
        try:
            self._load_demos()
            if self.resume:
                self._restore()
            elapsed_before = float(self.summary.get("train_seconds", 0.0))
            bar = progress_bar(cfg.steps, "train il", "step", self.progress, initial=self.step)
            last_terms: dict[str, float] = {}
            while self.step < cfg.steps:
                if self.stop_after is not None and self.step >= self.stop_after:
                    break
                for r, at in enumerate(self.schedule):
                    if at == self.step:
                        self._dagger_round(r)
                batch = self.buffer.sample(self.rng, cfg.batch_size, cfg.seq_len, cfg.mapless_prob)
                lr = cosine_lr(self.step, cfg.steps, cfg.lr, cfg.warmup, cfg.lr_final)
                last_terms = self.algo.update(batch, lr)
                check_loss("imitation", self.step, last_terms["total"], last_terms)
                self.history.append(last_terms)
                self.step += 1
                if self.step % WEIGHT_CHECK_EVERY == 0:
                    check_weights("imitation", self.step, self.algo.model)
                bar.update(1)
                if self.step % cfg.log_every == 0 or self.step == cfg.steps:
                    self.logger.scalars(self.step, {**last_terms, "lr": lr}, "train")
                    bar.set_postfix(
                        {
                            k: f"{last_terms[k]:.3g}"
                            for k in ("total", "action", "path", "kl", "recon")
                        }
                    )
                if self.step % cfg.checkpoint_every == 0 or self.step == cfg.steps:
                    self.summary["train_seconds"] = elapsed_before + time.perf_counter() - t_start
                    self._save()
            bar.close()
        finally:
            self.logger.close()
        final = self.run / "model.pt"
        if self.step >= cfg.steps:
            check_weights("imitation", self.step, self.algo.model)
            atomic_save_torch(model_payload(self.algo.model, self.step, cfg), final)
            self.summary.update(
                {
                    "steps": self.step,
                    "buffer_steps": len(self.buffer),
                    "buffer_episodes": self.buffer.num_episodes,
                    "parameters": count_parameters(self.algo.model),
                    "parameters_inference": count_parameters(self.algo.model, inference_only=True),
                    "final_terms": last_terms,
                }
            )
            atomic_write_json(self.run / "summary.json", self.summary)
        return final


def train_il(cfg: ILConfig, out: str | Path, resume: bool = False, progress: bool = True) -> Path:
    """Train (or resume) an imitation run; returns the final ``model.pt`` path."""
    return ILRunner(cfg, out, resume=resume, progress=progress).train()
