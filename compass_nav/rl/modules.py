"""The residual head and the exportable base + residual policy (specialists and generalist).

Data flow of one control step (batch B)::

    obs, prev_action, (h, z) --frozen XMobility.observe--> policy_state, u_base, path, (h', z')
    [policy_state, goal_features, speed_features] --running normalisation, clip--+
    descriptor_features (fixed physical scaling) ---------------------------------+--> MLP
        --> residual mean r (B, 3) and std s (B, 3), fractions of the body's limits
    mean  = u_base + r                      (the Gaussian PPO samples around / distils)
    action = scale_action(clamp(mean, -1, 1), descriptor)   SI, inside the body's limits

:class:`ResidualHead` is the only trained part. Its last layer starts at zero, so a new head
acts exactly like the base. A specialist's head has one learned std vector; the generalist's
(``heteroscedastic``) predicts the std too, since it must reproduce every specialist's spread
from the descriptor. :class:`ResidualPolicy` is a plain ``nn.Module`` holding the frozen base
and a head, with the same named-tensor step as the base (:meth:`ResidualPolicy.step`), so the
export stage traces composition and clipping into the graph. The rsl-rl adapter around the
head is :mod:`compass_nav.rl.actor`; artefact files are read and written by
:mod:`compass_nav.rl.artifact`.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from compass_nav.contract.body import DESCRIPTOR_DIM
from compass_nav.models.xmobility import RSSMState, XMobility
from compass_nav.models.xmobility import processing as P
from compass_nav.rl.config import HeadConfig
from compass_nav.rl.features import (
    GOAL_DIM,
    SPEED_DIM,
    descriptor_features,
    goal_features,
    speed_features,
)

__all__ = ["EXTRA_INPUT_DIM", "ResidualHead", "ResidualPolicy", "head_inputs"]

#: Head input columns after the policy state: goal, speed and descriptor features.
EXTRA_INPUT_DIM = GOAL_DIM + SPEED_DIM + DESCRIPTOR_DIM

_ACT = {"elu": nn.ELU, "relu": nn.ReLU, "tanh": nn.Tanh, "silu": nn.SiLU}


def head_inputs(
    policy_state: torch.Tensor, goal: torch.Tensor, speed: torch.Tensor, embodiment: torch.Tensor
) -> torch.Tensor:
    """Concatenated head input (B, policy_state_dim + 5 + 3 + D), descriptor last.

    Args:
        policy_state: (B, S) the base's fused policy state.
        goal: (B, 3) robot-frame goal (x, y, yaw).
        speed: (B, 3) measured body speed (vx, vy, wz).
        embodiment: (B, D) descriptor.
    """
    return torch.cat(
        [
            policy_state.float(),
            goal_features(goal),
            speed_features(speed, embodiment),
            descriptor_features(embodiment),
        ],
        1,
    )


class ResidualHead(nn.Module):
    """MLP from :func:`head_inputs` to a Gaussian residual (mean, std), each (B, 3).

    The non-descriptor inputs are normalised with running statistics (buffers, updated by
    :meth:`update_normalization` from rollouts, frozen otherwise) and clipped; the descriptor
    part is already scaled by fixed constants (see :mod:`compass_nav.rl.features`).
    """

    def __init__(self, policy_state_dim: int, cfg: HeadConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.policy_state_dim = policy_state_dim
        self.norm_dim = policy_state_dim + GOAL_DIM + SPEED_DIM
        self.input_dim = self.norm_dim + DESCRIPTOR_DIM
        self.register_buffer("obs_mean", torch.zeros(self.norm_dim))
        self.register_buffer("obs_var", torch.ones(self.norm_dim))
        self.register_buffer("obs_count", torch.zeros((), dtype=torch.float64))
        layers: list[nn.Module] = []
        width = self.input_dim
        for h in cfg.hidden_dims:
            layers += [nn.Linear(width, h), _ACT[cfg.activation]()]
            width = h
        out = 6 if cfg.heteroscedastic else 3
        last = nn.Linear(width, out)
        # A zero last layer makes the residual exactly 0: training starts from the base.
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        if cfg.heteroscedastic:
            with torch.no_grad():
                last.bias[3:] = math.log(cfg.init_std)
        else:
            self.log_std = nn.Parameter(torch.full((3,), math.log(cfg.init_std)))
        self.mlp = nn.Sequential(*layers, last)
        self._log_std_min = math.log(cfg.min_std)
        self._log_std_max = math.log(cfg.max_std)

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise and clip the running-statistics part of the input (B, input_dim)."""
        head, descr = x[:, : self.norm_dim], x[:, self.norm_dim :]
        std = torch.sqrt(self.obs_var + 1e-4)
        head = torch.clamp((head - self.obs_mean) / std, -self.cfg.input_clip, self.cfg.input_clip)
        return torch.cat([head, descr], 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Input (B, input_dim) -> residual mean (B, 3) and std (B, 3)."""
        out = self.mlp(self.normalise(x))
        if self.cfg.heteroscedastic:
            mean, log_std = out[:, :3], out[:, 3:]
        else:
            mean, log_std = out, self.log_std.expand_as(out)
        std = torch.exp(torch.clamp(log_std, self._log_std_min, self._log_std_max))
        return mean, std

    @torch.no_grad()
    def update_normalization(self, x: torch.Tensor) -> None:
        """Fold a batch (B, input_dim) into the running mean and variance (Chan et al.)."""
        v = x[:, : self.norm_dim].double()
        n = float(v.shape[0])
        if n == 0:
            return
        mean_b = v.mean(0)
        var_b = v.var(0, unbiased=False)
        total = self.obs_count + n
        delta = mean_b - self.obs_mean.double()
        new_mean = self.obs_mean.double() + delta * (n / total)
        m2 = (
            self.obs_var.double() * self.obs_count
            + var_b * n
            + delta.square() * self.obs_count * n / total
        )
        self.obs_mean.copy_(new_mean.float())
        self.obs_var.copy_((m2 / total).float())
        self.obs_count.fill_(float(total))


class ResidualPolicy(nn.Module):
    """Frozen IL base + residual head, composed and clipped in torch ops (exportable).

    Args:
        base: The X-Mobility base; frozen here (eval mode, no gradients).
        head: The trained residual head.
        info: Plain metadata kept with the module (kind, embodiment, training command...).
    """

    #: Inputs and outputs of :meth:`step` / :meth:`forward`, in order (the export contract).
    input_names: tuple[str, ...] = (
        "rgb",
        "depth",
        "speed",
        "route",
        "goal",
        "embodiment",
        "prev_action",
        "h",
        "z",
    )
    output_names: tuple[str, ...] = (
        "action",
        "path",
        "h_new",
        "z_new",
        "action_mean",
        "action_std",
    )
    #: Width of the ``embodiment`` input: the head reads the whole descriptor.
    descriptor_dim: int = DESCRIPTOR_DIM

    def __init__(self, base: XMobility, head: ResidualHead, info: dict | None = None) -> None:
        super().__init__()
        self.base = base.eval()
        for p in self.base.parameters():
            p.requires_grad_(False)
        self.head = head
        self.info = dict(info or {})

    def train(self, mode: bool = True) -> ResidualPolicy:
        """Train mode for the head only: the base stays in eval mode (frozen)."""
        super().train(mode)
        self.base.eval()
        return self

    def initial(self, batch_size: int) -> RSSMState:
        """Zero recurrent state of the base for ``batch_size`` rows."""
        return self.base.initial(batch_size)

    def act(
        self,
        obs: dict[str, torch.Tensor],
        prev_action: torch.Tensor,
        state: RSSMState,
        is_first: torch.Tensor,
    ) -> tuple[RSSMState, dict[str, torch.Tensor]]:
        """One control step on a batch (see the module docstring).

        Args:
            obs: Tensors of the observation contract (``rgb``, ``depth``, ``speed``, ``route``,
                ``goal``, ``embodiment``), see ``processing.obs_to_tensors``.
            prev_action: (B, 3) previous executed command, SI.
            state: Base recurrent state.
            is_first: (B,) bool, rows starting an episode.

        Returns:
            ``(state, out)`` with ``action`` (B, 3) SI within limits, ``action_mean`` and
            ``action_std`` (B, 3) the Gaussian in fractions of the limits, ``base_action``
            (B, 3) the base's fractions, ``policy_state`` (B, S), ``head_input`` (B, I),
            ``path`` (B, P, 2).
        """
        state, b = self.base.observe(obs, prev_action, state, is_first)
        x = head_inputs(b["policy_state"], obs["goal"], obs["speed"], obs["embodiment"])
        residual, std = self.head(x)
        mean = b["action_norm"] + residual
        action = P.scale_action(torch.clamp(mean, -1.0, 1.0), obs["embodiment"])
        out = {
            "action": action,
            "action_mean": mean,
            "action_std": std,
            "base_action": b["action_norm"],
            "policy_state": b["policy_state"],
            "head_input": x,
            "path": b["path"],
        }
        return state, out

    def step(
        self,
        rgb: torch.Tensor,
        depth: torch.Tensor,
        speed: torch.Tensor,
        route: torch.Tensor,
        goal: torch.Tensor,
        embodiment: torch.Tensor,
        prev_action: torch.Tensor,
        h: torch.Tensor,
        z: torch.Tensor,
    ) -> tuple[torch.Tensor, ...]:
        """Deterministic control step with explicit recurrent tensors (the export path).

        Same inputs as :meth:`XMobility.step`: start an episode with zeros for
        ``prev_action``, ``h`` and ``z`` and feed back ``action``, ``h_new``, ``z_new``.

        Returns:
            ``action`` (B, 3) SI within limits, ``path`` (B, P, 2), ``h_new``, ``z_new``,
            ``action_mean`` and ``action_std`` (B, 3) in fractions of the limits.
        """
        obs = {
            "rgb": rgb,
            "depth": depth,
            "speed": speed,
            "route": route,
            "goal": goal,
            "embodiment": embodiment,
        }
        first = torch.zeros(speed.shape[0], dtype=torch.bool, device=speed.device)
        state, out = self.act(obs, prev_action, RSSMState(h, z), first)
        return (
            out["action"],
            out["path"],
            state.h,
            state.z,
            out["action_mean"],
            out["action_std"],
        )

    forward = step

    def dummy_inputs(self, batch_size: int = 1) -> tuple[torch.Tensor, ...]:
        """Example inputs of :meth:`step` (zeros, the base's image size) for tracing."""
        c = self.base.cfg
        b = batch_size
        return (
            torch.zeros(b, c.image_height, c.image_width, 3, dtype=torch.uint8),
            torch.zeros(b, c.image_height, c.image_width),
            torch.zeros(b, 3),
            torch.zeros(b, c.route_points, 2),
            torch.zeros(b, 3),
            torch.zeros(b, self.descriptor_dim),
            torch.zeros(b, 3),
            torch.zeros(b, c.deter_dim),
            torch.zeros(b, c.stoch_dim),
        )
