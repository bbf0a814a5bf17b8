"""rsl-rl model adapters: the residual actor and the privileged critic.

rsl-rl 5.5's :class:`rsl_rl.algorithms.PPO` talks to its actor through a small duck-typed
interface (``forward(obs, masks, hidden_state, stochastic_output)``, the output
distribution's log-prob, entropy, parameters and KL, ``update_normalization``, ``reset``).
:class:`ResidualActor` implements it around a :class:`~compass_nav.rl.modules.ResidualHead`,
so the trained weights are exactly the head that is exported: the Gaussian's mean is the
base's action (observation group ``base_action``, computed by the env wrapper) plus the
head's residual, all in fractions of the body's limits. The critic is rsl-rl's own
:class:`rsl_rl.models.MLPModel` over the actor's inputs plus privileged simulator features.
"""

from __future__ import annotations

import torch
from rsl_rl.models import MLPModel
from tensordict import TensorDict
from torch import nn
from torch.distributions import Normal

from compass_nav.rl.config import HeadConfig, PPOConfig
from compass_nav.rl.modules import ResidualHead

__all__ = ["ACTOR_GROUPS", "CRITIC_GROUPS", "ResidualActor", "make_critic"]

#: Observation groups the actor reads (the head input, then the base action it adds to).
ACTOR_GROUPS = ("head_input",)
#: Observation groups the critic reads.
CRITIC_GROUPS = ("head_input", "privileged")


class ResidualActor(nn.Module):
    """Gaussian actor ``N(base_action + head.mean, head.std)`` with rsl-rl's model interface.

    Args:
        head: The residual head (its weights are the trained policy).
    """

    is_recurrent: bool = False

    def __init__(self, head: ResidualHead) -> None:
        super().__init__()
        self.head = head
        self._dist: Normal | None = None

    @classmethod
    def build(cls, policy_state_dim: int, cfg: HeadConfig) -> ResidualActor:
        """A fresh actor whose residual is exactly zero."""
        return cls(ResidualHead(policy_state_dim, cfg))

    def forward(
        self,
        obs: TensorDict,
        masks: torch.Tensor | None = None,
        hidden_state=None,
        stochastic_output: bool = False,
    ) -> torch.Tensor:
        """Mean action (B, 3), or a sample when ``stochastic_output`` (fractions of limits)."""
        residual, std = self.head(obs["head_input"])
        mean = obs["base_action"] + residual
        if not stochastic_output:
            return mean
        self._dist = Normal(mean, std, validate_args=False)
        return self._dist.sample()

    # ---- the distribution interface PPO uses (valid after a stochastic forward)
    @property
    def output_mean(self) -> torch.Tensor:  # noqa: D102
        return self._dist.mean

    @property
    def output_std(self) -> torch.Tensor:  # noqa: D102
        return self._dist.stddev

    @property
    def output_entropy(self) -> torch.Tensor:  # noqa: D102
        return self._dist.entropy().sum(-1)

    @property
    def output_distribution_params(self) -> tuple[torch.Tensor, torch.Tensor]:  # noqa: D102
        return (self._dist.mean, self._dist.stddev)

    def get_output_log_prob(self, outputs: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return self._dist.log_prob(outputs).sum(-1)

    def get_kl_divergence(self, old_params, new_params) -> torch.Tensor:  # noqa: D102
        old = Normal(*old_params, validate_args=False)
        new = Normal(*new_params, validate_args=False)
        return torch.distributions.kl_divergence(old, new).sum(-1)

    # ---- no recurrence of its own (the base's state lives in the env wrapper)
    def reset(self, dones: torch.Tensor | None = None, hidden_state=None) -> None:  # noqa: D102
        pass

    def get_hidden_state(self):  # noqa: D102
        return None

    def detach_hidden_state(self, dones: torch.Tensor | None = None) -> None:  # noqa: D102
        pass

    def update_normalization(self, obs: TensorDict) -> None:
        """Fold rollout inputs into the head's running statistics (train mode only)."""
        if self.training:
            self.head.update_normalization(obs["head_input"])


def make_critic(obs: TensorDict, cfg: PPOConfig) -> MLPModel:
    """rsl-rl's MLP value function over :data:`CRITIC_GROUPS`, inputs normalised."""
    groups = {"critic": list(CRITIC_GROUPS)}
    return MLPModel(
        obs,
        groups,
        "critic",
        1,
        hidden_dims=cfg.critic_hidden_dims,
        activation="elu",
        obs_normalization=True,
    )
