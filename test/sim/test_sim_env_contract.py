"""Contract of the embedded simulator (NavVectorEnv) over every embodiment and scene family.

Shapes, dtypes, units and frames of the observation; autoreset semantics; determinism;
collisions; reachable tasks; bad actions and bad configuration. Small on purpose: 64x64 (or
smaller) images, a few envs, a few steps; numba's compiled kernels are cached on disk.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from compass_nav.contract.body import DESCRIPTOR_DIM, list_embodiments
from compass_nav.planner import grid
from compass_nav.policies import make_policy
from compass_nav.sim import kernels
from compass_nav.sim.config import SimConfig
from compass_nav.sim.env import NavVectorEnv
from compass_nav.sim.scenes import (
    RESOLUTION,
    heldout_families,
    list_families,
    training_families,
)
from compass_nav.teacher import Teacher
from compass_nav.utils.errors import ConfigError

BODIES = tuple(list_embodiments())
FAMILIES = tuple(list_families())


def _env(**kw) -> NavVectorEnv:
    base = dict(
        num_envs=3, embodiments=("carter",), families=FAMILIES, image_height=32, image_width=32
    )
    base.update(kw)
    return NavVectorEnv(**base)


@pytest.fixture(scope="module")
def sweep():
    """Every embodiment x family once, reset and stepped 4 times with random actions."""
    env = NavVectorEnv(
        num_envs=len(BODIES) * len(FAMILIES),
        embodiments=BODIES,
        families=FAMILIES,
        image_height=64,
        image_width=64,
    )
    obs0, _ = env.reset(seed=11)
    start = {k: v.copy() for k, v in env.privileged().items() if isinstance(v, np.ndarray)}
    rng = np.random.default_rng(0)
    observations = [obs0]
    infos = []
    for _ in range(4):
        a = rng.uniform(env.action_space.low, env.action_space.high).astype(np.float32)
        obs, reward, term, trunc, info = env.step(a)
        observations.append(obs)
        infos.append((reward, term, trunc, info))
    return env, observations, infos, start


def test_registry_is_complete():
    assert {"carter", "omnibase", "spot", "h1", "g1", "digit"} <= set(list_embodiments("train"))
    assert len(list_embodiments("heldout")) >= 2
    assert set(FAMILIES) == {"warehouse", "office", "hall", "hospital"}
    assert set(training_families()) == {"warehouse", "office", "hall"}
    assert heldout_families() == ["hospital"]


def test_sweep_covers_every_pair(sweep):
    env, *_ = sweep
    pairs = {(b.name, str(f)) for b, f in zip(env.env_bodies, env.env_family, strict=True)}
    assert pairs == {(b, f) for b in BODIES for f in FAMILIES}


def test_observation_matches_spaces(sweep):
    env, observations, infos, _ = sweep
    space = env.single_observation_space
    assert set(space.spaces) == {"rgb", "depth", "speed", "route", "goal", "embodiment"}
    n = env.num_envs
    expected = {
        "rgb": ((64, 64, 3), np.uint8),
        "depth": ((64, 64), np.float32),
        "speed": ((3,), np.float32),
        "route": ((10, 2), np.float32),
        "goal": ((3,), np.float32),
        "embodiment": ((DESCRIPTOR_DIM,), np.float32),
    }
    for obs in observations:
        assert set(obs) == set(space.spaces)
        for key, (shape, dtype) in expected.items():
            assert obs[key].shape == (n, *shape), key
            assert obs[key].dtype == dtype, key
            assert space[key].shape == shape and space[key].dtype == dtype, key
            assert env.observation_space[key].shape == (n, *shape), key
        assert env.observation_space.contains(obs)
    for reward, term, trunc, info in infos:
        assert reward.shape == (n,) and reward.dtype == np.float32
        assert term.dtype == bool and trunc.dtype == bool
        for k in ("success", "collision", "timeout", "_episode"):
            assert info[k].shape == (n,)


def test_depth_in_metres_within_camera_range(sweep):
    env, observations, *_ = sweep
    far = np.array([b.camera_far for b in env.env_bodies])
    for obs in observations:
        d = obs["depth"]
        assert np.isfinite(d).all()
        assert (d >= 0).all()
        assert (d <= far[:, None, None] + 1e-4).all()
        # Rooms are closed: most pixels hit something within range, and the floor right
        # below the horizon is nearer than the top rows on average.
        assert (d > 0).mean() > 0.9
    # Metres, along the optical axis: the bottom-centre pixel sees the floor at the distance
    # the camera mount (height, pitch, field of view) predicts, or something nearer.
    obs = observations[0]
    h, w = obs["depth"].shape[1:]
    hits_floor = 0
    for e, b in enumerate(env.env_bodies):
        f = (w / 2) / math.tan(math.radians(b.camera_hfov_deg) / 2)
        # Gait oscillation pitches the camera by up to camera_pitch_osc and rolls the image by
        # up to camera_roll_osc about its centre (which brings the bottom-centre pixel nearer
        # the horizon): the floor distance lies between the two extremes.
        rows = h / 2 - 0.5
        off_far = math.atan(rows * math.cos(b.camera_roll_osc) / f)
        off_near = math.atan(rows / f)
        far_floor = math.cos(off_far) / math.sin(b.camera_pitch - b.camera_pitch_osc + off_far)
        near_floor = math.cos(off_near) / math.sin(b.camera_pitch + b.camera_pitch_osc + off_near)
        got = float(obs["depth"][e, -1, w // 2])
        assert 0 < got <= far_floor * (b.camera_height + b.camera_bob) + 1e-3, b.name
        hits_floor += got >= near_floor * (b.camera_height - b.camera_bob) - 1e-3
    assert hits_floor >= 0.8 * env.num_envs


def test_embodiment_observation_is_the_descriptor(sweep):
    env, observations, *_ = sweep
    for obs in observations:
        want = np.stack([b.descriptor() for b in env.env_bodies])
        np.testing.assert_array_equal(obs["embodiment"], want)


def test_start_and_goal_reachable_and_collision_free(sweep):
    env, _, _, start = sweep
    for e, body in enumerate(env.env_bodies):
        x, y, yaw = start["pose"][e]
        gx, gy, _ = start["goal"][e]
        ctg = start["cost_to_go"][e]
        si, sj = int(y / RESOLUTION), int(x / RESOLUTION)
        gi, gj = int(gy / RESOLUTION), int(gx / RESOLUTION)
        assert ctg[si, sj] < grid.INF, (body.name, env.env_family[e])
        assert ctg[gi, gj] == 0.0
        assert not kernels.footprint_collides(
            start["height"][e], x, y, yaw, body.length, body.width
        )
        clearance = start["clearance"][e]
        need = body.circumscribed_radius
        assert clearance[si, sj] >= need and clearance[gi, gj] >= need
        path = grid.descend_path(ctg, x, y, 10_000)
        assert math.hypot(path[-1, 0] - gx, path[-1, 1] - gy) < 2 * RESOLUTION


def test_speed_is_body_frame():
    for body in ("carter", "omnibase", "h1"):
        env = _env(embodiments=(body,))
        env.reset(seed=3)
        pose0 = env.pose.copy()
        a = np.zeros((3, 3), np.float32)
        a[:, 0] = 0.3
        for _ in range(3):
            obs, *_ = env.step(a)
        assert (obs["speed"][:, 0] > 0.05).all(), body
        np.testing.assert_allclose(obs["speed"][:, 1:], 0.0, atol=1e-6)
        # Moving forward in the body frame moves along the heading in the world frame.
        d = env.pose[:, :2] - pose0[:, :2]
        heading = np.stack([np.cos(pose0[:, 2]), np.sin(pose0[:, 2])], 1)
        along = (d * heading).sum(1)
        across = d[:, 0] * heading[:, 1] - d[:, 1] * heading[:, 0]
        assert (along > 0.02).all() and (np.abs(across) < 1e-6).all()
        # Turning left (positive wz) is counter-clockwise: yaw grows, wz > 0.
        a = np.zeros((3, 3), np.float32)
        a[:, 2] = 0.5
        yaw0 = env.pose[:, 2].copy()
        obs, *_ = env.step(a)
        assert (obs["speed"][:, 2] > 0).all()
        assert (((env.pose[:, 2] - yaw0 + np.pi) % (2 * np.pi) - np.pi) > 0).all()


def test_holonomic_lateral_speed_and_wheeled_ignores_it():
    env = _env(embodiments=("omnibase",))
    env.reset(seed=4)
    a = np.zeros((3, 3), np.float32)
    a[:, 1] = 0.3
    for _ in range(3):
        obs, *_ = env.step(a)
    assert (obs["speed"][:, 1] > 0.05).all()
    env = _env(embodiments=("carter",))
    env.reset(seed=4)
    for _ in range(3):
        obs, *_ = env.step(a)
    np.testing.assert_allclose(obs["speed"], 0.0, atol=1e-9)


@pytest.mark.parametrize("route_mode", ["planned", "mapless"])
def test_goal_and_route_in_robot_frame(route_mode):
    env = _env(route_mode=route_mode)
    obs, _ = env.reset(seed=5)
    # The goal observation is the world goal seen from the robot.
    x, y, yaw = env.pose.T
    dx, dy = env.goal[:, 0] - x, env.goal[:, 1] - y
    want_x = np.cos(yaw) * dx + np.sin(yaw) * dy
    want_y = -np.sin(yaw) * dx + np.cos(yaw) * dy
    np.testing.assert_allclose(obs["goal"][:, 0], want_x, atol=1e-4)
    np.testing.assert_allclose(obs["goal"][:, 1], want_y, atol=1e-4)
    # Turn each robot to face its goal (in place: starts have room to spin) and look again.
    env.pose[:, 2] = np.arctan2(dy, dx)
    obs, *_ = env.step(np.zeros((3, 3), np.float32))
    dist = np.hypot(dx, dy)
    np.testing.assert_allclose(obs["goal"][:, 0], dist, atol=1e-4)
    np.testing.assert_allclose(obs["goal"][:, 1], 0.0, atol=1e-4)
    route = obs["route"]
    if route_mode == "mapless":
        # Straight line to the goal: on the x axis, 0.4 m apart, ending at the goal.
        np.testing.assert_allclose(route[..., 1], 0.0, atol=1e-4)
        want = np.minimum(0.4 * np.arange(1, 11)[None], dist[:, None])
        np.testing.assert_allclose(route[..., 0], want, atol=1e-3)
    else:
        # Planned: waypoints lead away from the robot, spaced along the path, ending at most
        # at the goal; the last point is as close to the goal as the first or closer.
        steps = np.linalg.norm(np.diff(route, axis=1), axis=-1)
        assert (steps <= 0.4 + 1e-3).all()
        to_goal = np.linalg.norm(route - obs["goal"][:, None, :2], axis=-1)
        assert (to_goal[:, -1] <= to_goal[:, 0] + 1e-6).all()


def test_autoreset_next_step_semantics():
    env = _env(num_envs=3)
    wall = make_policy("wall")
    obs, _ = env.reset(seed=6)
    start = np.ones(3, bool)
    for _ in range(300):
        obs, reward, term, trunc, info = env.step(wall.act(obs, start))
        start[:] = False
        if term.any():
            break
    else:
        pytest.fail("the wall driver never hit anything in 300 steps")
    e = int(np.flatnonzero(term)[0])
    assert info["_episode"][e] and info["collision"][e]
    assert info["episode"]["l"][e] >= 1
    final_pose = env.pose[e].copy()
    # The final observation belongs to the ended episode: the body stands where it stopped.
    np.testing.assert_allclose(obs["speed"][e], 0.0, atol=1e-9)
    obs2, reward2, term2, trunc2, info2 = env.step(np.full((3, 3), 0.5, np.float32))
    assert reward2[e] == 0.0
    assert not term2[e] and not trunc2[e] and not info2["_episode"][e]
    # A fresh episode: new start pose, at rest, step counter restarted.
    assert not np.allclose(env.pose[e], final_pose)
    np.testing.assert_allclose(obs2["speed"][e], 0.0, atol=1e-9)
    assert env.steps[e] == 0
    obs3, *_ = env.step(np.zeros((3, 3), np.float32))
    assert env.steps[e] == 1


def test_timeout_is_truncation():
    env = _env(num_envs=3, max_episode_steps=5)
    env.reset(seed=7)
    for _ in range(5):
        _, _, term, trunc, info = env.step(np.zeros((3, 3), np.float32))
    assert trunc.all() and not term.any() and info["timeout"].all()
    np.testing.assert_array_equal(info["episode"]["l"], 5)


def test_deterministic_under_seed():
    def run():
        env = NavVectorEnv(
            num_envs=3,
            embodiments=("spot", "h1"),
            families=FAMILIES,
            image_height=32,
            image_width=48,
        )
        teacher = Teacher(env)
        out = [env.reset(seed=21)[0]]
        for _ in range(12):
            out.append(env.step(teacher.act())[0])
        return out

    a, b = run(), run()
    for oa, ob in zip(a, b, strict=True):
        for key in oa:
            np.testing.assert_array_equal(oa[key], ob[key], err_msg=key)
    # A different seed gives a different episode.
    env = NavVectorEnv(
        num_envs=3, embodiments=("spot", "h1"), families=FAMILIES, image_height=32, image_width=48
    )
    other = env.reset(seed=22)[0]
    assert not np.array_equal(other["rgb"], a[0]["rgb"])


def test_collision_stops_the_robot_and_is_reported():
    env = _env(num_envs=6, embodiments=("carter", "h1"))
    wall = make_policy("wall")
    obs, _ = env.reset(seed=8)
    collided = np.zeros(6, bool)
    start = np.ones(6, bool)
    for _ in range(300):
        before = env.pose.copy()
        obs, reward, term, trunc, info = env.step(wall.act(obs, start))
        start = info["_episode"].copy()
        for e in np.flatnonzero(info["collision"] & ~collided):
            collided[e] = True
            body = env.env_bodies[e]
            assert term[e] and not info["success"][e]
            assert reward[e] < 0  # the collision weight is negative
            np.testing.assert_allclose(obs["speed"][e], 0.0, atol=1e-9)
            # The blocked sub-step was undone: the body is not inside the obstacle.
            x, y, yaw = env.pose[e]
            assert not kernels.footprint_collides(
                env.height[e], x, y, yaw, body.length, body.width
            )
            assert np.hypot(*(env.pose[e, :2] - before[e, :2])) < 0.2
        if collided.all():
            break
    assert collided.sum() >= 5, "driving straight at full speed should end in a wall"


def test_nan_actions_are_zeroed_with_a_warning():
    env = _env(num_envs=3)
    env.reset(seed=9)
    pose0 = env.pose.copy()
    a = np.zeros((3, 3), np.float32)
    a[0, 0] = np.nan
    a[1, 2] = np.inf
    a[2, 0] = 0.3
    with pytest.warns(RuntimeWarning, match="non-finite action"):
        obs, reward, term, trunc, info = env.step(a)
    np.testing.assert_array_equal(info["invalid_action"], [True, True, False])
    for arr in (env.pose, env.vel, obs["speed"], obs["goal"], obs["route"], reward):
        assert np.isfinite(arr).all()
    # NaN/inf rows acted as a zero command: those bodies stayed where they were.
    np.testing.assert_allclose(env.pose[:2], pose0[:2])
    np.testing.assert_allclose(obs["speed"][:2], 0.0, atol=1e-9)
    assert obs["speed"][2, 0] > 0


def test_actions_clipped_to_the_body():
    env = _env(num_envs=3, embodiments=("g1",))
    env.reset(seed=10)
    a = np.tile(np.array([[50.0, 50.0, 50.0]], np.float32), (3, 1))
    for _ in range(30):
        obs, *_ = env.step(a)
    body = env.env_bodies[0]
    lim = np.array([body.max_vx, body.max_vy, body.max_wz]) * 1.2  # tracking overshoot
    assert (np.abs(obs["speed"]) <= lim + 1e-6).all()
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros((2, 3)))


def test_unknown_names_list_the_known_ones():
    with pytest.raises(ConfigError) as exc:
        NavVectorEnv(num_envs=1, embodiments=("tank",))
    for name in BODIES:
        assert name in str(exc.value)
    assert "'tank'" in str(exc.value)
    with pytest.raises(ConfigError) as exc:
        NavVectorEnv(num_envs=1, families=("jungle",))
    for name in FAMILIES:
        assert name in str(exc.value)
    assert "'jungle'" in str(exc.value)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("num_envs", 0),
        ("image_height", 8),
        ("image_width", 1000),
        ("split", "test"),
        ("route_mode", "teleport"),
        ("control_hz", 0.0),
        ("goal_tolerance", -1.0),
        ("route_points", 0),
        ("embodiments", ()),
        ("goal_distance_min", 9.0),
    ],
)
def test_invalid_config_names_field_and_value(field, value):
    with pytest.raises(ConfigError) as exc:
        SimConfig(**{field: value})
    assert f"{field}={value!r}" in str(exc.value)


def test_the_three_seed_splits_never_share_a_scene():
    seeds = {}
    for split in ("train", "heldout", "validation"):
        env = _env(split=split, num_envs=6, families=("office",), scene_pool=50)
        env.reset(seed=5)
        seeds[split] = set(env.scene_seed.tolist())
        env.close()
    assert max(seeds["train"]) < 50
    assert all(1_000_000 <= s < 1_000_050 for s in seeds["heldout"])
    assert all(2_000_000 <= s < 2_000_050 for s in seeds["validation"])
    with pytest.raises(ConfigError, match="split='test'"):
        SimConfig(split="test")
