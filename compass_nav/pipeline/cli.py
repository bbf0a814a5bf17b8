"""``compass-nav pipeline run``: the whole chain from one preset.

Registered through :data:`compass_nav.cli.COMMAND_MODULES`.
"""

from __future__ import annotations

import argparse

from compass_nav.utils.cli import Stage, Verb, add_overrides
from compass_nav.utils.config import resolve_config
from compass_nav.utils.files import ensure_output_dir

__all__ = ["STAGE"]


def _run_pipeline(args: argparse.Namespace) -> int:
    from compass_nav.pipeline.runner import PipelineConfig, run_pipeline

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


def _run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--preset",
        default="tiny",
        help="preset of configs/presets/pipeline.yaml: tiny, full, ... (default: tiny)",
    )
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--config", help="YAML file merged over the preset")
    add_overrides(p, "--set rl.iterations=100")
    p.add_argument(
        "--redo-changed",
        action="store_true",
        help="redo stages whose settings changed since they ran, and the stages that read "
        "them (their folders are deleted); without it such a re-run is refused",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


#: ``compass-nav pipeline run``.
STAGE = Stage(
    "pipeline",
    help="demos -> IL -> specialists -> generalist -> evaluation table",
    description="The one-command chain of every training stage.",
    verbs=(
        Verb(
            "run",
            help="demos -> IL -> specialists -> generalist -> evaluation table",
            description="Run the whole chain from a preset into OUT, skipping finished stages "
            "and resuming interrupted ones; prints the evaluation table "
            "(OUT/eval/table.md). Each stage records its settings in OUT/fingerprints/; a "
            "re-run with changed settings is refused unless --redo-changed is given.",
            epilog="examples:\n  compass-nav pipeline run --preset tiny --out runs/tiny\n"
            "  compass-nav pipeline run --preset full --out runs/full --set bodies=[spot,g1]",
            handler=_run_pipeline,
            options=_run_options,
        ),
    ),
)
