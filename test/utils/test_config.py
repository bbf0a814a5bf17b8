"""The config layer (:mod:`compass_nav.utils.config`): type checks and the one resolution.

Each refused value is a case a user hit: before the checks, ``steps: 10.7`` and ``steps: true``
trained with a float or a bool, ``steps: "ten"`` and ``--set steps=1e1`` died in a TypeError
traceback, and ``lr: .inf`` trained to all-NaN weights.
"""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from compass_nav.utils.config import (
    ALLOW_INF,
    check_at_least,
    check_names,
    check_positive,
    check_within,
    config_from_dict,
    config_to_dict,
    resolve_config,
    stage_presets,
)
from compass_nav.utils.errors import ConfigError, DataError

ROOT = Path(__file__).resolve().parents[2]


@dataclasses.dataclass(frozen=True)
class _Inner:
    width: int = 4
    gain: float = 1.0


@dataclasses.dataclass(frozen=True)
class _Cfg:
    steps: int = 10
    lr: float = 1e-3
    limit: float = dataclasses.field(default=math.inf, metadata=ALLOW_INF)
    flag: bool = False
    name: str = "x"
    seed: int | None = None
    size: tuple[int, int] = (64, 64)
    dims: tuple[int, ...] = (8,)
    scales: list[float] = dataclasses.field(default_factory=lambda: [1.0])
    inner: _Inner = dataclasses.field(default_factory=_Inner)


@dataclasses.dataclass(frozen=True)
class _Moved:
    __moved_keys__ = {"families": "inner.width"}
    inner: _Inner = dataclasses.field(default_factory=_Inner)


def _refused(data: dict, *parts: str) -> None:
    with pytest.raises(ConfigError) as err:
        config_from_dict(_Cfg, data)
    for part in parts:
        assert part in str(err.value), str(err.value)


@pytest.mark.parametrize(
    ("value", "shown"),
    [(10.7, "10.7"), (True, "True"), ("ten", "'ten'"), (math.inf, "inf"), ("1e400", "'1e400'")],
)
def test_int_fields_refuse_fractions_bools_words_and_inf(value, shown):
    _refused({"steps": value}, "steps=", shown, "expected an int")


def test_int_fields_take_exactly_integral_numbers():
    # PyYAML reads 1e1 (no dot) as the string "1e1": accepted because it is exactly 10.
    assert config_from_dict(_Cfg, {"steps": "1e1"}).steps == 10
    assert config_from_dict(_Cfg, {"steps": 10.0}).steps == 10
    assert type(config_from_dict(_Cfg, {"steps": 7}).steps) is int
    assert type(config_from_dict(_Cfg, {"steps": np.int64(7)}).steps) is int
    assert config_from_dict(_Cfg, {"lr": np.float32(0.5)}).lr == 0.5


@pytest.mark.parametrize("value", [1, 0, "yes", "true", None])
def test_bool_fields_take_only_booleans(value):
    _refused({"flag": value}, "flag=", "expected a bool")


def test_bool_fields_take_what_yaml_parses_as_bool():
    assert resolve_config(_Cfg, overrides=["flag=true"]).flag is True
    assert resolve_config(_Cfg, overrides=["flag=yes"]).flag is True  # YAML 1.1 boolean
    with pytest.raises(ConfigError, match="flag=1: expected a bool"):
        resolve_config(_Cfg, overrides=["flag=1"])


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan, ".inf", "nan", True, "fast"])
def test_float_fields_refuse_non_finite_and_non_numbers(value):
    _refused({"lr": value}, "lr=")


def test_float_fields_take_ints_and_numeric_strings_and_allowed_inf():
    cfg = config_from_dict(_Cfg, {"lr": "1e-4", "limit": math.inf})
    assert cfg.lr == 1e-4 and math.isinf(cfg.limit)
    assert config_from_dict(_Cfg, {"lr": 2}).lr == 2.0
    _refused({"limit": math.nan}, "limit=nan", "finite")  # NaN even where inf is allowed


