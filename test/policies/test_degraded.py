"""Degraded policy variants behave as their names say."""

from __future__ import annotations

import numpy as np
import pytest

from compass_nav.contract.body import get_embodiment
from compass_nav.policies import make_policy
from compass_nav.policies.degraded import DegradedPolicy, parse_degraded, straight_route
from compass_nav.utils.errors import ConfigError


def _obs(n: int = 3) -> dict[str, np.ndarray]:
    body = get_embodiment("carter")
    goal = np.tile(np.array([[3.0, 1.0, 0.5]], np.float32), (n, 1))
    return {
        "rgb": np.zeros((n, 8, 8, 3), np.uint8),
        "depth": np.full((n, 8, 8), 5.0, np.float32),
        "speed": np.zeros((n, 3), np.float32),
        "route": straight_route(goal, 10),
        "goal": goal,
        "embodiment": np.tile(body.descriptor(), (n, 1)),
    }


def test_parse_and_canonical_name():
    spec = parse_degraded("degraded:teacher?noise=0.3&delay=2")
    assert (spec.base, spec.noise, spec.delay) == ("teacher", 0.3, 2)
    assert make_policy("degraded:goal_seeker?delay=2&noise=0.3").name == (
        "degraded:goal_seeker?noise=0.3&delay=2"
    )


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("degraded:teacher?nosie=0.3", "unknown key 'nosie'"),
        ("degraded:teacher?noise=abc", "noise='abc'"),
        ("degraded:teacher?delay=-1", "delay=-1"),
        ("degraded:teacher?route=curvy", "route='curvy'"),
        ("degraded:teacher?limits=hovercraft", "hovercraft"),
        ("degraded:?noise=0.1", "base"),
    ],
)
def test_bad_specs_name_the_field(spec, match):
    with pytest.raises(ConfigError, match=match):
        make_policy(spec)


def test_delay_shifts_actions_and_resets_at_episode_start():
    pol = make_policy("degraded:wall?delay=2")
    obs = _obs(2)
    start = np.array([True, True])
    top = obs["embodiment"][0, 0]
    a0 = pol.act(obs, start)
    a1 = pol.act(obs, np.array([False, False]))
    a2 = pol.act(obs, np.array([False, False]))
    assert a0[:, 0].tolist() == [0.0, 0.0] and a1[:, 0].tolist() == [0.0, 0.0]
    assert np.allclose(a2[:, 0], top)
    # Env 1 starts a new episode: its queued actions are dropped.
    a3 = pol.act(obs, np.array([False, True]))
    assert a3[0, 0] == pytest.approx(top) and a3[1, 0] == 0.0


def test_noise_has_the_named_scale():
    pol = make_policy("degraded:standstill?noise=0.5&seed=3")
    obs = _obs(4000)
    a = pol.act(obs, np.ones(4000, bool))
    d = obs["embodiment"][0]
    assert a[:, 0].std() == pytest.approx(0.5 * d[0], rel=0.08)  # max_vx
    assert a[:, 2].std() == pytest.approx(0.5 * d[3], rel=0.08)  # max_wz
    assert np.abs(a[:, 0].mean()) < 0.05


def test_limits_make_the_policy_believe_another_body():
    slow = get_embodiment("g1")
    obs = _obs()
    obs["goal"][:] = (4.0, 0.0, 0.0)
    obs["route"] = straight_route(obs["goal"], 10)
    fast = make_policy("goal_seeker").act(obs, np.ones(3, bool))
    wrong = make_policy("degraded:goal_seeker?limits=g1").act(obs, np.ones(3, bool))
    assert wrong[0, 0] < fast[0, 0]
    assert wrong[0, 0] <= 0.6 * slow.max_vx + 1e-6


def test_straight_route_matches_the_simulators_mapless_route():
    from compass_nav.sim.env import NavVectorEnv

    env = NavVectorEnv(
        num_envs=3, families=("hall",), image_height=16, image_width=16, route_mode="mapless"
    )
    obs, _ = env.reset(seed=2)
    np.testing.assert_allclose(
        straight_route(obs["goal"], obs["route"].shape[1]), obs["route"], atol=1e-4
    )
    pol = make_policy("degraded:goal_seeker?route=straight")
    assert isinstance(pol, DegradedPolicy)


@pytest.fixture(scope="module")
def teacher_variants(carter_rollouts):
    out = {}
    for spec in (
        "teacher",
        "degraded:teacher?noise=1.0",
        "degraded:teacher?delay=8",
        "degraded:teacher?limits=g1",
    ):
        out[spec] = carter_rollouts(spec, 8, seed=5, steps=150)
    return out


def test_noise_and_delay_lower_teacher_success(teacher_variants):
    base = teacher_variants["teacher"].success.mean()
    assert base >= 0.85
    assert teacher_variants["degraded:teacher?noise=1.0"].success.mean() <= base - 0.5
    assert teacher_variants["degraded:teacher?delay=8"].success.mean() <= base - 0.5


def test_wrong_body_limits_slow_the_teacher(teacher_variants):
    base, slow = teacher_variants["teacher"], teacher_variants["degraded:teacher?limits=g1"]
    both = base.success & slow.success
    assert both.sum() >= 4
    assert slow.length[both].mean() > 1.2 * base.length[both].mean()
