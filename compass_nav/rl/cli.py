"""``compass-nav rl``: residual RL specialists (``rl train``) and their rollouts (``rl record``).

Registered through :data:`compass_nav.cli.COMMAND_MODULES`. ``rl train`` follows the
trainers' pattern (:mod:`compass_nav.learning.cli`); ``rl record`` writes a specialist's
rollouts in the demonstrations format for ``distill train``.
"""

from __future__ import annotations

import argparse

from compass_nav.learning.cli import add_trainer_flags, resolve_trainer_config, run_trainer
from compass_nav.sim.config import EpisodeSpec
from compass_nav.utils.cli import Stage, Verb, add_route_mode
from compass_nav.utils.config import config_to_dict, resolve_config
from compass_nav.utils.files import ensure_output_dir

__all__ = ["STAGE", "build_rl_config"]


def build_rl_config(
    out: str,
    preset: str | None = None,
    config: str | None = None,
    embodiment: str | None = None,
    base: str | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    resume: bool = False,
):
    """Resolve an :class:`~compass_nav.rl.config.RLConfig` the way ``rl train`` does."""
    from compass_nav.rl.config import RLConfig

    values = {"embodiment": embodiment, "base": base}
    return resolve_trainer_config(RLConfig, "rl", out, preset, config, values, overrides, resume)


def _run_rl(args: argparse.Namespace) -> int:
    from compass_nav.rl.runner import train_rl

    return run_trainer(
        args,
        build_rl_config,
        train_rl,
        "specialist",
        values={"embodiment": args.embodiment, "base": args.base},
        tensorboard=not args.no_tensorboard,
    )


def _run_record(args: argparse.Namespace) -> int:
    from compass_nav.rl.record import RECORD_EPISODE, record_specialist

    ensure_output_dir(args.out, "--out")
    episode = resolve_config(
        EpisodeSpec,
        base=config_to_dict(RECORD_EPISODE),
        values={
            "families": args.families.split(",") if args.families else None,
            "route_mode": args.route_mode,
            "max_episode_steps": args.max_episode_steps,
        },
    )
    path = record_specialist(
        args.specialist,
        args.out,
        args.episodes,
        seed=args.seed,
        num_envs=args.num_envs,
        episode=episode,
        stochastic=args.stochastic,
        progress=not args.no_progress,
    )
    print(f"rollouts: {path}")
    return 0


def _train_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--embodiment", help="body to specialise for (registered name or YAML)")
    p.add_argument("--base", help="IL checkpoint or run folder (random:<preset> for tests)")
    add_trainer_flags(p, "rl")
    p.add_argument("--no-tensorboard", action="store_true", help="no TensorBoard logs")


def _record_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("specialist", help="specialist.pt or its run folder")
    p.add_argument("--out", required=True, help="dataset folder")
    p.add_argument("--episodes", type=int, default=120, help="episodes (default 120)")
    p.add_argument("--seed", type=int, default=0, help="recorder seed")
    p.add_argument("--num-envs", type=int, default=24, help="parallel env slots")
    p.add_argument("--families", help="comma-separated scene families (default: all)")
    add_route_mode(p, default="mapless")
    p.add_argument("--max-episode-steps", type=int, default=300)
    p.add_argument(
        "--stochastic",
        action="store_true",
        help="sample the Gaussian instead of acting with its mean",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


#: ``compass-nav rl {train,record}``.
STAGE = Stage(
    "rl",
    help="residual PPO specialists on the frozen IL base, and their rollouts",
    description="Residual RL: train one specialist per embodiment (rl train) and record "
    "its rollouts for distillation (rl record).",
    verbs=(
        Verb(
            "train",
            help="residual PPO specialist for one embodiment on the frozen IL base",
            description="Residual PPO (rsl-rl) on top of the frozen X-Mobility base: the "
            "actor adds a zero-initialised residual to the base's action, clipped to the "
            "body's limits; the critic sees privileged simulator state. Writes "
            "OUT/config.yaml, OUT/checkpoints/, OUT/tb/, OUT/specialist.pt.",
            epilog="examples:\n"
            "  compass-nav rl train --embodiment spot --base runs/il_carter --out runs/rl_spot\n"
            "  compass-nav rl train --out runs/rl_spot --resume\n"
            "  compass-nav rl train --embodiment g1 --base runs/il_carter --out O "
            "--config configs/rl/compass_reward.yaml",
            handler=_run_rl,
            options=_train_options,
        ),
        Verb(
            "record",
            help="record a specialist's rollouts for distillation",
            description="Record episodes of a specialist on its own body in the "
            "demonstrations format, with per-step policy_state, action_mean, action_std and "
            "base_action (fractions of the body's limits). Resumable.",
            epilog="example:\n"
            "  compass-nav rl record runs/rl_spot --out runs/rollouts_spot --episodes 120",
            handler=_run_record,
            options=_record_options,
        ),
    ),
)
