"""Specialists and generalists as :class:`~compass_nav.policies.Policy` objects.

:class:`ResidualAgent` drives a :class:`~compass_nav.rl.modules.ResidualPolicy` on batched
simulator observations (deterministic: the Gaussian's mean, clipped to each body's limits)
and keeps the base's recurrent state per env. After each :meth:`ResidualAgent.act` it exposes
``last`` (policy state, action mean/std, base action), which the specialist recorder stores.
:func:`load_agent` opens a file or run folder; :mod:`compass_nav.rl.registry` makes
``make_policy`` (and so ``compass-nav evaluate run``) reach it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from compass_nav.contract.policy import Policy
from compass_nav.models.xmobility import processing as P
from compass_nav.models.xmobility.processing import obs_to_tensors
from compass_nav.rl.artifact import load_residual
from compass_nav.rl.modules import ResidualPolicy

__all__ = ["ResidualAgent", "load_agent"]


class ResidualAgent(Policy):
    """A residual policy (specialist or generalist) as a batched, recurrent :class:`Policy`.

    Args:
        module: The policy (frozen base + head).
        name: Name in reports.
        stochastic: Sample the Gaussian instead of taking its mean (exploration, ablations).
    """

    def __init__(
        self, module: ResidualPolicy, name: str = "residual", stochastic: bool = False
    ) -> None:
        self.module = module.eval()
        self.name = name
        self.stochastic = stochastic
        self._state = None
        self._prev: torch.Tensor | None = None
        self.last: dict[str, np.ndarray] = {}

    @torch.inference_mode()
    def act(self, obs: dict[str, np.ndarray], episode_start: np.ndarray) -> np.ndarray:
        """Actions (N, 3) SI within each row's limits; ``last`` holds the step's extras."""
        n = obs["goal"].shape[0]
        if self._state is None or self._state.h.shape[0] != n:
            self._state = self.module.initial(n)
            self._prev = torch.zeros(n, 3)
            episode_start = np.ones(n, bool)
        t = obs_to_tensors(obs)
        first = torch.as_tensor(np.asarray(episode_start, bool))
        self._state, out = self.module.act(t, self._prev, self._state, first)
        action = out["action"]
        if self.stochastic:
            u = out["action_mean"] + out["action_std"] * torch.randn_like(out["action_std"])
            action = P.scale_action(torch.clamp(u, -1.0, 1.0), t["embodiment"])
        self._prev = action
        self.last = {
            "policy_state": out["policy_state"].numpy(),
            "action_mean": out["action_mean"].numpy(),
            "action_std": out["action_std"].numpy(),
            "base_action": out["base_action"].numpy(),
        }
        return action.numpy().astype(np.float32)


def load_agent(spec: str | Path, stochastic: bool = False) -> ResidualAgent:
    """A :class:`ResidualAgent` for a specialist/generalist file or run folder."""
    module = load_residual(spec)
    role = module.info.get("role", "residual")
    return ResidualAgent(module, name=f"{role}:{spec}", stochastic=stochastic)
