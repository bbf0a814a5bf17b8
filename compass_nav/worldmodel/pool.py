"""The policy pool: recording its ground truth and the world model's training rollouts.

Wiring: ``compass-nav worldmodel collect`` calls :func:`collect_pool`, which writes under a
data folder::

    <data>/eval/<policy>.npz      ground truth: pool.eval_episodes paired episodes per policy
                                  on held-out scene seeds (every policy)
    <data>/train/<policy>.npz     training rollouts on training scene seeds ('train' policies)
    <data>/ground_truth.json      per-policy success / collision / timeout / travel time
    <data>/config.yaml            the resolved pipeline config

Finished files are skipped when the command runs again (resumable after a kill); the files are
written atomically. :func:`load_split` reads them back for training and evaluation.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from compass_nav.episodes import check_names
from compass_nav.utils.atomic import atomic_write_json
from compass_nav.utils.config import dump_yaml
from compass_nav.worldmodel.config import WorldModelPipelineConfig
from compass_nav.worldmodel.rollouts import Rollouts, load_rollouts, record_rollouts, rollout_path

__all__ = ["collect_pool", "ground_truth_row", "load_split"]

EVAL_SEED_OFFSET = 0
TRAIN_SEED_OFFSET = 7919  # training episodes never share generator seeds with ground truth


def ground_truth_row(r: Rollouts) -> dict:
    """Per-policy ground truth: rates with their standard errors and travel time."""
    n = r.num_episodes
    sr = float(r.success.mean())
    ok = r.success
    return {
        "episodes": n,
        "success": sr,
        "success_se": float(np.sqrt(max(sr * (1 - sr), 1e-12) / n)),
        "collision": float(r.collision_end.mean()),
        "timeout": float(r.timeout.mean()),
        "time_success": float(r.time[ok].mean()) if ok.any() else None,
        "time_all": float(r.time.mean()),
    }


def collect_pool(
    cfg: WorldModelPipelineConfig,
    data: str | Path,
    progress: bool = True,
    splits: tuple[str, ...] = ("eval", "train"),
) -> dict:
    """Record (or reuse) the pool's ground truth and training rollouts.

    Args:
        cfg: Pipeline config (``pool`` section).
        data: Output folder.
        progress: Show a progress bar.
        splits: Which of ``eval`` / ``train`` to record.

    Returns:
        ``{"ground_truth": {spec: row}, "seconds": float}`` (also written to
        ``ground_truth.json``).
    """
    pc = cfg.pool
    check_names([p.spec for p in pc.policies], pc.families, [pc.embodiment])  # before writing
    data = Path(data)
    data.mkdir(parents=True, exist_ok=True)
    dump_yaml(cfg, data / "config.yaml")
    jobs = []
    if "eval" in splits:
        jobs += [("eval", p.spec) for p in pc.policies]
    if "train" in splits:
        jobs += [("train", p.spec) for p in pc.policies if p.role == "train"]
    t0 = time.time()
    for split, spec in tqdm(jobs, desc="recording pool", disable=not progress, unit="policy"):
        path = rollout_path(data, split, spec)
        if path.is_file():
            continue
        r = record_rollouts(
            spec,
            pc.embodiment,
            pc.families,
            split="heldout" if split == "eval" else "train",
            num_episodes=pc.eval_episodes if split == "eval" else pc.train_episodes,
            seed=pc.seed + (EVAL_SEED_OFFSET if split == "eval" else TRAIN_SEED_OFFSET),
            image_size=pc.image_size,
            max_episode_steps=pc.max_episode_steps,
            block=pc.block,
        )
        r.save(path)
    truth = {}
    for p in pc.policies:
        path = rollout_path(data, "eval", p.spec)
        if path.is_file():
            truth[p.spec] = {"role": p.role, **ground_truth_row(load_rollouts(path))}
    out = {"ground_truth": truth, "seconds": time.time() - t0}
    atomic_write_json(data / "ground_truth.json", out)
    return out


def load_split(
    cfg: WorldModelPipelineConfig, data: str | Path, split: str, role: str | None = None
) -> dict[str, Rollouts]:
    """Rollouts of the pool's policies (optionally one role) on ``eval`` or ``train``."""
    out = {}
    for p in cfg.pool.policies:
        if role is not None and p.role != role:
            continue
        if split == "train" and p.role != "train":
            continue
        out[p.spec] = load_rollouts(rollout_path(data, split, p.spec))
    return out
