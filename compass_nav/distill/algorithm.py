"""Distillation as an algorithm: the generalist's head, its optimiser and the KL loss.

The generalist is the frozen base plus one :class:`~compass_nav.rl.modules.ResidualHead`
(heteroscedastic) that reads the same inputs as every specialist's head, including the
embodiment descriptor as physical numbers. All specialists share the base, so a training
sample is just a feature vector with its label: the specialist's Gaussian
``N(mu_s, sigma_s)`` in fractions of the limits. The loss is ``KL(specialist || generalist)``
summed over the action dimensions the body can execute (a differential drive's ``vy`` is
masked out: whatever the specialist's Gaussian says there has no effect), averaged over the
batch. :class:`FeatureBuffer` holds the samples (offline recordings and DAgger rounds).
"""

from __future__ import annotations

from typing import Any

import torch

from compass_nav.models.xmobility.processing import action_limits
from compass_nav.rl.modules import ResidualHead

__all__ = ["SAMPLE_KEYS", "Distillation", "FeatureBuffer", "action_mask", "gaussian_kl"]

#: Fields of one distillation sample: (B, I) head input, (B, 3) base action, the specialist's
#: (B, 3) mean and std (fractions of the limits), (B, 3) mask of executable dimensions.
SAMPLE_KEYS = ("head_input", "base_action", "mean", "std", "mask")


def gaussian_kl(
    mean_p: torch.Tensor, std_p: torch.Tensor, mean_q: torch.Tensor, std_q: torch.Tensor
) -> torch.Tensor:
    """Element-wise KL(N(mean_p, std_p) || N(mean_q, std_q)) (same shape as the inputs)."""
    var_p, var_q = std_p.square(), std_q.square()
    return torch.log(std_q / std_p) + (var_p + (mean_p - mean_q).square()) / (2 * var_q) - 0.5


def action_mask(embodiment: torch.Tensor) -> torch.Tensor:
    """(B, 3) float: 1 where the body can move along the dimension (its limit is not 0)."""
    low, high = action_limits(embodiment)
    return ((high - low) > 1e-6).float()


class FeatureBuffer:
    """Growing in-memory store of distillation samples (:data:`SAMPLE_KEYS`)."""

    def __init__(self) -> None:
        self._parts: dict[str, list[torch.Tensor]] = {k: [] for k in SAMPLE_KEYS}
        self._cat: dict[str, torch.Tensor] | None = None

    def __len__(self) -> int:
        return sum(t.shape[0] for t in self._parts["mean"])

    def extend(self, samples: dict[str, torch.Tensor]) -> None:
        """Append a batch of samples (every key of :data:`SAMPLE_KEYS`, same length)."""
        n = samples["mean"].shape[0]
        for k in SAMPLE_KEYS:
            if samples[k].shape[0] != n:
                raise ValueError(
                    f"sample field {k!r} has {samples[k].shape[0]} rows, expected {n}"
                )
            self._parts[k].append(samples[k].detach().float().cpu())
        self._cat = None

    def tensors(self) -> dict[str, torch.Tensor]:
        """All samples concatenated (cached until the next :meth:`extend`)."""
        if self._cat is None:
            self._cat = {k: torch.cat(v) if v else torch.zeros(0) for k, v in self._parts.items()}
        return self._cat

    def sample(self, batch_size: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """A uniformly drawn minibatch (with replacement)."""
        data = self.tensors()
        idx = torch.randint(0, data["mean"].shape[0], (batch_size,), generator=generator)
        return {k: v[idx] for k, v in data.items()}


class Distillation:
    """Generalist head + AdamW + KL loss (no files, no loops: the runner owns those).

    Args:
        head: The generalist head (heteroscedastic).
        lr: Adam step size.
        weight_decay: AdamW weight decay.
        descriptor_noise: Std of the noise added to the descriptor features of training
            batches (see :class:`compass_nav.distill.config.DistillConfig`).
    """

    def __init__(
        self, head: ResidualHead, lr: float, weight_decay: float, descriptor_noise: float = 0.0
    ) -> None:
        self.head = head
        self.descriptor_noise = descriptor_noise
        self.optimizer = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=weight_decay)

    def loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        """Masked KL of a batch; also the mean absolute error of the means (for logging)."""
        residual, std = self.head(batch["head_input"])
        mean = batch["base_action"] + residual
        target = torch.clamp(batch["mean"], -1.0, 1.0)
        mask = batch["mask"]
        kl = (gaussian_kl(target, batch["std"], mean, std) * mask).sum(1).mean()
        with torch.no_grad():
            mae = ((mean - target).abs() * mask).sum() / mask.sum().clamp(min=1.0)
        return kl, {"kl": kl.item(), "mean_mae": mae.item()}

    def update(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One gradient step on ``batch``; returns the logged terms."""
        self.head.train()
        if self.descriptor_noise > 0:
            x = batch["head_input"].clone()
            d = x.shape[1] - self.head.norm_dim
            x[:, -d:] += self.descriptor_noise * torch.randn_like(x[:, -d:])
            batch = {**batch, "head_input": x}
        loss, terms = self.loss(batch)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.head.parameters(), 1.0)
        self.optimizer.step()
        return terms

    @torch.no_grad()
    def evaluate(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """Loss terms on ``batch`` without updating (e.g. a fresh on-policy round)."""
        return self.loss(batch)[1]

    def state_dict(self) -> dict[str, Any]:
        """Head and optimiser state."""
        return {"head": self.head.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Inverse of :meth:`state_dict`."""
        self.head.load_state_dict(state["head"])
        self.optimizer.load_state_dict(state["optimizer"])
