"""Reward settings of the residual RL stage: weights of the simulator's reward terms, presets.

The terms are the simulator's pure functions (:mod:`compass_nav.sim.mdp.rewards`: geodesic
progress, distance, success, collision, time, smoothness); geodesic progress is the decrease
of the planner's cost-to-go, which keeps its last value while the robot's centre is in a
cell the planner forbids. The feature env (:class:`compass_nav.rl.env.ResidualNavEnv`) adds
the privileged proximity term (:func:`proximity_penalty`). This module
chooses the weights for RL and names two presets:

``compass``
    COMPASS's reward, rescaled by 1/200 so that returns stay near 1-10 and PPO's value
    targets are well conditioned: ``-0.005 * distance`` every step (theirs: ``-distance``),
    ``+10`` on success (theirs: +2000), ``-5`` on collision (theirs: -1000).
``shaped``
    The same three terms plus dense shaping: ``+1`` per metre of geodesic progress (the
    planner's cost-to-go, privileged, so the policy never sees it) and ``-0.02`` per unit
    change of the normalised action (smoothness). The ablation in docs/RL.md compares them.

:func:`reward_preset` returns a preset; :class:`RLRewardConfig` becomes the simulator's
:class:`~compass_nav.sim.config.RewardConfig` through :meth:`RLRewardConfig.sim_reward`.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from compass_nav.sim.config import RewardConfig
from compass_nav.utils.config import check, check_at_least, check_positive
from compass_nav.utils.errors import ConfigError

__all__ = [
    "REWARD_PRESETS",
    "RLRewardConfig",
    "proximity_penalty",
    "reward_preset",
]


@dataclasses.dataclass(frozen=True)
class RLRewardConfig:
    """Weights of the reward terms for residual PPO (0 disables a term).

    Attributes:
        progress: Per metre of geodesic progress towards the goal.
        distance: Per metre of straight-line distance to the goal, every step (use < 0).
        success: On the step the goal is reached.
        collision: On the step the footprint touches an obstacle (use < 0).
        time: Every step (use < 0 for a time penalty).
        smoothness: Per unit change of the action normalised by the body's limits (use < 0).
        proximity: Every step, times how far the footprint is inside ``proximity_margin`` of
            an obstacle, as a fraction of the margin (0 outside it, 1 when touching; use
            < 0). Privileged: it reads the map's clearance at the robot, which the policy
            never sees (:func:`proximity_penalty`). 0 (off) in both presets.
        proximity_margin: Gap between the footprint's circumscribed circle and the nearest
            obstacle below which ``proximity`` applies, m.
    """

    progress: float = 1.0
    distance: float = -0.005
    success: float = 10.0
    collision: float = -5.0
    time: float = 0.0
    smoothness: float = -0.02
    proximity: float = 0.0
    proximity_margin: float = 0.3

    def __post_init__(self) -> None:
        check_at_least("reward.success", self.success, 0)
        check(self.collision <= 0, "reward.collision", self.collision, "must be <= 0")
        check(
            self.distance <= 0,
            "reward.distance",
            self.distance,
            "must be <= 0 (it weights the distance still to go)",
        )
        check(self.smoothness <= 0, "reward.smoothness", self.smoothness, "must be <= 0")
        check(self.proximity <= 0, "reward.proximity", self.proximity, "must be <= 0")
        check_positive("reward.proximity_margin", self.proximity_margin, "m")

    def sim_reward(self) -> RewardConfig:
        """The simulator's reward config: these weights (the env adds the proximity term)."""
        terms = dataclasses.asdict(self)
        del terms["proximity"], terms["proximity_margin"]
        return RewardConfig(**terms)


REWARD_PRESETS: dict[str, RLRewardConfig] = {
    "compass": RLRewardConfig(
        progress=0.0, distance=-0.005, success=10.0, collision=-5.0, time=0.0, smoothness=0.0
    ),
    "shaped": RLRewardConfig(),
}


def proximity_penalty(clearance: np.ndarray, radius: np.ndarray, margin: float) -> np.ndarray:
    """How far each footprint is inside the margin around obstacles, in [0, 1].

    Args:
        clearance: (N,) distance from the robot's centre to the nearest obstacle, m.
        radius: (N,) circumscribed radius of each robot's footprint, m.
        margin: Gap below which the penalty starts, m (> 0).

    Returns:
        (N,) ``clip((margin - (clearance - radius)) / margin, 0, 1)``: 0 with at least
        ``margin`` of free space around the footprint, 1 when the footprint's circle touches.
    """
    gap = np.asarray(clearance, float) - np.asarray(radius, float)
    return np.clip((margin - gap) / margin, 0.0, 1.0)


def reward_preset(name: str) -> RLRewardConfig:
    """The named reward preset.

    Raises:
        ConfigError: For an unknown name (the known ones are listed).
    """
    if name not in REWARD_PRESETS:
        raise ConfigError(
            f"reward preset={name!r}: unknown; known presets: {', '.join(REWARD_PRESETS)}"
        )
    return REWARD_PRESETS[name]
