"""Configuration of residual RL: the head network, PPO, and one specialist's training run.

Frozen dataclasses validated on creation. :class:`RLConfig` is what ``compass-nav rl train``
builds from a YAML file (``configs/rl/*.yaml``) and ``key=value`` overrides, what
:func:`compass_nav.rl.runner.train_rl` runs, and what is written as ``config.yaml`` next to
every checkpoint. :func:`rl_preset` gives the named presets (``debug`` for tests, ``default``
for real runs).
"""

from __future__ import annotations

import dataclasses

from compass_nav.contract.body import get_embodiment
from compass_nav.rl.rewards import RLRewardConfig
from compass_nav.sim.scenes import list_families
from compass_nav.utils.config import check, config_from_dict
from compass_nav.utils.errors import ConfigError

__all__ = ["HeadConfig", "PPOConfig", "RLConfig", "RL_PRESETS", "rl_preset"]

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
        check(self.input_clip > 0, "head.input_clip", self.input_clip, "must be > 0")


@dataclasses.dataclass(frozen=True)
class PPOConfig:
    """PPO settings (rsl-rl's :class:`rsl_rl.algorithms.PPO`); COMPASS's values by default.

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
        check(self.learning_rate > 0, "ppo.learning_rate", self.learning_rate, "must be > 0")
        check(
            self.schedule in ("adaptive", "fixed"),
            "ppo.schedule",
            self.schedule,
            "must be 'adaptive' or 'fixed'",
        )
        check(self.desired_kl > 0, "ppo.desired_kl", self.desired_kl, "must be > 0")
        check(0 < self.clip_param < 1, "ppo.clip_param", self.clip_param, "must be in (0, 1)")
        check(
            self.num_learning_epochs >= 1,
            "ppo.num_learning_epochs",
            self.num_learning_epochs,
            "must be >= 1",
        )
        check(
            self.num_mini_batches >= 1,
            "ppo.num_mini_batches",
            self.num_mini_batches,
            "must be >= 1",
        )
        check(0 < self.gamma <= 1, "ppo.gamma", self.gamma, "must be in (0, 1]")
        check(0 <= self.lam <= 1, "ppo.lam", self.lam, "must be in [0, 1]")
        check(self.entropy_coef >= 0, "ppo.entropy_coef", self.entropy_coef, "must be >= 0")
        check(self.value_loss_coef > 0, "ppo.value_loss_coef", self.value_loss_coef, "must be > 0")
        check(self.max_grad_norm > 0, "ppo.max_grad_norm", self.max_grad_norm, "must be > 0")
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
        families: Scene families trained on (train-split scene seeds).
        route_mode: ``mapless`` (straight line to the goal, COMPASS's setting) or ``planned``.
        num_envs: Parallel simulated environments.
        steps_per_env: Rollout length per iteration (transitions = num_envs x this).
        iterations: PPO iterations (rollout + update).
        max_episode_steps: Episode timeout, control steps at 10 Hz.
        image_height, image_width: Camera size rendered; 0 takes the base model's input size.
        seed: Seeds torch, numpy and the simulator.
        save_interval: Iterations between checkpoints (the final one is always written).
        torch_threads: Threads for torch ops (the simulator's kernels use their own).
        time_budget_min: Stop after the iteration that crosses this many minutes of training
            wall time (counted across resumes) and write the specialist; 0 = no limit.
        reward: Reward weights (see :mod:`compass_nav.rl.rewards`).
        ppo: PPO settings.
        head: Residual head settings.
    """

    embodiment: str = "carter"
    base: str = "random:debug"
    families: tuple[str, ...] = ("warehouse", "office", "hall")
    route_mode: str = "mapless"
    num_envs: int = 32
    steps_per_env: int = 64
    iterations: int = 300
    max_episode_steps: int = 300
    image_height: int = 0
    image_width: int = 0
    seed: int = 0
    save_interval: int = 20
    torch_threads: int = 1
    time_budget_min: float = 0.0
    reward: RLRewardConfig = dataclasses.field(default_factory=RLRewardConfig)
    ppo: PPOConfig = dataclasses.field(default_factory=PPOConfig)
    head: HeadConfig = dataclasses.field(default_factory=HeadConfig)

    def __post_init__(self) -> None:
        object.__setattr__(self, "families", tuple(self.families))
        get_embodiment(self.embodiment)  # raises ConfigError listing the known bodies
        check(
            bool(self.base),
            "base",
            self.base,
            "must name the IL checkpoint or run folder (or random:<preset> for tests)",
        )
        known = list_families()
        check(len(self.families) >= 1, "families", self.families, "must not be empty")
        for fam in self.families:
            check(fam in known, "families", fam, f"unknown family; known: {', '.join(known)}")
        check(
            self.route_mode in ("planned", "mapless"),
            "route_mode",
            self.route_mode,
            "must be 'planned' or 'mapless'",
        )
        check(self.num_envs >= 1, "num_envs", self.num_envs, "must be >= 1")
        check(self.steps_per_env >= 2, "steps_per_env", self.steps_per_env, "must be >= 2")
        check(
            self.num_envs * self.steps_per_env >= self.ppo.num_mini_batches,
            "num_envs",
            self.num_envs,
            "num_envs x steps_per_env must be >= ppo.num_mini_batches",
        )
        check(self.iterations >= 1, "iterations", self.iterations, "must be >= 1")
        check(
            self.max_episode_steps >= 1,
            "max_episode_steps",
            self.max_episode_steps,
            "must be >= 1",
        )
        for f in ("image_height", "image_width"):
            v = getattr(self, f)
            check(v == 0 or 16 <= v <= 480, f, v, "must be 0 (the base's size) or in [16, 480]")
        check(self.seed >= 0, "seed", self.seed, "must be >= 0")
        check(self.save_interval >= 1, "save_interval", self.save_interval, "must be >= 1")
        check(self.torch_threads >= 1, "torch_threads", self.torch_threads, "must be >= 1")
        check(
            self.time_budget_min >= 0,
            "time_budget_min",
            self.time_budget_min,
            "must be >= 0 (0 = no limit)",
        )


#: Named presets: plain overrides of the defaults (nested sections as dicts).
RL_PRESETS: dict[str, dict] = {
    "default": {},
    "debug": {
        "base": "random:debug",
        "num_envs": 6,
        "steps_per_env": 16,
        "iterations": 2,
        "max_episode_steps": 60,
        "save_interval": 1,
        "head": {"hidden_dims": (16,)},
        "ppo": {"critic_hidden_dims": (16,), "num_learning_epochs": 2, "num_mini_batches": 2},
    },
}


def rl_preset(name: str, **overrides) -> RLConfig:
    """The named preset with top-level ``overrides`` (nested sections as dicts or configs).

    Raises:
        ConfigError: For an unknown preset name (the known ones are listed).
    """
    if name not in RL_PRESETS:
        raise ConfigError(f"rl preset={name!r}: unknown; known presets: {', '.join(RL_PRESETS)}")
    data = {**RL_PRESETS[name], **overrides}
    return config_from_dict(RLConfig, data)
