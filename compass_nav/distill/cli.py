"""``compass-nav distill train``: distil the specialists into one generalist.

Registered through :data:`compass_nav.cli.COMMAND_MODULES`; follows the trainers' pattern
(:mod:`compass_nav.learning.cli`).
"""

from __future__ import annotations

import argparse

from compass_nav.distill.config import DistillConfig
from compass_nav.learning.cli import add_trainer_flags, resolve_trainer_config, run_trainer
from compass_nav.utils.cli import Stage, Verb

__all__ = ["STAGE", "build_distill_config"]


def build_distill_config(
    out: str,
    preset: str | None = None,
    config: str | None = None,
    specialists: list[str] | None = None,
    data: list[str] | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    resume: bool = False,
):
    """Resolve a :class:`~compass_nav.distill.config.DistillConfig` as ``distill train`` does."""
    values = {"specialists": specialists or None, "data": data or None}
    return resolve_trainer_config(
        DistillConfig, "distill", out, preset, config, values, overrides, resume
    )


def _run_distill(args: argparse.Namespace) -> int:
    from compass_nav.distill.runner import train_distill

    values = {"specialists": args.specialist, "data": args.data}
    return run_trainer(args, build_distill_config, train_distill, "generalist", values=values)


def _train_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--specialist", nargs="+", help="specialist files or run folders")
    p.add_argument("--data", nargs="+", help="recorded specialist rollouts")
    add_trainer_flags(p, "distill")


#: ``compass-nav distill train``.
STAGE = Stage(
    "distill",
    help="distil specialists into one descriptor-conditioned generalist",
    description="Distillation of the residual specialists into one generalist.",
    verbs=(
        Verb(
            "train",
            help="distil specialists into one descriptor-conditioned generalist",
            description="KL distillation of every specialist's action distribution into one "
            "generalist head conditioned on the embodiment descriptor, offline on "
            "recorded rollouts then with DAgger rounds in the simulator. Writes "
            "OUT/config.yaml, OUT/checkpoints/, OUT/dagger/, OUT/generalist.pt.",
            epilog="example:\n  compass-nav distill train --specialist runs/rl_carter "
            "runs/rl_spot --data runs/rollouts_carter runs/rollouts_spot --out runs/generalist",
            handler=_run_distill,
            options=_train_options,
        ),
    ),
)
