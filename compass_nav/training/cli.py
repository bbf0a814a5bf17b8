"""``compass-nav train ...``: the training commands (imitation now; RL and distillation join).

Registered through :data:`compass_nav.cli.COMMAND_MODULES`. Each trainer is a subcommand of
``train`` whose options follow one pattern: ``--out`` run folder, ``--preset``, ``--config``
YAML file, ``--set key=value`` overrides (applied last), ``--resume``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from compass_nav.utils.config import resolve_run_config
from compass_nav.utils.files import ensure_output_dir

__all__ = ["build_il_config", "register"]


def build_il_config(
    out: str,
    preset: str | None = "default",
    config: str | None = None,
    data: str | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    resume: bool = False,
):
    """Resolve an :class:`~compass_nav.training.il.ILConfig` the way the CLI does.

    A new run starts from ``preset`` (``configs/presets/il.yaml``), merges the YAML file
    ``config`` over it, then ``data`` and ``overrides``
    (:func:`~compass_nav.utils.config.resolve_config`). A resumed run starts from the run's
    own ``config.yaml`` (so a resumed run trains what it started training) and applies
    ``data`` and ``overrides`` only.

    Raises:
        ConfigError: For ``preset``/``config`` given with ``resume``, or any bad value.
    """
    from compass_nav.training.common import CONFIG_FILE
    from compass_nav.training.il import ILConfig

    return resolve_run_config(
        ILConfig,
        "il",
        preset=preset,
        config_file=config,
        values={"data": data},
        overrides=overrides,
        resume_from=Path(out) / CONFIG_FILE if resume else None,
    )


def _run_il(args: argparse.Namespace) -> int:
    from compass_nav.training.il import train_il

    ensure_output_dir(args.out, "--out")
    cfg = build_il_config(args.out, args.preset, args.config, args.data, args.set, args.resume)
    final = train_il(cfg, args.out, resume=args.resume, progress=not args.no_progress)
    print(f"model: {final}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``train`` and its trainers to the ``compass-nav`` parser."""
    train = subparsers.add_parser(
        "train",
        help="train policies (imitation world model, ...)",
        description="Train a policy; every trainer writes a run folder with config.yaml, "
        "checkpoints, TensorBoard logs and a final model.",
    )
    trainers = train.add_subparsers(dest="trainer", metavar="<trainer>", required=True)
    il = trainers.add_parser(
        "il",
        help="imitation learning of the world-model policy from demonstrations",
        description="Behaviour cloning of the X-Mobility-style world-model policy on teacher "
        "demonstrations, with DAgger rounds in the simulator. Writes "
        "OUT/config.yaml, OUT/checkpoints/, OUT/tb/, OUT/model.pt.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  compass-nav train il --data runs/demos_carter --out runs/il_carter\n"
        "  compass-nav train il --out runs/il_carter --resume\n"
        "  compass-nav train il --data D --out O --preset debug --set steps=50",
    )
    il.add_argument("--data", help="demonstrations folder (default: the preset's)")
    il.add_argument("--out", required=True, help="run folder")
    il.add_argument(
        "--preset",
        default=None,
        help="start from this preset of configs/presets/il.yaml: default, debug, ... "
        "(default: default; not with --resume)",
    )
    il.add_argument("--config", help="YAML file merged over the preset")
    il.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set steps=2000 --set model.kl_balance=0.8",
    )
    il.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out from its newest checkpoint",
    )
    il.add_argument("--no-progress", action="store_true", help="no progress bars")
    il.set_defaults(func=_run_il)
