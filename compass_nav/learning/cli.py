"""What every trainer's command shares: the common flags.

The stage commands (``il train``, ``rl train``, ``distill train``) follow one pattern:
``--out`` run folder, ``--preset`` (of ``configs/presets/<stage>.yaml``), ``--config`` YAML
file, ``--set key=value`` overrides (applied last), ``--resume`` (the run's own
``config.yaml``); :func:`compass_nav.utils.config.resolve_run_config` resolves them.
"""

from __future__ import annotations

import argparse

__all__ = ["add_trainer_flags"]


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
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"override a config value, e.g. {set_example}",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out from its newest checkpoint",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
