"""Scenario suite v2: stale-map routes with unmapped obstacles, long routes, narrow passages,
the held-out family, per-episode metadata and time limits, and ``compass-nav sim difficulty``.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from compass_nav import cli
from compass_nav.contract.body import get_embodiment
from compass_nav.distill.config import DistillConfig
from compass_nav.il.dagger import DaggerConfig
from compass_nav.planner import grid
from compass_nav.rl.config import RLConfig
from compass_nav.sim.config import EpisodeSpec, SimConfig
from compass_nav.sim.env import NavVectorEnv, scene_with_clearance
from compass_nav.sim.scenes import generate_scene
from compass_nav.sim.suites import SUITES, get_suite
from compass_nav.teacher.teacher import Teacher
from compass_nav.utils.errors import ConfigError

FAMILIES = ("warehouse", "office", "hall", "hospital")


def _v2(n=8, bodies=("carter",), families=FAMILIES, **kw) -> NavVectorEnv:
    base = dict(
        num_envs=n,
        embodiments=bodies,
        families=families,
        suite="v2",
        route_mode="stale_map",
        split="validation",
        image_height=16,
        image_width=16,
        render_rgb=False,
    )
    base.update(kw)
    return NavVectorEnv(**base)


@pytest.fixture(scope="module")
def v2_env():
    env = _v2(n=16, bodies=("carter", "h1"))
    env.reset(seed=3)
    return env


def _static(env, e):
    scene, clearance = scene_with_clearance(str(env.env_family[e]), int(env.scene_seed[e]), "v2")
    return scene, clearance


def test_unmapped_obstacles_block_the_stale_route_and_the_true_map_stays_solvable(v2_env):
    env = v2_env
    p = env.privileged()
    blocked = 0
    for e in range(env.num_envs):
        scene, _ = _static(env, e)
        added = (env.height[e] > 0) & (scene.height == 0)
        assert not ((scene.height > 0) & (env.height[e] == 0)).any()  # nothing removed
        x, y = env.pose[e, :2]
        i, j = int(y / 0.1), int(x / 0.1)
        assert p["cost_to_go"][e, i, j] < grid.INF  # the goal is reachable on the true map
        if env.route_blocked[e]:
            blocked += 1
            assert added.any()
            # The stale route runs through (or next to) an unmapped obstacle; the true plan not.
            stale = grid.descend_path(p["cost_to_go_stale"][e], x, y, 4000)
            true = grid.descend_path(p["cost_to_go"][e], x, y, 4000)
            radius = env.env_bodies[e].circumscribed_radius
            assert grid.min_clearance_along(env.clearance[e], stale) < radius
            assert grid.min_clearance_along(env.clearance[e], true) > 0.2
            assert not np.array_equal(p["cost_to_go"][e], p["cost_to_go_stale"][e])
    # Most routes are blocked (the suite puts obstacles on the route in 90% of episodes).
    assert blocked >= env.num_envs // 2


def test_unmapped_obstacles_have_their_own_materials(v2_env):
    from compass_nav.sim.scenes.base import BOX, CART, PALLET, PERSON

    env = v2_env
    mats = set()
    for e in range(env.num_envs):
        scene, _ = _static(env, e)
        added = (env.height[e] > 0) & (scene.height == 0)
        mats |= set(np.unique(env.material[e][added]).tolist())
    assert mats and mats <= {PALLET, CART, PERSON, BOX}


def test_routes_are_long_and_stale_routes_follow_the_static_map(v2_env):
    env = v2_env
    assert (env.route_length >= 8.0 - 0.2).all() and (env.route_length <= 30.0).all()
    assert np.median(env.route_length) >= 10.0
    # route_mode stale_map: the route observation follows the static map's plan.
    assert env.route_cost_to_go is not env.cost_to_go


def test_narrow_passages_are_admitted_if_the_body_fits():
    env = _v2(n=12, bodies=("carter",), families=("office", "hospital", "hall"))
    body = get_embodiment("carter")
    fit = 0.5 * body.width + get_suite("v2").fit_margin
    tight = 0
    for seed in range(3):
        env.reset(seed=seed)
        for e in range(env.num_envs):
            _, clearance = _static(env, e)
            path = grid.descend_path(env.route_cost_to_go[e], *env.pose[e, :2], 4000)
            least = grid.min_clearance_along(clearance, path)
            assert least >= fit - 1e-6  # the body fits through every passage of its route
            tight += least < body.circumscribed_radius
    # ... and v1 would have rejected a good share of them (clearance below the radius).
    assert tight >= 4


def test_v1_is_unchanged_by_the_suite_machinery():
    env = NavVectorEnv(num_envs=3, image_height=16, image_width=16)
    env.reset(seed=0)
    for e in range(3):
        scene = generate_scene(str(env.env_family[e]), int(env.scene_seed[e]))
        np.testing.assert_array_equal(env.height[e], scene.height)
    assert not env.route_blocked.any()
    assert (env.step_limit == env.cfg.max_episode_steps).all()
    assert env.route_cost_to_go is env.cost_to_go
    assert 2.5 <= env.route_length.min() and env.route_length.max() <= 6.0 + 1e-9


def test_time_limit_scales_with_route_length_and_speed(v2_env):
    suite = get_suite("v2")
    assert suite.step_limit(300, 10.0, 1.0, 10.0) == math.ceil((2.5 * 10 + 30) * 10)
    assert suite.step_limit(300, 20.0, 1.0, 10.0) > suite.step_limit(300, 10.0, 1.0, 10.0)
    assert suite.step_limit(300, 10.0, 0.5, 10.0) > suite.step_limit(300, 10.0, 1.0, 10.0)
    assert suite.step_limit(2000, 1.0, 1.0, 10.0) == 2000  # never below the base
    assert SUITES["v1"].step_limit(300, 25.0, 0.5, 10.0) == 300
    env = v2_env
    for e in range(env.num_envs):
        want = suite.step_limit(
            env.cfg.max_episode_steps, env.ref_length[e], env.env_bodies[e].max_vx, 10.0
        )
        assert env.step_limit[e] == want


def test_episode_ends_at_its_own_time_limit_and_reports_metadata():
    env = _v2(n=2, bodies=("spot",), families=("hall",), max_episode_steps=20)
    env.reset(seed=5)
    limits = env.step_limit.copy()
    lengths, blocked, tort = env.route_length.copy(), env.route_blocked.copy(), env.tortuosity
    tort = tort.copy()
    ended_at = {}
    for t in range(1, int(limits.max()) + 1):
        _, _, term, trunc, info = env.step(np.zeros((2, 3), np.float32))
        assert not term.any()
        for e in np.flatnonzero(info["_episode"]):
            ended_at.setdefault(int(e), (t, info))
        if len(ended_at) == 2:
            break
    for e, (t, info) in ended_at.items():
        assert t == limits[e] and info["timeout"][e]
        assert info["route_length"][e] == lengths[e]
        assert info["route_blocked"][e] == blocked[e]
        assert info["tortuosity"][e] == tort[e] >= 1.0
        assert info["step_limit"][e] == limits[e]
        assert isinstance(info["line_blocked"][e], np.bool_)


def test_held_out_family_is_refused_where_episodes_are_trained_on():
    spec = EpisodeSpec(families=("warehouse", "hospital"))
    with pytest.raises(ConfigError, match=r"'hospital' is a held-out scene family"):
        spec.check_trainable()
    hospital = EpisodeSpec(
        families=("hospital",), route_mode="mapless", image_height=0, image_width=0
    )
    with pytest.raises(ConfigError, match=r"episode.families.*held-out"):
        RLConfig(episode=hospital)
    with pytest.raises(ConfigError, match=r"held-out"):
        DistillConfig(episode=hospital)
    dagger_episode = EpisodeSpec(families=("hospital",), image_height=0, image_width=0)
    with pytest.raises(ConfigError, match=r"dagger.episode.families"):
        DaggerConfig(episode=dagger_episode)
    # Evaluation may use it, in both suites.
    EpisodeSpec(families=("hospital",), split="heldout", suite="v2", route_mode="stale_map")
    NavVectorEnv(num_envs=1, families=("hospital",), image_height=16, image_width=16).reset(seed=0)


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("suite", "v3", "suite"),
        ("route_mode", "stale", "stale_map"),
    ],
)
def test_bad_suite_settings_are_refused(field, value, needle):
    with pytest.raises(ConfigError, match=needle):
        SimConfig(**{field: value})
    with pytest.raises(ConfigError, match=needle):
        EpisodeSpec(**{field: value})


def test_sim_config_from_episode_spec_carries_the_suite():
    spec = EpisodeSpec(suite="v2", route_mode="stale_map", families=FAMILIES)
    cfg = spec.sim_config(4, ("carter",))
    assert cfg.suite == "v2" and cfg.route_mode == "stale_map"


@pytest.mark.slow
def test_teacher_drives_the_v2_suite():
    env = _v2(n=8, bodies=("carter", "spot"), families=FAMILIES)
    env.reset(seed=11)
    teacher = Teacher(env)
    outcome = {}
    for _ in range(int(env.step_limit.max()) + 1):
        _, _, _, _, info = env.step(teacher.act())
        for e in np.flatnonzero(info["_episode"]):
            outcome.setdefault(int(e), bool(info["success"][e]))
        if len(outcome) == env.num_envs:
            break
    assert len(outcome) == env.num_envs
    assert sum(outcome.values()) >= env.num_envs - 1


def test_difficulty_command_prints_the_table_and_writes_json(tmp_path, capsys):
    out = tmp_path / "difficulty.json"
    args = (
        "sim difficulty --embodiments carter --families hall hospital --split validation "
        f"--episodes 2 --slots 2 --json {out}"
    )
    assert cli.main(args.split()) == 0
    text = capsys.readouterr().out
    for needle in ("stale route clear", "goal_seeker SR", "hospital", "carter"):
        assert needle in text
    result = json.loads(out.read_text())
    assert result["config"]["suite"] == "v2" and result["config"]["split"] == "validation"
    assert result["targets"] == {"line_clear": 0.3, "route_clear": 0.4, "follower_success": 0.4}
    # v2 has moving obstacles by default: the encounter share is measured, not n/a.
    assert result["config"]["moving_obstacles"] == 3
    assert all(0.0 <= c["moving_encounter"] <= 1.0 for c in result["cells"])
    assert [(c["embodiment"], c["family"], c["n"]) for c in result["cells"]] == [
        ("carter", "hall", 2),
        ("carter", "hospital", 2),
    ]
    (body,) = result["bodies"]
    assert body["family"] == "all" and body["n"] == 4
    records = result["records"]
    assert len(records) == 4
    route_clear = np.mean([not r["route_blocked"] for r in records])
    assert body["route_clear"] == pytest.approx(route_clear)
    encounters = np.mean([r["moving_encounter"] for r in records])
    assert body["moving_encounter"] == pytest.approx(encounters)
    assert body["meets_targets"] == all(body[k] <= v for k, v in result["targets"].items())
    for r in records:
        assert 8.0 - 0.2 <= r["route_length"] <= 30.0 and r["tortuosity"] >= 1.0


def test_difficulty_command_refuses_bad_input(capsys):
    assert cli.main("sim difficulty --embodiments tank --episodes 1".split()) == 2
    assert "tank" in capsys.readouterr().err
    assert cli.main("sim difficulty --families jungle --episodes 1".split()) == 2
    assert "jungle" in capsys.readouterr().err
    assert cli.main("sim difficulty --episodes 0".split()) == 2
    assert "episodes" in capsys.readouterr().err


def test_failure_clips_keep_the_true_map_and_the_whole_long_episode():
    from compass_nav.evaluation.failure_clips import FailureRecorder

    env = _v2(n=2, bodies=("carter",), families=("warehouse",))
    env.reset(seed=4)
    assert env.max_step_limit >= env.step_limit.max()
    rec = FailureRecorder(2, 16, 16, env.max_step_limit, keep=1, memory_mb=1)
    p = env.privileged()
    rec.begin(np.arange(2), p["goal"], p["height"])
    rec.push({"depth": np.zeros((2, 16, 16), np.float32)}, p["pose"])
    record = {"success": False, "collision": True, "final_distance": 1.0, "cell": 0, "episode": 0}
    rec.finish(1, record)
    (clip,) = rec.clips
    np.testing.assert_array_equal(clip.height, env.height[1])


def test_gate_leaves_one_narrow_gap_off_the_route_in_a_corridor():
    from compass_nav.sim import scenarios

    body = get_embodiment("carter")
    fit = 0.5 * body.width + get_suite("v2").fit_margin
    g = 240
    height = np.full((g, g), 3.0, np.float32)
    height[100:117, 20:220] = 0.0  # a corridor 1.7 m wide along x, y in [10.0, 11.7)
    material = np.zeros((g, g), np.uint8)
    for seed in range(10):
        h, m = height.copy(), material.copy()
        p = np.array([12.0, 10.85])  # on the corridor's centre line
        mask = scenarios._place(
            np.random.default_rng(seed), "gate", h, m, p, np.array([1.0, 0.0]), body, True, fit
        )
        assert mask.any()
        column = h[100:117, 120]  # across the corridor at x = 12.05
        free = np.flatnonzero(column == 0)
        assert free.size and np.all(np.diff(free) == 1)  # exactly one gap
        gap = free.size * 0.1
        assert 1.1 * body.width <= gap <= 1.6 * body.width + 0.2
        # A body driving along the route (centre y = 10.85 m) would hit the barrier.
        lo, hi = (
            int((10.85 - body.width / 2) / 0.1) - 100,
            int((10.85 + body.width / 2) / 0.1) - 100,
        )
        assert (column[lo : hi + 1] > 0).any()
