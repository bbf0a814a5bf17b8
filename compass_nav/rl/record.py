"""Recording specialist rollouts for distillation, in the demonstrations dataset format.

:func:`record_specialist` drives a specialist with the shared recorder
(:func:`compass_nav.data.record_episodes`: batched simulator, background writer thread,
progress bar, resumable) and stores, next to every observation, action and outcome, the
per-step extras the distiller needs (``extra_fn``):

``policy_state`` (T, S) float32
    The frozen base's fused policy state the specialist acted on.
``action_mean``, ``action_std`` (T, 3) float32
    The specialist's Gaussian, in fractions of the body's limits (the space it was trained
    and is distilled in).
``base_action`` (T, 3) float32
    The base's own action, same units (the residual is ``action_mean - base_action``).

The episodes are recorded with the specialist's mean action (what it does when deployed);
``stochastic=True`` samples the Gaussian instead, for more varied states.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from compass_nav.data import record_episodes
from compass_nav.rl.loader import ResidualAgent, load_agent
from compass_nav.sim.config import SimConfig
from compass_nav.utils.errors import ConfigError

__all__ = ["EXTRA_KEYS", "record_specialist", "specialist_extras"]

#: Per-step arrays :func:`specialist_extras` adds to each recorded episode.
EXTRA_KEYS = ("policy_state", "action_mean", "action_std", "base_action")


def specialist_extras(
    policy: ResidualAgent, obs: Mapping[str, np.ndarray], action: np.ndarray
) -> dict[str, np.ndarray]:
    """The recorder's ``extra_fn``: the agent's features and Gaussian of this step."""
    return {k: policy.last[k].astype(np.float32) for k in EXTRA_KEYS}


def record_specialist(
    spec: str | Path,
    out_dir: str | Path,
    num_episodes: int,
    seed: int = 0,
    num_envs: int = 24,
    families: tuple[str, ...] = ("warehouse", "office", "hall"),
    route_mode: str = "mapless",
    max_episode_steps: int = 300,
    stochastic: bool = False,
    progress: bool = True,
) -> Path:
    """Record ``num_episodes`` of a specialist on its own body (train scene seeds).

    Args:
        spec: Specialist file or run folder.
        out_dir: Dataset folder (resumed if it holds a dataset with the same settings).
        num_episodes: Finished episodes the dataset should hold.
        seed: Recorder seed.
        num_envs: Parallel env slots.
        families: Scene families.
        route_mode: ``mapless`` or ``planned``.
        max_episode_steps: Episode timeout.
        stochastic: Sample the Gaussian instead of acting with its mean.
        progress: Show a progress bar.

    Returns:
        The dataset folder.

    Raises:
        ConfigError: ``spec`` is not a specialist (a generalist has no single body).
    """
    agent = load_agent(spec, stochastic=stochastic)
    info = agent.module.info
    if info.get("role") != "specialist" or len(info.get("embodiments", ())) != 1:
        raise ConfigError(
            f"spec={str(spec)!r}: not a specialist file (role="
            f"{info.get('role')!r}, embodiments={info.get('embodiments')!r})"
        )
    base_cfg = agent.module.base.cfg
    sim = SimConfig(
        num_envs=num_envs,
        embodiments=(info["embodiments"][0],),
        families=tuple(families),
        split="train",
        image_height=base_cfg.image_height,
        image_width=base_cfg.image_width,
        render_rgb=base_cfg.use_rgb,
        render_depth=base_cfg.use_depth,
        route_mode=route_mode,
        max_episode_steps=max_episode_steps,
    )
    agent.name = f"specialist:{info['embodiments'][0]}"
    record_episodes(
        agent, out_dir, sim, num_episodes, seed=seed, extra_fn=specialist_extras, progress=progress
    )
    return Path(out_dir)