def test_strings_optionals_tuples_lists_and_nested_sections_are_checked():
    _refused({"name": 3}, "name=3", "expected a string")
    assert config_from_dict(_Cfg, {"seed": None}).seed is None
    assert config_from_dict(_Cfg, {"seed": 3}).seed == 3
    _refused({"seed": 2.5}, "seed=2.5", "expected an int")
    _refused({"size": [64, 64.5]}, "size[1]=64.5", "expected an int")
    _refused({"size": [64]}, "size=[64]", "expected 2 items")
    _refused({"dims": "8"}, "dims='8'", "expected a list")
    _refused({"dims": [8, True]}, "dims[1]=True", "expected an int")
    _refused({"scales": [1.0, "nan"]}, "scales[1]='nan'", "finite")
    _refused({"inner": {"width": 2.5}}, "inner.width=2.5", "expected an int")
    _refused({"inner": {"gain": math.inf}}, "inner.gain=inf", "finite")
    _refused({"inner": 3}, "inner=3", "expected a mapping")
    cfg = config_from_dict(_Cfg, {"size": [32, 48], "dims": [1, 2], "inner": {"width": 6}})
    assert cfg.size == (32, 48) and cfg.dims == (1, 2) and cfg.inner == _Inner(width=6)


def test_moved_keys_name_their_new_place():
    with pytest.raises(ConfigError, match="families moved to inner.width"):
        config_from_dict(_Moved, {"families": 3})


def test_resolution_layers_preset_file_values_then_overrides(tmp_path):
    presets = {"small": {"steps": 3, "inner": {"width": 2, "gain": 0.5}}}
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("steps: 4\ninner: {width: 5}\nname: file\n")
    before = sorted(p.name for p in tmp_path.iterdir())
    cfg = resolve_config(
        _Cfg,
        preset="small",
        presets=presets,
        config_file=cfg_file,
        values={"name": "flag", "seed": None},
        overrides=["steps=1e1", "inner.gain=2"],
    )
    assert cfg.steps == 10 and cfg.name == "flag" and cfg.seed is None
    assert cfg.inner == _Inner(width=5, gain=2.0)  # nested sections merge key by key
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # writes nothing
    assert presets == {"small": {"steps": 3, "inner": {"width": 2, "gain": 0.5}}}
    base = resolve_config(_Cfg, base=config_to_dict(cfg), overrides=["flag=true"])
    assert base == dataclasses.replace(cfg, flag=True)


def test_resolution_refuses_unknown_presets_keys_and_bad_overrides(tmp_path):
    with pytest.raises(ConfigError, match="preset='huge': unknown; known presets: small"):
        resolve_config(_Cfg, preset="huge", presets={"small": {}})
    with pytest.raises(ConfigError, match=r"unknown config key inner\.widht"):
        resolve_config(_Cfg, overrides=["inner.widht=3"])
    with pytest.raises(ConfigError, match="config file not found"):
        resolve_config(_Cfg, config_file=tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="cannot be combined"):
        resolve_config(_Cfg, preset="small", presets={"small": {}}, base={})


def test_every_stage_has_its_presets_in_a_data_file():
    for stage, names in (
        ("il", {"default", "debug", "v2"}),
        ("rl", {"default", "debug"}),
        ("distill", {"default", "debug"}),
        ("pipeline", {"tiny", "full"}),
        ("worldmodel", {"default", "tiny"}),
    ):
        assert set(stage_presets(stage)) == names, stage
        assert (ROOT / "configs" / "presets" / f"{stage}.yaml").is_file()


