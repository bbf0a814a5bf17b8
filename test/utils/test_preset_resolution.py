"""Every stage's presets resolve to what they resolved to before the one config resolution.

``data/preset_resolutions.yaml`` holds each preset's resolved config and the simulator
settings each stage built from it, captured from the code before presets became data files
and the episode fields moved into the nested ``episode`` section (:class:`EpisodeSpec`). The
configs are compared with the episode section flattened back to the old top-level keys; the
``SimConfig`` of every site must be identical.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from compass_nav.distill.cli import build_distill_config
from compass_nav.distill.runner import _dagger_sim
from compass_nav.evaluation import EvalConfig
from compass_nav.il.cli import build_il_config
from compass_nav.il.dagger import dagger_sim_config
from compass_nav.models.xmobility.configuration import preset as model_preset
from compass_nav.pipeline.runner import pipeline_preset
from compass_nav.rl.cli import build_rl_config
from compass_nav.rl.runner import rl_sim_config
from compass_nav.sim.config import EPISODE_KEYS
from compass_nav.utils.config import config_to_dict
from compass_nav.worldmodel.cli import resolve_config as resolve_worldmodel
from compass_nav.worldmodel.rollouts import rollout_sim_config

EXPECTED = yaml.safe_load((Path(__file__).parent / "data" / "preset_resolutions.yaml").read_text())

#: Where the old top-level keys of each config went (besides ``episode.*``).
PIPELINE_MOVES = {"eval_families": "families", "eval_max_episode_steps": "max_episode_steps"}


def _flatten_episode(data: dict[str, Any], keep: tuple[str, ...]) -> dict[str, Any]:
    """Old layout of a config dict: ``episode``'s fields ``keep`` back at the top level."""
    out = {k: v for k, v in data.items() if k != "episode"}
    out.update({k: data["episode"][k] for k in keep})
    return out


def _old_pipeline(data: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in data.items() if k != "eval_episode"}
    for old, new in PIPELINE_MOVES.items():
        out[old] = data["eval_episode"][new]
    out["il"] = _old_il(data["il"])
    out["rl"] = _flatten_episode(data["rl"], RL_KEYS)
    out["distill"] = _flatten_episode(data["distill"], DISTILL_KEYS)
    return out


def _without_new_defaults(data: Any) -> Any:
    """Drop fields added after the capture whose default builds the same thing.

    ``body_dim: 0`` (XMobilityConfig): no body embedding, the model as it was.
    """
    if isinstance(data, dict):
        return {
            k: _without_new_defaults(v)
            for k, v in data.items()
            if not (k == "body_dim" and v == 0)
        }
    if isinstance(data, list):
        return [_without_new_defaults(v) for v in data]
    return data


def _old_il(data: dict[str, Any]) -> dict[str, Any]:
    keys = ("families", "max_episode_steps")
    return {**data, "dagger": _flatten_episode(data["dagger"], keys)}


RL_KEYS = ("families", "route_mode", "max_episode_steps", "image_height", "image_width")
DISTILL_KEYS = ("families", "route_mode", "max_episode_steps")
EVAL_KEYS = tuple(k for k in EPISODE_KEYS)


def _eval_old(cfg: EvalConfig) -> dict[str, Any]:
    data = config_to_dict(cfg)
    flat = _flatten_episode(data, EVAL_KEYS)
    order = list(EXPECTED["configs"]["evaluation/default"])
    return {k: flat[k] for k in order}


def _sims() -> dict[str, Any]:
    debug_model = model_preset("debug")
    out: dict[str, Any] = {}
    for p in ("default", "debug"):
        il = build_il_config("unused", p)
        m = il.model
        sim = dagger_sim_config(
            il.dagger, il.embodiments, (m.image_height, m.image_width), 10, 0.4
        )
        out[f"il/{p}/dagger"] = sim
        out[f"rl/{p}/train"] = rl_sim_config(build_rl_config("unused", p), debug_model)
        ds = build_distill_config("unused", p)
        out[f"distill/{p}/dagger"] = _dagger_sim(ds, debug_model, ["carter", "spot"])
    for p in ("tiny", "full"):
        cfg = pipeline_preset(p)
        m = cfg.il.model
        out[f"pipeline/{p}/demos"] = cfg.demo_sim_config()
        for body in cfg.bodies:
            out[f"pipeline/{p}/rl_{body}"] = rl_sim_config(cfg.rl_for(body), m, (body,))
        out[f"pipeline/{p}/record"] = cfg.rl.episode.sim_config(
            cfg.record_num_envs, ("carter",), model=m
        )
        out[f"pipeline/{p}/distill"] = _dagger_sim(cfg.distill, m, list(cfg.bodies))
        e = cfg.eval_config("carter")
        out[f"pipeline/{p}/eval"] = e.episode.sim_config(e.resolved_num_envs(), e.embodiments)
    e = EvalConfig()
    out["evaluation/default"] = e.episode.sim_config(e.resolved_num_envs(), e.embodiments)
    for p in ("default", "tiny"):
        pool = resolve_worldmodel(p).pool
        for split in ("train", "heldout"):
            out[f"worldmodel/{p}/{split}"] = rollout_sim_config(
                pool.block,
                pool.embodiment,
                pool.families,
                split,
                pool.image_size,
                pool.max_episode_steps,
            )
    return out


def test_configs_resolve_as_before():
    got = {}
    for p in ("default", "debug"):
        got[f"il/{p}"] = _old_il(config_to_dict(build_il_config("unused", p)))
        got[f"rl/{p}"] = _flatten_episode(config_to_dict(build_rl_config("unused", p)), RL_KEYS)
        got[f"distill/{p}"] = _flatten_episode(
            config_to_dict(build_distill_config("unused", p)), DISTILL_KEYS
        )
    for p in ("tiny", "full"):
        cfg = pipeline_preset(p)
        got[f"pipeline/{p}"] = _old_pipeline(config_to_dict(cfg))
        got[f"pipeline/{p}/eval"] = _eval_old(cfg.eval_config("carter"))
    got["evaluation/default"] = _eval_old(EvalConfig())
    for p in ("default", "tiny"):
        got[f"worldmodel/{p}"] = config_to_dict(resolve_worldmodel(p))
    assert set(got) == set(EXPECTED["configs"])
    for name, expected in EXPECTED["configs"].items():
        assert yaml.safe_load(yaml.safe_dump(_without_new_defaults(got[name]))) == expected, name


@pytest.fixture(scope="module")
def sims() -> dict[str, Any]:
    return _sims()


def test_every_site_is_compared(sims):
    assert set(sims) == set(EXPECTED["sim"])


@pytest.mark.parametrize("name", sorted(EXPECTED["sim"]))
def test_sim_configs_are_built_as_before(sims, name):
    assert yaml.safe_load(yaml.safe_dump(config_to_dict(sims[name]))) == EXPECTED["sim"][name]
