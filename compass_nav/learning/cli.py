"""What every trainer's command shares: the run-config resolution and the common flags.

The stage commands (``il train``, ``rl train``, ``distill train``) follow one pattern:
``--out`` run folder, ``--preset``, ``--config`` YAML file, ``--set key=value`` overrides
(applied last), ``--resume`` (the run's own ``config.yaml``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from compass_nav.utils.config import (
    apply_overrides,
    config_from_dict,
    config_to_dict,
    deep_merge,
    read_yaml_mapping,
)
from compass_nav.utils.errors import ConfigError

__all__ = ["add_trainer_flags", "resolve_run_config"]


def resolve_run_config(
    cls: type,
    presets: dict[str, dict],
    out: str,
    preset: str | None,
    config: str | None,
    fields: dict[str, Any],
    overrides: list[str],
    resume: bool,
):
    """Preset -> YAML file -> explicit flags -> ``--set``; a resume starts from config.yaml."""
    # Here, not at the top: learning.common imports torch, which `compass-nav --help` and the
    # config errors should not wait for.
    from compass_nav.learning.common import CONFIG_FILE

    if resume:
        if config is not None or preset is not None:
            raise ConfigError(
                "--preset/--config cannot be combined with --resume: the run's "
                "config.yaml is used (change values with --set)"
            )
        data = read_yaml_mapping(Path(out) / CONFIG_FILE)
    else:
        name = preset or "default"
        if name not in presets:
            raise ConfigError(f"--preset {name!r}: unknown; known presets: {', '.join(presets)}")
        data = config_to_dict(presets[name])
        if config is not None:
            data = deep_merge(data, read_yaml_mapping(config))
    data = deep_merge(data, {k: v for k, v in fields.items() if v is not None})
    return config_from_dict(cls, apply_overrides(data, overrides))


def add_trainer_flags(p: argparse.ArgumentParser, presets: tuple[str, ...]) -> None:
    """``--out``, ``--preset``, ``--config``, ``--set``, ``--resume``, ``--no-progress``."""
    p.add_argument("--out", required=True, help="run folder")
    p.add_argument(
        "--preset",
        choices=presets,
        default=None,
        help="start from this preset (default: default; not with --resume)",
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
