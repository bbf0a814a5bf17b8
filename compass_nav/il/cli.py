"""``compass-nav il train``: imitation learning of the world-model policy.

Registered through :data:`compass_nav.cli.COMMAND_MODULES`. Options follow the trainers'
pattern: ``--out`` run folder, ``--preset``, ``--config`` YAML file, ``--set key=value``
overrides (applied last), ``--resume``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from compass_nav.learning.cli import add_trainer_flags
from compass_nav.utils.cli import add_stage
from compass_nav.utils.config import (
    apply_overrides,
    config_from_dict,
    deep_merge,
    read_yaml_mapping,
)
from compass_nav.utils.errors import ConfigError

__all__ = ["build_il_config", "register"]


def build_il_config(
    out: str,
    preset: str | None = "default",
    config: str | None = None,
    data: str | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    resume: bool = False,
):
    """Resolve an :class:`~compass_nav.il.runner.ILConfig` the way the CLI does.

    A new run starts from ``preset``, merges the YAML file ``config`` over it, then ``data``
    and ``overrides``. A resumed run starts from the run's own ``config.yaml`` (so a resumed
    run trains what it started training) and applies ``data`` and ``overrides`` only.

    Raises:
        ConfigError: For ``preset``/``config`` given with ``resume``, or any bad value.
    """
    # Here, not at the top: the config lives with the trainer, which imports torch.
    from compass_nav.il.runner import ILConfig, il_preset
    from compass_nav.learning.common import CONFIG_FILE

    if resume:
        if config is not None or preset is not None:
            raise ConfigError(
                "--preset/--config cannot be combined with --resume: the run's "
                "config.yaml is used (change values with --set)"
            )
        base = read_yaml_mapping(Path(out) / CONFIG_FILE)
    else:
        base = il_preset(preset or "default")
        if config is not None:
            base = deep_merge(base, read_yaml_mapping(config))
    if data is not None:
        base["data"] = data
    return config_from_dict(ILConfig, apply_overrides(base, list(overrides)))


def _run_il(args: argparse.Namespace) -> int:
    # Here, not at the top: the trainer imports torch, which `compass-nav --help` should not.
    from compass_nav.il.runner import train_il

    cfg = build_il_config(args.out, args.preset, args.config, args.data, args.set, args.resume)
    final = train_il(cfg, args.out, resume=args.resume, progress=not args.no_progress)
    print(f"model: {final}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``il`` with its ``train`` verb to the ``compass-nav`` parser."""
    stage = add_stage(
        subparsers,
        "il",
        help="imitation learning of the world-model policy from demonstrations",
        description="Imitation learning: the run folder holds config.yaml, checkpoints, "
        "TensorBoard logs and the final model.",
    )
    il = stage.add_parser(
        "train",
        help="imitation learning of the world-model policy from demonstrations",
        description="Behaviour cloning of the X-Mobility-style world-model policy on teacher "
        "demonstrations, with DAgger rounds in the simulator. Writes "
        "OUT/config.yaml, OUT/checkpoints/, OUT/tb/, OUT/model.pt.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  compass-nav il train --data runs/demos_carter --out runs/il_carter\n"
        "  compass-nav il train --out runs/il_carter --resume\n"
        "  compass-nav il train --data D --out O --preset debug --set steps=50",
    )
    il.add_argument("--data", help="demonstrations folder (default: the preset's)")
    add_trainer_flags(il, ("default", "debug"))
    il.set_defaults(func=_run_il)
