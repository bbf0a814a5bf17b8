"""``compass-nav pipeline run``: the whole chain from one preset.

Registered through :data:`compass_nav.cli.COMMAND_MODULES`.
"""

from __future__ import annotations

import argparse

from compass_nav.utils.cli import add_stage
from compass_nav.utils.config import apply_overrides, read_yaml_mapping

__all__ = ["register"]


def _run_pipeline(args: argparse.Namespace) -> int:
    from compass_nav.pipeline.runner import pipeline_preset, run_pipeline

    data = read_yaml_mapping(args.config) if args.config else {}
    data = apply_overrides(data, args.set)
    cfg = pipeline_preset(args.preset, data)
    summary = run_pipeline(cfg, args.out, progress=not args.no_progress)
    print(summary["table"], end="")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``pipeline`` with its ``run`` verb."""
    fmt = argparse.RawDescriptionHelpFormatter
    stage = add_stage(
        subparsers,
        "pipeline",
        help="demos -> IL -> specialists -> generalist -> evaluation table",
        description="The one-command chain of every training stage.",
    )
    pipe = stage.add_parser(
        "run",
        help="demos -> IL -> specialists -> generalist -> evaluation table",
        formatter_class=fmt,
        description="Run the whole chain from a preset into OUT, skipping finished stages "
        "and resuming interrupted ones; prints the evaluation table "
        "(OUT/eval/table.md).",
        epilog="examples:\n  compass-nav pipeline run --preset tiny --out runs/tiny\n"
        "  compass-nav pipeline run --preset full --out runs/full --set bodies=[spot,g1]",
    )
    pipe.add_argument("--preset", choices=("tiny", "full"), default="tiny")
    pipe.add_argument("--out", required=True, help="output folder")
    pipe.add_argument("--config", help="YAML file merged over the preset")
    pipe.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a value, e.g. --set rl.iterations=100",
    )
    pipe.add_argument("--no-progress", action="store_true", help="no progress bars")
    pipe.set_defaults(func=_run_pipeline)
