"""Configuration of residual RL: the head network, PPO, and one specialist's training run.

Frozen dataclasses validated on creation. :class:`RLConfig` is what ``compass-nav rl train``
builds from a YAML file (``configs/rl/*.yaml``) and ``key=value`` overrides, what
:func:`compass_nav.rl.runner.train_rl` runs, and what is written as ``config.yaml`` next to
every checkpoint. :func:`rl_preset` gives the named presets of ``configs/presets/rl.yaml``
(``debug`` for tests, ``default`` for real runs).
"""

from __future__ import annotations

import dataclasses

from compass_nav.contract.body import get_embodiment
from compass_nav.rl.rewards import RLRewardConfig
from compass_nav.sim.config import MOVED_TO_EPISODE, EpisodeSpec
from compass_nav.utils.config import (
    check,
    check_at_least,
    check_positive,
    check_within,
    resolve_config,
)

__all__ = ["HeadConfig", "PPOConfig", "RLConfig", "rl_preset"]

_ACTIVATIONS = ("elu", "relu", "tanh", "silu")


@dataclasses.dataclass(frozen=True)
class HeadConfig:
    """The residual head (:class:`compass_nav.rl.modules.ResidualHead`).

    Attributes:
        hidden_dims: Widths of the hidden layers.
        activation: Hidden activation (``elu``, ``relu``, ``tanh``, ``silu``).
        init_std: Initial standard deviation of the Gaussian, in fractions of the body's
            limits (COMPASS: 0.1).
        min_std, max_std: Range the standard deviation is clamped to.
        heteroscedastic: Standard deviation from the network (the generalist, which must
            reproduce several specialists' spreads) instead of one learned vector.
        input_clip: Normalised inputs are clipped to +-this (robustness on unseen bodies).
    """

    hidden_dims: tuple[int, ...] = (256, 128)
    activation: str = "elu"
    init_std: float = 0.1
    min_std: float = 0.01
    max_std: float = 1.0
    heteroscedastic: bool = False
    input_clip: float = 5.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden_dims", tuple(int(v) for v in self.hidden_dims))
        check(
            len(self.hidden_dims) >= 1 and min(self.hidden_dims) >= 1,
            "head.hidden_dims",
            self.hidden_dims,
            "must be a non-empty list of ints >= 1",
        )
        check(
            self.activation in _ACTIVATIONS,
            "head.activation",
            self.activation,
            f"must be one of {', '.join(_ACTIVATIONS)}",
        )
        check(
            0 < self.min_std <= self.init_std <= self.max_std,
            "head.init_std",
            self.init_std,
            "must satisfy 0 < min_std <= init_std <= max_std",
        )
        check_positive("head.input_clip", self.input_clip)


@dataclasses.dataclass(frozen=True)
class PPOConfig:
    """PPO settings (rsl-rl's :class:`rsl_rl.algorithms.PPO`); COMPASS's values by default.

    Every field but ``critic_hidden_dims`` is a keyword of that class, passed as is.

    Attributes:
        learning_rate: Initial Adam step size (adapted on the KL when ``schedule`` is
            ``adaptive``).
        schedule: ``adaptive`` (KL-driven) or ``fixed``.
        desired_kl: KL target of the adaptive schedule.
        clip_param: PPO ratio clip.
        num_learning_epochs, num_mini_batches: Passes over each rollout and its split.
        gamma, lam: Discount and GAE lambda.
        entropy_coef, value_loss_coef: Loss weights.
        max_grad_norm: Gradient norm clip.
        critic_hidden_dims: Widths of the critic's hidden layers.
    """

    learning_rate: float = 3e-4
    schedule: str = "adaptive"
    desired_kl: float = 0.01
    clip_param: float = 0.2
    num_learning_epochs: int = 5
    num_mini_batches: int = 4
    gamma: float = 0.99
    lam: float = 0.95
    entropy_coef: float = 0.005
    value_loss_coef: float = 1.0
    max_grad_norm: float = 1.0
    critic_hidden_dims: tuple[int, ...] = (256, 128)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "critic_hidden_dims", tuple(int(v) for v in self.critic_hidden_dims)
        )
        check_positive("ppo.learning_rate", self.learning_rate)
        check(
            self.schedule in ("adaptive", "fixed"),
            "ppo.schedule",
            self.schedule,
            "must be 'adaptive' or 'fixed'",
        )
        check_positive("ppo.desired_kl", self.desired_kl)
        check(0 < self.clip_param < 1, "ppo.clip_param", self.clip_param, "must be in (0, 1)")
        check_at_least("ppo.num_learning_epochs", self.num_learning_epochs, 1)
        check_at_least("ppo.num_mini_batches", self.num_mini_batches, 1)
        check(0 < self.gamma <= 1, "ppo.gamma", self.gamma, "must be in (0, 1]")
        check_within("ppo.lam", self.lam, 0, 1)
        check_at_least("ppo.entropy_coef", self.entropy_coef, 0)
        check_positive("ppo.value_loss_coef", self.value_loss_coef)
        check_positive("ppo.max_grad_norm", self.max_grad_norm)
        check(
            len(self.critic_hidden_dims) >= 1 and min(self.critic_hidden_dims) >= 1,
            "ppo.critic_hidden_dims",
            self.critic_hidden_dims,
            "must be a non-empty list of ints >= 1",
        )


