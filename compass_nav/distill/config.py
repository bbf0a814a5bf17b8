"""Configuration of distillation: specialists -> one descriptor-conditioned generalist.

:class:`DistillConfig` is what ``compass-nav distill train`` builds from a YAML file
(``configs/distill/*.yaml``) and ``key=value`` overrides, what
:func:`compass_nav.distill.runner.train_distill` runs, and what is written as
``config.yaml`` in the run folder.
"""

from __future__ import annotations

import dataclasses

from compass_nav.rl.config import HeadConfig
from compass_nav.sim.config import MOVED_TO_EPISODE, EpisodeSpec
from compass_nav.utils.config import check, check_at_least, check_positive, resolve_config

__all__ = ["DistillConfig", "distill_preset"]


@dataclasses.dataclass(frozen=True)
class DistillConfig:
    """One distillation run.

    Attributes:
        specialists: Specialist files or run folders (one per training body); they must
            share one frozen base. Empty in a template (the pipeline fills it in); a run
            needs at least one.
        data: Recorded specialist rollouts (``compass-nav rl record`` folders) for
            the offline phase; may be empty (then round 0 of DAgger rolls the specialists
            out itself, ``beta_start = 1``).
        steps: Offline gradient steps on ``data`` before the on-policy rounds.
        batch_size: Samples per gradient step.
        lr: Adam step size.
        weight_decay: AdamW weight decay.
        descriptor_noise: Std of Gaussian noise added to the (scaled) descriptor features of
            training batches. Fields that do not vary across the training bodies (camera field
            of view) would otherwise get arbitrary weights, which a held-out body with another
            value would excite; the noise teaches the head to rely only on fields that explain
            the specialists' differences.
        dagger_rounds: On-policy correction rounds: roll out the generalist (or, with
            probability ``beta``, the specialist of that body), label every visited state
            with that body's specialist, aggregate, train.
        dagger_steps: Env steps per env slot collected per round.
        dagger_updates: Gradient steps after each round, on everything collected so far.
        beta_start, beta_end: Probability that an env executes its specialist's action in
            the first and last round (linear in between).
        num_envs: Env slots for on-policy rounds (spread evenly over the bodies).
        episode: The on-policy rounds' episodes: families, route mode, time limit, camera
            size (0: the base model's input size); train-split scene seeds only.
        seed: Seeds torch, numpy and the simulator.
        torch_threads: Threads for torch ops.
        tensorboard: Write TensorBoard logs.
        head: The generalist's head (``heteroscedastic`` so that it can reproduce each
            specialist's spread).
    """

    __moved_keys__ = MOVED_TO_EPISODE

    specialists: tuple[str, ...] = ()
    data: tuple[str, ...] = ()
    steps: int = 2000
    batch_size: int = 512
    lr: float = 1e-3
    weight_decay: float = 1e-5
    descriptor_noise: float = 0.1
    dagger_rounds: int = 4
    dagger_steps: int = 200
    dagger_updates: int = 500
    beta_start: float = 0.5
    beta_end: float = 0.0
    num_envs: int = 36
    episode: EpisodeSpec = EpisodeSpec(route_mode="mapless", image_height=0, image_width=0)
    seed: int = 0
    torch_threads: int = 1
    tensorboard: bool = True
    head: HeadConfig = dataclasses.field(
        default_factory=lambda: HeadConfig(hidden_dims=(256, 256), heteroscedastic=True)
    )

    def __post_init__(self) -> None:
        for f in ("specialists", "data"):
            object.__setattr__(self, f, tuple(str(v) for v in getattr(self, f)))
        check_at_least("steps", self.steps, 0)
        check_at_least("batch_size", self.batch_size, 1)
        check_positive("lr", self.lr)
        check_at_least("weight_decay", self.weight_decay, 0)
        check_at_least("descriptor_noise", self.descriptor_noise, 0)
        check_at_least("dagger_rounds", self.dagger_rounds, 0)
        check(
            self.dagger_rounds >= 1 or self.steps >= 1,
            "dagger_rounds",
            self.dagger_rounds,
            "with steps=0 at least one round is needed",
        )
        check_at_least("dagger_steps", self.dagger_steps, 1)
        check_at_least("dagger_updates", self.dagger_updates, 1)
        for f in ("beta_start", "beta_end"):
            v = getattr(self, f)
            check(0 <= v <= 1, f, v, "must be in [0, 1]")
        check(
            self.num_envs >= max(1, len(self.specialists)),
            "num_envs",
            self.num_envs,
            "must be >= the number of specialists (one slot per body at least)",
        )
        self.episode.check_trainable()
        check_at_least("seed", self.seed, 0)
        check_at_least("torch_threads", self.torch_threads, 1)
        check(
            self.head.heteroscedastic,
            "head.heteroscedastic",
            self.head.heteroscedastic,
            "the generalist must predict its std (one std per body cannot be shared)",
        )

    def beta(self, round_index: int) -> float:
        """Probability of executing the specialist's action in round ``round_index``."""
        if self.dagger_rounds <= 1:
            return self.beta_start
        frac = round_index / (self.dagger_rounds - 1)
        return self.beta_start + (self.beta_end - self.beta_start) * frac


def distill_preset(name: str, **overrides) -> DistillConfig:
    """The named preset of ``configs/presets/distill.yaml`` with ``overrides`` merged over it.

    Raises:
        ConfigError: For an unknown preset name (the known ones are listed).
    """
    return resolve_config(DistillConfig, preset=name, presets="distill", values=overrides)
