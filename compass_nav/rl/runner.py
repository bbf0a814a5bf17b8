"""Residual PPO runner: one specialist per embodiment on the frozen IL base.

``compass-nav rl train`` (:mod:`compass_nav.rl.cli`) and the pipeline
(:mod:`compass_nav.pipeline.runner`) call :func:`train_rl`. The algorithm is rsl-rl's PPO
wired in :mod:`compass_nav.rl.ppo`; this module owns the loop: rollouts in the feature env
(:class:`compass_nav.rl.env.ResidualNavEnv`), updates, TensorBoard scalars, a progress bar
with the running success rate, atomic checkpoints (PPO state, normalisers, every RNG) and the
final ``specialist.pt`` (:mod:`compass_nav.rl.artifact`).

Run folder: ``config.yaml`` (resolved :class:`~compass_nav.rl.config.RLConfig`),
``checkpoints/step_NNNNNNNN.pt`` (numbered by iteration), ``tb/``, ``specialist.pt``,
``summary.json``. ``--resume`` restores the newest checkpoint and continues with fresh
episodes (the simulator's own state is not checkpointed: a resumed run is equivalent, not
bit-identical, to an uninterrupted one).
"""

from __future__ import annotations

import collections
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from compass_nav.learning.common import (
    CheckpointManager,
    TrainLogger,
    capture_rng,
    prepare_run_dir,
    restore_rng,
    seed_everything,
)
from compass_nav.rl.artifact import ARTIFACT_NAMES, save_residual
from compass_nav.rl.base import load_base
from compass_nav.rl.config import RLConfig
from compass_nav.rl.env import ResidualNavEnv
from compass_nav.rl.ppo import build_ppo
from compass_nav.sim.config import SimConfig
from compass_nav.utils.atomic import atomic_write_json
from compass_nav.utils.finite import check_loss, check_weights
from compass_nav.utils.progress import progress_bar

__all__ = ["EpisodeStats", "rl_sim_config", "train_rl"]


def rl_sim_config(
    cfg: RLConfig,
    base_cfg,
    embodiments: tuple[str, ...] | None = None,
    num_envs: int | None = None,
) -> SimConfig:
    """Simulator settings of a residual run: ``cfg.episode`` with the base's camera streams.

    Args:
        cfg: The run config (episodes, rewards).
        base_cfg: The base's :class:`XMobilityConfig` (image size when ``cfg.episode``
            leaves it at 0, and the streams rendered).
        embodiments: Bodies (default: ``cfg.embodiment`` only).
        num_envs: Env slots (default: ``cfg.num_envs``).
    """
    return cfg.episode.sim_config(
        num_envs or cfg.num_envs,
        embodiments or (cfg.embodiment,),
        model=base_cfg,
        reward=cfg.reward.sim_reward(),
    )


class EpisodeStats:
    """Outcomes of the most recent finished episodes (a sliding window)."""

    def __init__(self, window: int = 200) -> None:
        self._eps: collections.deque = collections.deque(maxlen=window)
        self.total = 0

    def add(self, episode: dict[str, np.ndarray]) -> None:
        """Append the episodes of one env step (arrays from the env's ``extras``)."""
        for i in range(len(episode["success"])):
            self._eps.append(
                (
                    bool(episode["success"][i]),
                    bool(episode["collision"][i]),
                    bool(episode["timeout"][i]),
                    float(episode["return"][i]),
                    float(episode["length"][i]),
                )
            )
            self.total += 1

    def summary(self) -> dict[str, float]:
        """Success/collision/timeout rates, mean return and length over the window."""
        if not self._eps:
            return {}
        mean = np.array(self._eps, dtype=np.float64).mean(0)
        keys = ("success", "collision", "timeout", "return", "length")
        return {k: float(v) for k, v in zip(keys, mean, strict=True)}


