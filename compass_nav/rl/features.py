"""Inputs of the residual heads beyond the base's policy state, in torch ops only.

The residual actor of a specialist and the distilled generalist read the same inputs: the
frozen base's fused policy state, goal features, the measured speed as fractions of the
body's limits, and the embodiment descriptor. Everything here is a pure tensor function
(no branching on values), so :class:`compass_nav.rl.modules.ResidualPolicy` traces it into
the exported graph and no consumer re-implements it.

The descriptor is normalised with fixed physical reference values (:data:`DESCRIPTOR_REF`,
:data:`DESCRIPTOR_SCALE`), not with statistics of the training bodies: six training bodies
share several fields exactly (camera field of view), and data-derived scales would blow a
held-out body's differing value up to hundreds of standard deviations.
"""

from __future__ import annotations

import torch

from compass_nav.contract.body import DESCRIPTOR_REF, DESCRIPTOR_SCALE
from compass_nav.models.xmobility import processing as P

__all__ = [
    "DESCRIPTOR_REF",
    "DESCRIPTOR_SCALE",
    "GOAL_DIM",
    "GOAL_SCALE",
    "SPEED_DIM",
    "descriptor_features",
    "goal_features",
    "speed_features",
]

#: Metres divisor of the goal position and distance features.
GOAL_SCALE = 5.0
GOAL_DIM = 5  # x, y, cos(yaw), sin(yaw), distance
SPEED_DIM = 3


def goal_features(goal: torch.Tensor) -> torch.Tensor:
    """Robot-frame goal (B, 3) ``(x, y, yaw)`` -> (B, 5) ``(x, y, cos yaw, sin yaw, dist)``.

    Positions and the distance are divided by :data:`GOAL_SCALE` metres.
    """
    g = goal.float()
    xy = g[:, :2] * (1.0 / GOAL_SCALE)
    dist = torch.sqrt((xy * xy).sum(1, keepdim=True) + 1e-12)
    return torch.cat([xy, torch.cos(g[:, 2:3]), torch.sin(g[:, 2:3]), dist], 1)


def speed_features(speed: torch.Tensor, embodiment: torch.Tensor) -> torch.Tensor:
    """Measured body speed (B, 3) -> fractions of the body's limits in [-1, 1], (B, 3)."""
    return P.normalise_action(speed, embodiment)


def descriptor_features(embodiment: torch.Tensor) -> torch.Tensor:
    """Embodiment descriptor (B, D) -> ``(descriptor - ref) / scale`` with fixed constants."""
    ref = torch.tensor(DESCRIPTOR_REF, dtype=torch.float32, device=embodiment.device)
    scale = torch.tensor(DESCRIPTOR_SCALE, dtype=torch.float32, device=embodiment.device)
    return (embodiment.float() - ref) / scale
