"""Commands of the residual RL and distillation stage.

``train-rl``, ``record-specialist``, ``distill`` and ``pipeline``, registered through
:data:`compass_nav.cli.COMMAND_MODULES` (specialist/generalist files load by path through
:mod:`compass_nav.rl.registry`, which the policy registry imports). The trainers follow the
pattern of ``compass-nav train il``: ``--out`` run folder, ``--preset``, ``--config`` YAML
file, ``--set key=value`` overrides (applied last), ``--resume`` (the run's own
``config.yaml``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from compass_nav.sim.config import EpisodeSpec
from compass_nav.utils.config import config_to_dict, resolve_config, resolve_run_config
from compass_nav.utils.files import ensure_output_dir

__all__ = ["build_distill_config", "build_rl_config", "register"]


def build_rl_config(
    out: str,
    preset: str | None = None,
    config: str | None = None,
    embodiment: str | None = None,
    base: str | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    resume: bool = False,
):
    """Resolve an :class:`~compass_nav.rl.config.RLConfig` the way ``train-rl`` does."""
    from compass_nav.rl.config import RLConfig
    from compass_nav.training.common import CONFIG_FILE

    return resolve_run_config(
        RLConfig,
        "rl",
        preset=preset,
        config_file=config,
        values={"embodiment": embodiment, "base": base},
        overrides=overrides,
        resume_from=Path(out) / CONFIG_FILE if resume else None,
    )


def build_distill_config(
    out: str,
    preset: str | None = None,
    config: str | None = None,
    specialists: list[str] | None = None,
    data: list[str] | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    resume: bool = False,
):
    """Resolve a :class:`~compass_nav.distill.config.DistillConfig` as ``distill`` does."""
    from compass_nav.distill.config import DistillConfig
    from compass_nav.training.common import CONFIG_FILE

    return resolve_run_config(
        DistillConfig,
        "distill",
        preset=preset,
        config_file=config,
        values={"specialists": specialists or None, "data": data or None},
        overrides=overrides,
        resume_from=Path(out) / CONFIG_FILE if resume else None,
    )


def _run_rl(args: argparse.Namespace) -> int:
    from compass_nav.training.rl import train_rl

    ensure_output_dir(args.out, "--out")
    cfg = build_rl_config(
        args.out, args.preset, args.config, args.embodiment, args.base, args.set, args.resume
    )
    path = train_rl(
        cfg,
        args.out,
        resume=args.resume,
        progress=not args.no_progress,
        tensorboard=not args.no_tensorboard,
    )
    print(f"specialist: {path}")
    return 0


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


def _run_distill(args: argparse.Namespace) -> int:
    from compass_nav.training.distill import train_distill

    ensure_output_dir(args.out, "--out")
    cfg = build_distill_config(
        args.out, args.preset, args.config, args.specialist, args.data, args.set, args.resume
    )
    path = train_distill(cfg, args.out, resume=args.resume, progress=not args.no_progress)
    print(f"generalist: {path}")
    return 0


def _run_pipeline(args: argparse.Namespace) -> int:
    from compass_nav.training.pipeline import PipelineConfig, run_pipeline

    ensure_output_dir(args.out, "--out")
    cfg = resolve_config(
        PipelineConfig,
        preset=args.preset,
        presets="pipeline",
        config_file=args.config,
        overrides=args.set,
    )
    summary = run_pipeline(
        cfg, args.out, progress=not args.no_progress, redo_changed=args.redo_changed
    )
    print(summary["table"], end="")
    return 0


def _trainer_flags(p: argparse.ArgumentParser, stage: str) -> None:
    p.add_argument("--out", required=True, help="run folder")
    p.add_argument(
        "--preset",
        default=None,
        help=f"start from this preset of configs/presets/{stage}.yaml: default, debug, ... "
        "(default: default; not with --resume)",
    )
    p.add_argument("--config", help="YAML file merged over the preset")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set ppo.learning_rate=1e-4",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out from its newest checkpoint",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``train-rl``, ``record-specialist``, ``distill`` and ``pipeline``."""
    fmt = argparse.RawDescriptionHelpFormatter
    rl = subparsers.add_parser(
        "train-rl",
        help="residual PPO specialist for one embodiment on the frozen IL base",
        formatter_class=fmt,
        description="Residual PPO (rsl-rl) on top of the frozen X-Mobility base: the actor "
        "adds a zero-initialised residual to the base's action, clipped to the "
        "body's limits; the critic sees privileged simulator state. Writes "
        "OUT/config.yaml, OUT/checkpoints/, OUT/tb/, OUT/specialist.pt.",
        epilog="examples:\n"
        "  compass-nav train-rl --embodiment spot --base runs/il_carter "
        "--out runs/rl_spot\n"
        "  compass-nav train-rl --out runs/rl_spot --resume\n"
        "  compass-nav train-rl --embodiment g1 --base runs/il_carter --out O "
        "--config configs/rl/compass_reward.yaml",
    )
    rl.add_argument("--embodiment", help="body to specialise for (registered name or YAML)")
    rl.add_argument("--base", help="IL checkpoint or run folder (random:<preset> for tests)")
    _trainer_flags(rl, "rl")
    rl.add_argument("--no-tensorboard", action="store_true", help="no TensorBoard logs")
    rl.set_defaults(func=_run_rl)

    rec = subparsers.add_parser(
        "record-specialist",
        help="record a specialist's rollouts for distillation",
        formatter_class=fmt,
        description="Record episodes of a specialist on its own body in the demonstrations "
        "format, with per-step policy_state, action_mean, action_std and "
        "base_action (fractions of the body's limits). Resumable.",
        epilog="example:\n  compass-nav record-specialist runs/rl_spot --out "
        "runs/rollouts_spot --episodes 120",
    )
    rec.add_argument("specialist", help="specialist.pt or its run folder")
    rec.add_argument("--out", required=True, help="dataset folder")
    rec.add_argument("--episodes", type=int, default=120, help="episodes (default 120)")
    rec.add_argument("--seed", type=int, default=0, help="recorder seed")
    rec.add_argument("--num-envs", type=int, default=24, help="parallel env slots")
    rec.add_argument("--families", help="comma-separated scene families (default: all)")
    rec.add_argument("--route-mode", choices=("mapless", "planned"), default="mapless")
    rec.add_argument("--max-episode-steps", type=int, default=300)
    rec.add_argument(
        "--stochastic",
        action="store_true",
        help="sample the Gaussian instead of acting with its mean",
    )
    rec.add_argument("--no-progress", action="store_true", help="no progress bar")
    rec.set_defaults(func=_run_record)

    dis = subparsers.add_parser(
        "distill",
        help="distil specialists into one descriptor-conditioned generalist",
        formatter_class=fmt,
        description="KL distillation of every specialist's action distribution into one "
        "generalist head conditioned on the embodiment descriptor, offline on "
        "recorded rollouts then with DAgger rounds in the simulator. Writes "
        "OUT/config.yaml, OUT/checkpoints/, OUT/dagger/, OUT/generalist.pt.",
        epilog="example:\n  compass-nav distill --specialist runs/rl_carter runs/rl_spot "
        "--data runs/rollouts_carter runs/rollouts_spot --out runs/generalist",
    )
    dis.add_argument("--specialist", nargs="+", help="specialist files or run folders")
    dis.add_argument("--data", nargs="+", help="recorded specialist rollouts")
    _trainer_flags(dis, "distill")
    dis.set_defaults(func=_run_distill)

    pipe = subparsers.add_parser(
        "pipeline",
        help="demos -> IL -> specialists -> generalist -> evaluation table",
        formatter_class=fmt,
        description="Run the whole chain from a preset into OUT, skipping finished stages "
        "and resuming interrupted ones; prints the evaluation table "
        "(OUT/eval/table.md). Each stage records its settings in OUT/fingerprints/; a "
        "re-run with changed settings is refused unless --redo-changed is given.",
        epilog="examples:\n  compass-nav pipeline --preset tiny --out runs/tiny\n"
        "  compass-nav pipeline --preset full --out runs/full --set bodies=[spot,g1]",
    )
    pipe.add_argument(
        "--preset",
        default="tiny",
        help="preset of configs/presets/pipeline.yaml: tiny, full, ... (default: tiny)",
    )
    pipe.add_argument("--out", required=True, help="output folder")
    pipe.add_argument("--config", help="YAML file merged over the preset")
    pipe.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a value, e.g. --set rl.iterations=100",
    )
    pipe.add_argument(
        "--redo-changed",
        action="store_true",
        help="redo stages whose settings changed since they ran, and the stages that read "
        "them (their folders are deleted); without it such a re-run is refused",
    )
    pipe.add_argument("--no-progress", action="store_true", help="no progress bars")
    pipe.set_defaults(func=_run_pipeline)
