"""Distillation runner: specialists -> one generalist conditioned on the embodiment descriptor.

``compass-nav distill train`` (:mod:`compass_nav.rl.cli`) and the pipeline call
:func:`train_distill`. The algorithm (head, optimiser, KL loss) is
:class:`compass_nav.distill.algorithm.Distillation`; this module owns the phases, logs and
files:

1. offline: ``steps`` gradient steps on recorded specialist rollouts (``data``);
2. ``dagger_rounds`` on-policy rounds (:func:`compass_nav.distill.data.collect_round`): each
   collects states where the generalist (or, with probability ``beta``, the specialist)
   drives, labels them with the body's specialist, logs the KL on these fresh states before
   training on them (the on-policy error DAgger is meant to shrink), aggregates and trains.

Run folder: ``config.yaml``, ``checkpoints/step_*.pt`` (one per finished phase, numbered by
gradient steps), ``dagger/round_RR.pt`` (each round's samples, so a resumed run rebuilds the
aggregate), ``tb/``, ``generalist.pt``, ``summary.json``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from compass_nav.distill.algorithm import Distillation, FeatureBuffer
from compass_nav.distill.config import DistillConfig
from compass_nav.distill.data import collect_round, samples_from_rollouts
from compass_nav.learning.common import (
    CheckpointManager,
    TrainLogger,
    capture_rng,
    prepare_run_dir,
    restore_rng,
    seed_everything,
)
from compass_nav.rl.artifact import ARTIFACT_NAMES, load_residual, save_residual
from compass_nav.rl.env import ResidualNavEnv
from compass_nav.rl.modules import ResidualHead, ResidualPolicy
from compass_nav.sim.config import SimConfig
from compass_nav.utils.atomic import atomic_save_torch, atomic_write_json
from compass_nav.utils.errors import ConfigError
from compass_nav.utils.finite import WEIGHT_CHECK_EVERY, check_loss, check_weights
from compass_nav.utils.progress import progress_bar

__all__ = ["load_specialists", "train_distill"]


def load_specialists(specs: tuple[str, ...]) -> tuple[list[ResidualPolicy], list[str]]:
    """Load the specialists and check they share one base and cover distinct bodies.

    Raises:
        ConfigError: A file that is not a specialist, two for one body, or different bases.
    """
    if not specs:
        raise ConfigError("specialists=(): name at least one specialist file or run folder")
    policies = [load_residual(s) for s in specs]
    bodies = []
    for spec, pol in zip(specs, policies, strict=True):
        if pol.info.get("role") != "specialist" or len(pol.info["embodiments"]) != 1:
            raise ConfigError(
                f"specialists: {spec!r} is not a specialist (role={pol.info.get('role')!r})"
            )
        body = pol.info["embodiments"][0]
        if body in bodies:
            raise ConfigError(f"specialists: two specialists for embodiment {body!r}")
        bodies.append(body)
    ref = policies[0].base.state_dict()
    for spec, pol in zip(specs[1:], policies[1:], strict=True):
        other = pol.base.state_dict()
        same = ref.keys() == other.keys() and all(torch.equal(ref[k], other[k]) for k in ref)
        if not same:
            raise ConfigError(
                f"specialists: {spec!r} was trained on another base than "
                f"{specs[0]!r}; distillation needs one shared frozen base"
            )
    return policies, bodies


def _dagger_sim(cfg: DistillConfig, base_cfg, bodies: list[str]) -> SimConfig:
    return cfg.episode.sim_config(cfg.num_envs, bodies, model=base_cfg)


def train_distill(
    cfg: DistillConfig, out: str | Path, resume: bool = False, progress: bool = True
) -> Path:
    """Distil the specialists into a generalist; returns the path of ``generalist.pt``.

    Args:
        cfg: Resolved run config.
        out: Run folder (new, or holding checkpoints when ``resume``).
        resume: Continue after the newest finished phase.
        progress: Show progress bars.

    Raises:
        ConfigError: Bad folder state or specialists (see :func:`load_specialists`).
        DataError: Recorded rollouts missing or without the specialist extras.
    """
    if cfg.steps and not cfg.data:
        raise ConfigError(
            f"steps={cfg.steps}: offline steps need recorded rollouts in 'data' "
            "(or set steps=0 to start with DAgger rounds)"
        )
    specialists, bodies = load_specialists(cfg.specialists)
    run = prepare_run_dir(out, cfg, resume)
    seed_everything(cfg.seed)
    torch.set_num_threads(cfg.torch_threads)
    base = specialists[0].base
    head = ResidualHead(base.cfg.policy_state_dim, cfg.head)
    algo = Distillation(head, cfg.lr, cfg.weight_decay, cfg.descriptor_noise)
    gen = torch.Generator().manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    buffer = FeatureBuffer()
    if cfg.data:
        offline = samples_from_rollouts(cfg.data, bodies, progress=progress)
        head.update_normalization(offline["head_input"])
        buffer.extend(offline)
    ckpts = CheckpointManager(run)
    phase, step, elapsed, history = 0, 0, 0.0, []
    if resume:
        payload = ckpts.load(ckpts.latest())
        algo.load_state_dict(payload["algo"])
        phase, step = int(payload["phase"]), int(payload["step"])
        elapsed, history = float(payload["elapsed"]), list(payload["history"])
        restore_rng(payload["rng"])
        gen.set_state(payload["generator"])
        rng.bit_generator.state = payload["numpy_generator"]
        for r in range(phase - 1):
            buffer.extend(CheckpointManager.load(run / "dagger" / f"round_{r:02d}.pt"))
    logger = TrainLogger(run, enabled=cfg.tensorboard)
    total = cfg.steps + cfg.dagger_rounds * cfg.dagger_updates
    bar = progress_bar(total, "distill", "step", progress, initial=step)
    t_start = time.perf_counter() - elapsed

    def train(n: int) -> dict[str, float]:
        nonlocal step
        terms: dict[str, float] = {}
        for _ in range(n):
            terms = algo.update(buffer.sample(cfg.batch_size, gen))
            check_loss("distillation", step, terms["kl"], terms)
            step += 1
            if step % WEIGHT_CHECK_EVERY == 0:
                check_weights("distillation", step, algo.head)
            bar.update(1)
            if step % 20 == 0:
                logger.scalars(step, terms, "distill")
                bar.set_postfix(kl=f"{terms['kl']:.3f}", mae=f"{terms['mean_mae']:.3f}")
        return terms

    def save() -> None:
        check_weights("distillation", step, algo.head)
        ckpts.save(
            step,
            {
                "phase": phase,
                "step": step,
                "algo": algo.state_dict(),
                "rng": capture_rng(),
                "generator": gen.get_state(),
                "numpy_generator": rng.bit_generator.state,
                "history": history,
                "elapsed": time.perf_counter() - t_start,
            },
        )

    try:
        if phase == 0:
            if cfg.steps:
                terms = train(cfg.steps)
                history.append({"phase": "offline", "samples": len(buffer), **terms})
            phase = 1
            save()
        env = None
        for r in range(phase - 1, cfg.dagger_rounds):
            if env is None:
                env = ResidualNavEnv(
                    _dagger_sim(cfg, base.cfg, bodies), base, seed=cfg.seed * 7919 + r
                )
            samples, stats = collect_round(
                env,
                head.eval(),
                [s.head for s in specialists],
                cfg.beta(r),
                cfg.dagger_steps,
                rng,
                progress=False,
            )
            atomic_save_torch(samples, run / "dagger" / f"round_{r:02d}.pt")
            on_policy = algo.evaluate(samples)
            logger.scalars(
                r + 1,
                {
                    **{f"onpolicy_{k}": v for k, v in on_policy.items()},
                    **{f"rollout_{k}": v for k, v in stats.items()},
                },
                "dagger",
            )
            if len(buffer) == 0:
                head.update_normalization(samples["head_input"])
            buffer.extend(samples)
            terms = train(cfg.dagger_updates)
            history.append(
                {
                    "phase": f"dagger_{r}",
                    "beta": cfg.beta(r),
                    "samples": len(buffer),
                    **{f"onpolicy_{k}": v for k, v in on_policy.items()},
                    **{f"rollout_{k}": v for k, v in stats.items()},
                    **terms,
                }
            )
            phase = r + 2
            save()
    finally:
        bar.close()
        logger.close()
    summary: dict[str, Any] = {
        "embodiments": bodies,
        "steps": step,
        "wall_s": round(time.perf_counter() - t_start, 1),
        "samples": len(buffer),
        "history": history,
    }
    check_weights("distillation", step, algo.head)
    path = save_residual(
        run / ARTIFACT_NAMES["generalist"],
        base,
        head.eval(),
        "generalist",
        bodies,
        cfg,
        specialists[0].info["base_source"],
        extra=summary,
    )
    atomic_write_json(run / "summary.json", summary)
    return path
