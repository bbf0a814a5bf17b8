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
from compass_nav.rl.agent import ResidualAgent, load_agent
from compass_nav.sim.config import EpisodeSpec
from compass_nav.utils.errors import ConfigError

__all__ = ["EXTRA_KEYS", "record_specialist", "specialist_extras"]

#: Per-step arrays :func:`specialist_extras` adds to each recorded episode.
EXTRA_KEYS = ("policy_state", "action_mean", "action_std", "base_action")


#: Default episodes of a specialist recording: mapless routes in every family, the base's
#: camera size.
RECORD_EPISODE = EpisodeSpec(route_mode="mapless", image_height=0, image_width=0)


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
    episode: EpisodeSpec | None = None,
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
        episode: The episodes (families, route mode, time limit; train scene seeds; camera
            size 0 is the base's). Default: mapless routes in every family.
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
    if episode is None:
        episode = RECORD_EPISODE
    if episode.split != "train":
        raise ConfigError(f"episode.split={episode.split!r}: specialists record on 'train' scenes")
    sim = episode.sim_config(num_envs, (info["embodiments"][0],), model=base_cfg)
    agent.name = f"specialist:{info['embodiments'][0]}"
    record_episodes(
        agent, out_dir, sim, num_episodes, seed=seed, extra_fn=specialist_extras, progress=progress
    )
    return Path(out_dir)
