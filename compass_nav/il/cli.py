"""``compass-nav il train``: imitation learning of the world-model policy.

Registered through :data:`compass_nav.cli.COMMAND_MODULES`. Options follow the trainers'
pattern: ``--out`` run folder, ``--preset``, ``--config`` YAML file, ``--set key=value``
overrides (applied last), ``--resume``.
"""

from __future__ import annotations

import argparse

from compass_nav.learning.cli import add_trainer_flags, resolve_trainer_config, run_trainer
from compass_nav.utils.cli import Stage, Verb

__all__ = ["STAGE", "build_il_config"]


def build_il_config(
    out: str,
    preset: str | None = "default",
    config: str | None = None,
    data: str | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    resume: bool = False,
):
    """Resolve an :class:`~compass_nav.il.runner.ILConfig` the way the CLI does.

    A new run starts from ``preset`` (``configs/presets/il.yaml``), merges the YAML file
    ``config`` over it, then ``data`` and ``overrides``
    (:func:`~compass_nav.utils.config.resolve_config`). A resumed run starts from the run's
    own ``config.yaml`` (so a resumed run trains what it started training) and applies
    ``data`` and ``overrides`` only.

    Raises:
        ConfigError: For ``preset``/``config`` given with ``resume``, or any bad value.
    """
    # Here, not at the top: the config lives with the trainer, which imports torch.
    from compass_nav.il.runner import ILConfig

    return resolve_trainer_config(
        ILConfig, "il", out, preset, config, {"data": data}, overrides, resume
    )


def _run_il(args: argparse.Namespace) -> int:
    # Here, not at the top: the trainer imports torch, which `compass-nav --help` should not.
    from compass_nav.il.runner import train_il

    return run_trainer(args, build_il_config, train_il, "model", values={"data": args.data})


def _train_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", help="demonstrations folder (default: the preset's)")
    add_trainer_flags(p, "il", "--set steps=2000 --set model.kl_balance=0.8")


#: ``compass-nav il train``.
STAGE = Stage(
    "il",
    help="imitation learning of the world-model policy from demonstrations",
    description="Imitation learning: the run folder holds config.yaml, checkpoints, "
    "TensorBoard logs and the final model.",
    verbs=(
        Verb(
            "train",
            help="imitation learning of the world-model policy from demonstrations",
            description="Behaviour cloning of the X-Mobility-style world-model policy on "
            "teacher demonstrations, with DAgger rounds in the simulator. Writes "
            "OUT/config.yaml, OUT/checkpoints/, OUT/tb/, OUT/model.pt.",
            epilog="examples:\n"
            "  compass-nav il train --data runs/demos_carter --out runs/il_carter\n"
            "  compass-nav il train --out runs/il_carter --resume\n"
            "  compass-nav il train --data D --out O --preset debug --set steps=50",
            handler=_run_il,
            options=_train_options,
        ),
    ),
)
