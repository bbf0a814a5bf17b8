"""Distillation samples: from recorded specialist rollouts, and from on-policy DAgger rounds.

Both sources produce dicts of :data:`compass_nav.distill.algorithm.SAMPLE_KEYS` tensors.

* :func:`samples_from_rollouts` reads folders written by :mod:`compass_nav.rl.record` (the
  demonstrations format with the ``policy_state``, ``action_mean``, ``action_std`` and
  ``base_action`` extras) and rebuilds each step's head input from the recorded policy
  state, goal, speed and descriptor. Images are not needed: the base is frozen, so its
  policy state is what it was when recorded.
* :func:`collect_round` runs the feature env (:class:`compass_nav.rl.env.ResidualNavEnv`)
  over every training body: each env executes its specialist's mean with probability
  ``beta`` (drawn per episode) and the generalist's otherwise, and every visited state is
  labelled with that body's specialist, computed on the same base features (so a label
  costs one small MLP call).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from compass_nav.data import DemoDataset
from compass_nav.distill.algorithm import SAMPLE_KEYS, action_mask
from compass_nav.rl.env import ResidualNavEnv
from compass_nav.rl.modules import ResidualHead, head_inputs
from compass_nav.rl.record import EXTRA_KEYS
from compass_nav.utils.errors import DataError

__all__ = ["collect_round", "samples_from_rollouts"]


def samples_from_rollouts(
    folders: Sequence[str | Path], bodies: Sequence[str] | None = None, progress: bool = False
) -> dict[str, torch.Tensor]:
    """Every recorded step of the given specialist datasets as distillation samples.

    Args:
        folders: Datasets written by ``compass-nav rl record``.
        bodies: Keep only episodes of these embodiments (default: all).
        progress: Show a progress bar over episodes.

    Raises:
        DataError: A folder is not a dataset, records validation or held-out scenes, or its
            episodes lack the specialist extras.
    """
    parts: dict[str, list[torch.Tensor]] = {k: [] for k in SAMPLE_KEYS}
    for folder in folders:
        ds = DemoDataset(folder, embodiments=bodies)
        ds.check_trainable()
        for i in tqdm(
            range(len(ds)), desc=f"reading {Path(folder).name}", unit="ep", disable=not progress
        ):
            ep = ds[i]
            missing = [k for k in EXTRA_KEYS if k not in ep]
            if missing:
                raise DataError(
                    f"{ds.paths[i]}: no {', '.join(missing)}: not a specialist "
                    "recording (use compass-nav rl record)"
                )
            t = len(ep["action"])
            emb = torch.from_numpy(np.repeat(ep["embodiment"][None], t, 0).astype(np.float32))
            x = head_inputs(
                torch.from_numpy(ep["policy_state"].astype(np.float32)),
                torch.from_numpy(ep["goal"].astype(np.float32)),
                torch.from_numpy(ep["speed"].astype(np.float32)),
                emb,
            )
            parts["head_input"].append(x)
            parts["base_action"].append(torch.from_numpy(ep["base_action"].astype(np.float32)))
            parts["mean"].append(torch.from_numpy(ep["action_mean"].astype(np.float32)))
            parts["std"].append(torch.from_numpy(ep["action_std"].astype(np.float32)))
            parts["mask"].append(action_mask(emb))
    if not parts["mean"]:
        raise DataError(
            f"no episodes in {', '.join(map(str, folders))}"
            + (f" for embodiments {list(bodies)}" if bodies else "")
        )
    return {k: torch.cat(v) for k, v in parts.items()}


@torch.no_grad()
def collect_round(
    env: ResidualNavEnv,
    generalist: ResidualHead,
    specialists: Sequence[ResidualHead],
    beta: float,
    steps: int,
    rng: np.random.Generator,
    progress: bool = False,
) -> tuple[dict[str, torch.Tensor], dict[str, float]]:
    """One DAgger round: ``steps`` env steps, every state labelled by its body's specialist.

    Args:
        env: Feature env over the training bodies; slot ``e``'s body is
            ``specialists[env.sim.env_body_index[e]]``.
        generalist: The generalist head being trained.
        specialists: One head per body, in the env's embodiment order.
        beta: Probability that an episode is driven by the specialist instead.
        steps: Env steps per slot.
        rng: Draws which episodes the specialist drives.
        progress: Show a progress bar.

    Returns:
        ``(samples, stats)``: samples as :data:`SAMPLE_KEYS` tensors (steps x num_envs rows);
        stats: ``success``/``collision`` rates and ``episodes`` count of the episodes the
        generalist drove that finished in this round.
    """
    body = torch.as_tensor(env.sim.env_body_index)
    n = env.num_envs
    use_spec = torch.as_tensor(rng.random(n) < beta)
    parts: dict[str, list[torch.Tensor]] = {k: [] for k in SAMPLE_KEYS}
    outcomes = []
    obs = env.get_observations()
    for _ in tqdm(range(steps), desc=f"dagger beta={beta:.2f}", unit="step", disable=not progress):
        x, base_u = obs["head_input"], obs["base_action"]
        mean_s = torch.zeros(n, 3)
        std_s = torch.ones(n, 3)
        for k, head in enumerate(specialists):
            rows = body == k
            if rows.any():
                r, s = head(x[rows])
                mean_s[rows] = base_u[rows] + r
                std_s[rows] = s
        mean_g = base_u + generalist(x)[0]
        parts["head_input"].append(x.clone())
        parts["base_action"].append(base_u.clone())
        parts["mean"].append(mean_s)
        parts["std"].append(std_s)
        parts["mask"].append(action_mask(env.descriptors))
        action = torch.where(use_spec[:, None], mean_s, mean_g)
        obs, _, dones, extras = env.step(action)
        ended = dones.numpy().astype(bool)
        ep = extras["episode"]
        driven_by_gen = ~use_spec.numpy()[ended]
        for i in np.flatnonzero(driven_by_gen):
            outcomes.append((bool(ep["success"][i]), bool(ep["collision"][i])))
        fresh = torch.as_tensor(rng.random(n) < beta)
        use_spec = torch.where(dones, fresh, use_spec)
    samples = {k: torch.cat(v) for k, v in parts.items()}
    stats = {"episodes": float(len(outcomes))}
    if outcomes:
        o = np.array(outcomes, dtype=np.float64)
        stats.update(success=float(o[:, 0].mean()), collision=float(o[:, 1].mean()))
    return samples, stats