@pytest.mark.parametrize(
    ("args", "shown"),
    [
        (["--set", "steps=ten"], "steps='ten': expected an int"),
        (["--set", "steps=true"], "steps=True: expected an int, got a bool"),
        (["--set", "lr=.inf"], "lr=inf: expected a finite number"),
    ],
)
def test_cli_reports_bad_values_as_user_errors(tmp_path, args, shown):
    out = tmp_path / "run"
    res = subprocess.run(
        [sys.executable, "-m", "compass_nav.cli", "il", "train", "--out", str(out)]
        + ["--data", str(tmp_path / "no_demos"), "--preset", "debug", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert res.returncode == 2, res.stdout + res.stderr
    assert "compass-nav: error:" in res.stderr and shown in res.stderr, res.stderr
    assert "Traceback" not in res.stderr
    assert not out.exists()  # refused before anything was written


@pytest.mark.parametrize(
    ("stage", "override", "moved"),
    [
        ("rl", "families=[hall]", "families moved to episode.families"),
        ("rl", "max_episode_steps=50", "max_episode_steps moved to episode.max_episode_steps"),
        ("distill", "route_mode=planned", "route_mode moved to episode.route_mode"),
        ("il", "dagger.families=[hall]", "dagger.families moved to dagger.episode.families"),
        ("pipeline", "eval_families=[hall]", "eval_families moved to eval_episode.families"),
        ("pipeline", "rl.image_height=32", "rl.image_height moved to rl.episode.image_height"),
    ],
)
def test_old_episode_keys_are_refused_naming_their_new_place(stage, override, moved):
    from compass_nav.distill.config import DistillConfig
    from compass_nav.il.runner import ILConfig
    from compass_nav.pipeline.runner import PipelineConfig
    from compass_nav.rl.config import RLConfig

    cls = {"rl": RLConfig, "distill": DistillConfig, "il": ILConfig, "pipeline": PipelineConfig}
    preset = "tiny" if stage == "pipeline" else "debug"
    with pytest.raises(ConfigError, match=moved):
        resolve_config(cls[stage], preset=preset, presets=stage, overrides=[override])


def test_episode_spec_builds_the_stage_sim_config():
    from compass_nav.rl.config import rl_preset
    from compass_nav.sim.config import EpisodeSpec

    cfg = rl_preset("debug", episode={"families": ["hall"]})
    assert cfg.episode == EpisodeSpec(
        families=("hall",),
        route_mode="mapless",
        max_episode_steps=60,
        image_height=0,
        image_width=0,
    )
    with pytest.raises(ConfigError, match="episode.image_height=0.*needs a model"):
        cfg.episode.sim_config(2, ("carter",))
    with pytest.raises(ConfigError, match="episode.split.*must be 'train'"):
        rl_preset("debug", episode={"split": "heldout"})
    with pytest.raises(ConfigError, match="episode.families.*unknown family"):
        rl_preset("debug", episode={"families": ["moon"]})


def test_a_preset_added_to_the_data_file_is_usable_without_code(tmp_path, monkeypatch):
    from compass_nav.il.cli import build_il_config
    from compass_nav.utils import paths

    presets = tmp_path / "presets"
    presets.mkdir()
    il = (ROOT / "configs" / "presets" / "il.yaml").read_text()
    (presets / "il.yaml").write_text(il + "short:\n  steps: 5\n  dagger: {rounds: 0}\n")
    monkeypatch.setenv(paths.CONFIGS_DIR_ENV, str(tmp_path))
    assert build_il_config("unused", "short").steps == 5
    with pytest.raises(ConfigError, match="known presets: default, debug, v2, short"):
        build_il_config("unused", "shrot")
    monkeypatch.setenv(paths.CONFIGS_DIR_ENV, str(tmp_path / "missing"))
    with pytest.raises(DataError, match=paths.CONFIGS_DIR_ENV):
        stage_presets("il")


def test_check_helpers_name_the_field_the_value_and_the_bound():
    check_at_least("steps", 1, 1)
    check_within("beta", 0.5, 0, 1)
    with pytest.raises(ConfigError, match=r"^steps=0: must be >= 1$"):
        check_at_least("steps", 0, 1)
    with pytest.raises(ConfigError, match=r"^lr=0\.0: must be > 0$"):
        check_positive("lr", 0.0)
    with pytest.raises(ConfigError, match=r"^fov=200: must be within \[20, 170\] degrees$"):
        check_within("fov", 200, 20, 170, "degrees")
    check_within("start", 0.0, 0, 1, high_open=True)
    with pytest.raises(ConfigError, match=r"^start=1\.0: must be within \[0, 1\)$"):
        check_within("start", 1.0, 0, 1, high_open=True)
    assert check_names("bodies", ["carter", "spot"]) == ("carter", "spot")
    with pytest.raises(ConfigError, match=r"^bodies=\(\): must not be empty$"):
        check_names("bodies", [])
    with pytest.raises(ConfigError, match=r"must not repeat a name"):
        check_names("bodies", ["spot", "spot"])