def train_rl(
    cfg: RLConfig,
    out: str | Path,
    resume: bool = False,
    progress: bool = True,
    tensorboard: bool = True,
) -> Path:
    """Train one residual specialist; returns the path of ``specialist.pt``.

    Args:
        cfg: Resolved run config.
        out: Run folder (new, or holding checkpoints when ``resume``).
        resume: Continue from the newest checkpoint in ``out``.
        progress: Show a progress bar.
        tensorboard: Write TensorBoard scalars to ``out/tb``.

    Raises:
        ConfigError: Bad folder state (see :func:`prepare_run_dir`).
        ModelError: The base cannot be loaded.
    """
    run = prepare_run_dir(out, cfg, resume)
    seed_everything(cfg.seed)
    torch.set_num_threads(cfg.torch_threads)
    base = load_base(cfg.base, seed=cfg.seed)
    ckpts = CheckpointManager(run)
    start, elapsed, env_steps, payload = 0, 0.0, 0, None
    if resume:
        payload = ckpts.load(ckpts.latest())
        start, elapsed = int(payload["iteration"]), float(payload["elapsed"])
        env_steps = int(payload["env_steps"])
    env = ResidualNavEnv(
        rl_sim_config(cfg, base.cfg),
        base,
        seed=cfg.seed * 7919 + start,
        proximity_weight=cfg.reward.proximity,
        proximity_margin=cfg.reward.proximity_margin,
    )
    alg = build_ppo(env, cfg.ppo, cfg.head, cfg.steps_per_env)
    if payload is not None:
        alg.load(payload["ppo"], None, strict=True)
        restore_rng(payload["rng"])
    logger = TrainLogger(run, enabled=tensorboard)
    stats = EpisodeStats()
    bar = progress_bar(cfg.iterations, f"rl {cfg.embodiment}", "it", progress, initial=start)
    obs = env.get_observations()
    alg.train_mode()
    t_start = time.perf_counter() - elapsed
    iteration = start
    try:
        for it in range(start, cfg.iterations):
            t0 = time.perf_counter()
            with torch.inference_mode():
                for _ in range(cfg.steps_per_env):
                    actions = alg.act(obs)
                    obs, rewards, dones, extras = env.step(actions)
                    alg.process_env_step(obs, rewards, dones, extras)
                    stats.add(extras["episode"])
                alg.compute_returns(obs)
            t1 = time.perf_counter()
            try:
                losses = alg.update()
            except RuntimeError:
                # A diverged minibatch step leaves NaN weights that break the next one's
                # action distribution: report the divergence, not torch's message.
                check_weights("residual PPO actor", it + 1, alg.actor)
                check_weights("residual PPO critic", it + 1, alg.critic)
                raise
            check_loss("residual PPO", it + 1, sum(losses.values()), losses)
            t2 = time.perf_counter()
            env_steps += cfg.num_envs * cfg.steps_per_env
            ep = stats.summary()
            with torch.no_grad():
                std = alg.actor.head(obs["head_input"][:1])[1].mean().item()
            logger.scalars(it + 1, {**losses, "lr": alg.learning_rate, "action_std": std}, "ppo")
            logger.scalars(it + 1, ep, "episode")
            logger.scalars(
                it + 1,
                {
                    "collect_s": t1 - t0,
                    "update_s": t2 - t1,
                    "env_steps": env_steps,
                    "steps_per_s": cfg.num_envs * cfg.steps_per_env / (t2 - t0),
                },
                "time",
            )
            bar.update(1)
            if ep:
                bar.set_postfix(
                    sr=f"{ep['success']:.2f}",
                    col=f"{ep['collision']:.2f}",
                    ret=f"{ep['return']:.2f}",
                    std=f"{std:.3f}",
                )
            iteration = it + 1
            over_budget = (
                cfg.time_budget_min > 0
                and time.perf_counter() - t_start >= 60.0 * cfg.time_budget_min
            )
            if iteration % cfg.save_interval == 0 or iteration == cfg.iterations or over_budget:
                check_weights("residual PPO actor", iteration, alg.actor)
                check_weights("residual PPO critic", iteration, alg.critic)
                ckpts.save(
                    iteration,
                    {
                        "iteration": iteration,
                        "ppo": alg.save(),
                        "rng": capture_rng(),
                        "env_steps": env_steps,
                        "elapsed": time.perf_counter() - t_start,
                    },
                )
            if over_budget:
                break
    finally:
        bar.close()
        logger.close()
    wall = time.perf_counter() - t_start
    summary: dict[str, Any] = {
        "embodiment": cfg.embodiment,
        "iterations": iteration,
        "stopped_by_time_budget": iteration < cfg.iterations,
        "env_steps": env_steps,
        "wall_s": round(wall, 1),
        "train_window": stats.summary(),
        "episodes": stats.total,
    }
    check_weights("residual PPO actor", iteration, alg.actor)
    path = save_residual(
        run / ARTIFACT_NAMES["specialist"],
        base,
        alg.actor.head,
        "specialist",
        [cfg.embodiment],
        cfg,
        cfg.base,
        extra=summary,
    )
    atomic_write_json(run / "summary.json", summary)
    return path
