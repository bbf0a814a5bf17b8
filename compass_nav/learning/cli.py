"""What every trainer's command shares: the common flags and the handler's steps.

The stage commands (``il train``, ``rl train``, ``distill train``) follow one pattern:
``--out`` run folder, ``--preset`` (of ``configs/presets/<stage>.yaml``), ``--config`` YAML
file, ``--set key=value`` overrides (applied last), ``--resume`` (the run's own
``config.yaml``); :func:`resolve_trainer_config` resolves them and :func:`run_trainer` checks
the output folder, resolves and trains.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from compass_nav.utils.cli import add_overrides
from compass_nav.utils.config import resolve_run_config
from compass_nav.utils.files import ensure_output_dir

__all__ = ["add_trainer_flags", "resolve_trainer_config", "run_trainer"]

T = TypeVar("T")


def add_trainer_flags(
    p: argparse.ArgumentParser, stage: str, set_example: str = "--set ppo.learning_rate=1e-4"
) -> None:
    """``--out``, ``--preset``, ``--config``, ``--set``, ``--resume``, ``--no-progress``."""
    p.add_argument("--out", required=True, help="run folder")
    p.add_argument(
        "--preset",
        default=None,
        help=f"start from this preset of configs/presets/{stage}.yaml: default, debug, ... "
        "(default: default; not with --resume)",
    )
    p.add_argument("--config", help="YAML file merged over the preset")
    add_overrides(p, set_example)
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out from its newest checkpoint",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def resolve_trainer_config(
    cls: type[T],
    stage: str,
    out: str,
    preset: str | None,
    config: str | None,
    values: Mapping[str, Any],
    overrides: Sequence[str],
    resume: bool,
) -> T:
    """``cls`` as the trainer flags ask for it; a resumed run starts from ``out``'s config.

    See :func:`compass_nav.utils.config.resolve_run_config`.
    """
    # Here, not at the top: learning.common imports torch, which command start-up should not.
    from compass_nav.learning.common import CONFIG_FILE

    return resolve_run_config(
        cls,
        stage,
        preset=preset,
        config_file=config,
        values=values,
        overrides=overrides,
        resume_from=Path(out) / CONFIG_FILE if resume else None,
    )


def run_trainer(
    args: argparse.Namespace,
    build_config: Callable[..., Any],
    train: Callable[..., Path],
    label: str,
    values: Mapping[str, Any] | None = None,
    **train_kwargs: Any,
) -> int:
    """A trainer command's handler: check ``--out``, resolve, train, print the result's path.

    Args:
        args: The parsed trainer flags (:func:`add_trainer_flags`).
        build_config: The stage's ``build_<stage>_config(out, preset, config, ...,
            overrides=..., resume=...)``.
        train: The stage's trainer, ``train(config, out, resume=, progress=, ...)``.
        label: What the printed path is (``model``, ``specialist``, ...).
        values: The stage's own options, passed to ``build_config`` by name.
        **train_kwargs: Passed on to ``train``.
    """
    ensure_output_dir(args.out, "--out")
    cfg = build_config(
        args.out,
        args.preset,
        args.config,
        overrides=args.set,
        resume=args.resume,
        **(values or {}),
    )
    path = train(
        cfg,
        args.out,
        resume=args.resume,
        progress=not args.no_progress,
        **train_kwargs,
    )
    print(f"{label}: {path}")
    return 0
