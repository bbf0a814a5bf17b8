"""Reward settings of the residual RL stage: weights of the simulator's reward terms, presets.

The terms themselves are the simulator's pure functions (:mod:`compass_nav.sim.mdp.rewards`:
progress, distance, success, collision, time, smoothness); this module only chooses their
weights for RL and names two presets:

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

from compass_nav.sim.config import RewardConfig
from compass_nav.utils.config import check
from compass_nav.utils.errors import ConfigError

__all__ = ["REWARD_PRESETS", "RLRewardConfig", "reward_preset"]


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
    """

    progress: float = 1.0
    distance: float = -0.005
    success: float = 10.0
    collision: float = -5.0
    time: float = 0.0
    smoothness: float = -0.02

    def __post_init__(self) -> None:
        check(self.success >= 0, "reward.success", self.success, "must be >= 0")
        check(self.collision <= 0, "reward.collision", self.collision, "must be <= 0")
        check(self.distance <= 0, "reward.distance", self.distance,
              "must be <= 0 (it weights the distance still to go)")
        check(self.smoothness <= 0, "reward.smoothness", self.smoothness, "must be <= 0")

    def sim_reward(self) -> RewardConfig:
        """The simulator's reward config with these weights."""
        return RewardConfig(**dataclasses.asdict(self))


REWARD_PRESETS: dict[str, RLRewardConfig] = {
    "compass": RLRewardConfig(progress=0.0, distance=-0.005, success=10.0, collision=-5.0,
                              time=0.0, smoothness=0.0),
    "shaped": RLRewardConfig(),
}


def reward_preset(name: str) -> RLRewardConfig:
    """The named reward preset.

    Raises:
        ConfigError: For an unknown name (the known ones are listed).
    """
    if name not in REWARD_PRESETS:
        raise ConfigError(f"reward preset={name!r}: unknown; known presets: "
                          f"{', '.join(REWARD_PRESETS)}")
    return REWARD_PRESETS[name]