@dataclasses.dataclass(frozen=True)
class RLConfig:
    """One residual-PPO specialist run.

    Attributes:
        embodiment: The body this specialist is trained for (registered name or YAML path).
        base: The frozen IL base: a checkpoint or run folder of ``compass-nav il train``, or
            ``random:<preset>`` (an untrained X-Mobility of that preset, for tests).
        episode: The training episodes: families, route mode (``mapless``, a straight line
            to the goal, is COMPASS's setting), time limit, camera size (0: the base model's
            input size); train-split scene seeds only.
        num_envs: Parallel simulated environments.
        steps_per_env: Rollout length per iteration (transitions = num_envs x this).
        iterations: PPO iterations (rollout + update).
        seed: Seeds torch, numpy and the simulator.
        save_interval: Iterations between checkpoints (the final one is always written).
        torch_threads: Threads for torch ops (the simulator's kernels use their own).
        time_budget_min: Stop after the iteration that crosses this many minutes of training
            wall time (counted across resumes) and write the specialist; 0 = no limit.
        reward: Reward weights (see :mod:`compass_nav.rl.rewards`).
        ppo: PPO settings.
        head: Residual head settings.
    """

    __moved_keys__ = MOVED_TO_EPISODE

    embodiment: str = "carter"
    base: str = "random:debug"
    episode: EpisodeSpec = EpisodeSpec(route_mode="mapless", image_height=0, image_width=0)
    num_envs: int = 32
    steps_per_env: int = 64
    iterations: int = 300
    seed: int = 0
    save_interval: int = 20
    torch_threads: int = 1
    time_budget_min: float = 0.0
    reward: RLRewardConfig = dataclasses.field(default_factory=RLRewardConfig)
    ppo: PPOConfig = dataclasses.field(default_factory=PPOConfig)
    head: HeadConfig = dataclasses.field(default_factory=HeadConfig)

    def __post_init__(self) -> None:
        get_embodiment(self.embodiment)  # raises ConfigError listing the known bodies
        check(
            bool(self.base),
            "base",
            self.base,
            "must name the IL checkpoint or run folder (or random:<preset> for tests)",
        )
        self.episode.check_trainable()
        check_at_least("num_envs", self.num_envs, 1)
        check_at_least("steps_per_env", self.steps_per_env, 2)
        check(
            self.num_envs * self.steps_per_env >= self.ppo.num_mini_batches,
            "num_envs",
            self.num_envs,
            "num_envs x steps_per_env must be >= ppo.num_mini_batches",
        )
        check_at_least("iterations", self.iterations, 1)
        check_at_least("seed", self.seed, 0)
        check_at_least("save_interval", self.save_interval, 1)
        check_at_least("torch_threads", self.torch_threads, 1)
        check(
            self.time_budget_min >= 0,
            "time_budget_min",
            self.time_budget_min,
            "must be >= 0 (0 = no limit)",
        )


def rl_preset(name: str, **overrides) -> RLConfig:
    """The named preset of ``configs/presets/rl.yaml`` with ``overrides`` merged over it.

    Nested sections may be given as dicts (merged key by key) or configs.

    Raises:
        ConfigError: For an unknown preset name (the known ones are listed).
    """
    return resolve_config(RLConfig, preset=name, presets="rl", values=overrides)
