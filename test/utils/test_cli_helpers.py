"""``compass_nav.utils.cli.config_from_args``: a config from the options named like its fields."""

from __future__ import annotations

import argparse
import dataclasses

from compass_nav.utils.cli import config_from_args


@dataclasses.dataclass(frozen=True)
class _Cfg:
    names: tuple[str, ...] = ("a",)
    seed: int = 0
    timeout_s: float = 1.0
    label: str = "default"


def test_fields_come_from_same_named_options_and_values_win():
    args = argparse.Namespace(names=["x", "y"], seed=3, timeout=9.0, label="flag", other=1)
    cfg = config_from_args(_Cfg, args, timeout_s=args.timeout, label="given")
    assert cfg == _Cfg(names=("x", "y"), seed=3, timeout_s=9.0, label="given")
    assert isinstance(cfg.names, tuple)


def test_fields_without_an_option_keep_their_defaults():
    assert config_from_args(_Cfg, argparse.Namespace(seed=5)) == _Cfg(seed=5)
