"""Body dynamics that differ in kind: each feature measurably does what its field says."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from compass_nav.contract.body import get_embodiment
from compass_nav.sim import kernels
from compass_nav.sim.camera_motion import gait_camera, roll_images
from compass_nav.sim.dynamics import BodyDynamics

DT, SUB = 0.1, 2
G = 240


def _quiet(name: str, **changes):
    """A registered body without per-step noise, bias or drift, with ``changes``."""
    base = dict(tracking_noise=0.0)
    body = get_embodiment(name)
    if body.legged:
        base.update(tracking_bias=0.0, tracking_drift=0.0)
    return dataclasses.replace(body, **{**base, **changes})


class Rig:
    """One body in an empty world, stepped through :class:`BodyDynamics`."""

    def __init__(self, body, n: int = 1) -> None:
        self.body = body
        self.dyn = BodyDynamics([body] * n, DT, SUB)
        self.height = np.zeros((n, G, G), np.float32)
        self.pose = np.tile([[12.0, 12.0, 0.0]], (n, 1))
        self.vel = np.zeros((n, 3))
        self.collided = np.zeros(n, bool)
        rng = np.random.default_rng(0)
        self.rngs = [rng] * n
        for e in range(n):
            self.dyn.reset_env(e, rng)

    def step(self, cmd) -> np.ndarray:
        n = self.pose.shape[0]
        cmd = np.clip(
            np.tile(np.asarray(cmd, float), (n, 1)), self.body.action_low, self.body.action_high
        )
        self.dyn.step(
            self.height,
            self.pose,
            self.vel,
            cmd,
            np.ones(n, bool),
            np.zeros((n, 3)),
            self.collided,
            self.rngs,
        )
        return self.vel[0].copy()


def test_default_fields_reproduce_the_first_order_kernel_exactly():
    for name in ("carter", "omnibase", "spot", "h1"):
        body = get_embodiment(name)
        n = 4
        rig = Rig(body, n)
        pose_k, vel_k = rig.pose.copy(), np.zeros((n, 3))
        rng = np.random.default_rng(1)
        lim = np.maximum(np.abs(body.action_low), np.abs(body.action_high)).astype(np.float64)
        for _ in range(40):
            cmd = np.clip(rng.uniform(-1.5, 1.5, (n, 3)), body.action_low, body.action_high)
            noise = rng.normal(0, body.tracking_noise, (n, 3))
            rig.dyn.step(
                rig.height, rig.pose, rig.vel, cmd, np.ones(n, bool), noise, rig.collided, rig.rngs
            )
            kernels.step_bodies(
                rig.height,
                pose_k,
                vel_k,
                cmd,
                np.ones(n, bool),
                np.tile(lim, (n, 1)),
                np.tile(body.accel_limits.astype(np.float64), (n, 1)),
                np.full(n, body.lag_tau),
                np.tile([[body.length, body.width]], (n, 1)),
                noise,
                DT,
                SUB,
                np.zeros(n, bool),
            )
        np.testing.assert_array_equal(rig.vel, vel_k)
        np.testing.assert_array_equal(rig.pose, pose_k)


@pytest.mark.parametrize("latency", [0.0, 0.1, 0.2, 0.25])
def test_latency_delays_the_response_by_latency_over_dt_steps(latency):
    body = _quiet("carter", command_latency=latency, lag_tau=0.0)
    rig = Rig(body)
    speeds = [rig.step([1.0, 0.0, 0.0])[0] for _ in range(6)]
    first = next(k for k, v in enumerate(speeds) if v > 0)
    # The command acts from t = latency on: the first step whose period reaches past it moves
    # (a whole number of periods delays the response by exactly that many steps).
    assert first == math.floor(latency / DT + 1e-9)
    if latency > 0:
        undelayed = Rig(_quiet("carter", lag_tau=0.0))
        ref = [undelayed.step([1.0, 0.0, 0.0])[0] for _ in range(6)]
        k = round(latency / DT)
        if abs(latency / DT - k) < 1e-9:
            assert speeds[k:] == pytest.approx(ref[: len(ref) - k])


def test_second_order_tracking_overshoots_and_settles_first_order_does_not():
    under = Rig(_quiet("trotter", track_wn=6.0, track_zeta=0.3, max_ax=4.0))
    first = Rig(_quiet("spot"))
    u = [under.step([0.6, 0.0, 0.0])[0] for _ in range(60)]
    f = [first.step([0.6, 0.0, 0.0])[0] for _ in range(60)]
    # zeta = 0.3: the textbook overshoot is exp(-pi zeta / sqrt(1 - zeta^2)) = 37%.
    overshoot = max(u) / 0.6 - 1.0
    assert 0.25 < overshoot < 0.45
    assert u[-1] == pytest.approx(0.6, abs=0.01)
    assert max(f) <= 0.6 + 1e-9 and f[-1] == pytest.approx(0.6, abs=1e-3)


def test_ackermann_never_turns_in_place_and_respects_the_turning_radius():
    body = _quiet("rover", command_latency=0.0)
    rig = Rig(body)
    for _ in range(20):
        rig.step([0.0, 0.0, body.max_wz])
    assert rig.pose[0, 2] == 0.0 and (rig.pose[0, :2] == 12.0).all()
    xs = []
    for _ in range(120):
        v = rig.step([0.7, 0.3, body.max_wz])  # asks for a sideways step too
        assert v[1] == 0.0
        assert abs(v[2]) <= abs(v[0]) / body.min_turn_radius + 1e-9
        xs.append(rig.pose[0, :2].copy())
    # Steady circle: its radius (from three points far apart) is at least r_min.
    a, b, c = xs[-30], xs[-20], xs[-10]
    ab, bc, ca = np.linalg.norm(a - b), np.linalg.norm(b - c), np.linalg.norm(c - a)
    u, w = b - a, c - a
    area = abs(u[0] * w[1] - u[1] * w[0]) / 2
    radius = ab * bc * ca / (4 * area)
    assert radius >= body.min_turn_radius - 0.02
    assert radius == pytest.approx(body.min_turn_radius, rel=0.05)


@pytest.mark.parametrize("decel", [1.0, 2.0, 4.0])
def test_braking_distance_is_v_squared_over_twice_the_deceleration(decel):
    body = _quiet("carter", lag_tau=0.0, max_ax=1.0, max_decel=decel, max_vx=1.2)
    rig = Rig(body)
    for _ in range(20):
        rig.step([1.2, 0.0, 0.0])
    v0 = rig.vel[0, 0]
    assert v0 == pytest.approx(1.2)
    x0 = rig.pose[0, 0]
    for _ in range(40):
        rig.step([0.0, 0.0, 0.0])
    assert rig.vel[0, 0] == 0.0
    h = DT / SUB
    # Continuous v^2 / (2 a), less the half sub-step the explicit integration saves.
    expected = v0**2 / (2 * decel) - v0 * h / 2
    assert rig.pose[0, 0] - x0 == pytest.approx(expected, abs=0.02)


def test_skid_steer_slip_loses_yaw_rate_and_skids_outwards():
    slip = Rig(_quiet("tracker", command_latency=0.0))
    grip = Rig(
        _quiet("tracker", command_latency=0.0, kind="wheeled", slip_yaw=0.0, slip_lateral=0.0)
    )
    body = slip.body
    for _ in range(40):
        vs = slip.step([0.8, 0.0, 1.0])
        vg = grip.step([0.8, 0.0, 1.0])
    assert vg[2] == pytest.approx(1.0, abs=1e-6)
    assert vs[2] == pytest.approx(1.0 * (1 - body.slip_yaw), abs=1e-6)
    # Turning left while driving forward skids the body to the right (negative vy).
    assert vs[1] == pytest.approx(-body.slip_lateral * vs[0] * vs[2]) and vs[1] < 0
    assert grip.vel[0, 1] == 0.0


def test_legged_bias_is_drawn_per_episode_and_shifts_the_tracked_speed():
    body = dataclasses.replace(get_embodiment("trotter"), tracking_noise=0.0, tracking_drift=0.0)
    rig = Rig(body)
    assert np.abs(rig.dyn.bias[0]).max() > 0
    assert (np.abs(rig.dyn.bias[0]) <= body.tracking_bias).all()
    for _ in range(60):
        v = rig.step([0.5, 0.0, 0.0])
    assert v[0] == pytest.approx(0.5 * (1 + rig.dyn.bias[0, 0]), rel=1e-3)


def test_gait_camera_pitches_and_rolls_only_with_amplitudes():
    phase = np.linspace(0, 4 * np.pi, 50)
    zero = np.zeros(50)
    dz, dp, roll = gait_camera(phase, zero, zero, zero)
    assert not dz.any() and not dp.any() and not roll.any()
    dz, dp, roll = gait_camera(phase, np.full(50, 0.03), np.full(50, 0.04), np.full(50, 0.05))
    assert np.abs(dp).max() == pytest.approx(0.04, rel=0.05)
    assert np.abs(roll).max() == pytest.approx(0.05, rel=0.05)


def test_roll_rotates_the_image_about_its_centre():
    h = w = 9
    depth = np.tile(np.arange(w, dtype=np.float32), (1, h, 1))  # value = column
    rgb = np.zeros((1, h, w, 3), np.uint8)
    rgb[0, :, :, 0] = np.arange(w, dtype=np.uint8)[None, :]
    roll_images(rgb, depth, np.array([np.pi / 2]), True, True)
    # A quarter turn makes every row constant (columns became rows).
    assert all(len(set(depth[0, i].tolist())) == 1 for i in range(h))
    assert all(len(set(rgb[0, i, :, 0].tolist())) == 1 for i in range(h))
    untouched = np.tile(np.arange(w, dtype=np.float32), (1, h, 1))
    roll_images(rgb, untouched, np.array([0.0]), True, True)
    assert (untouched[0] == np.arange(w)).all()


def test_env_applies_camera_pitch_oscillation_to_the_render():
    from compass_nav.sim.env import NavVectorEnv

    env = NavVectorEnv(
        num_envs=2, embodiments=("tallbot",), families=("hall",), image_height=16, image_width=16
    )
    env.reset(seed=0)
    base = env._cam_static[:, 1]
    pitches = []
    for _ in range(30):
        env.step(np.tile([[0.5, 0.0, 0.0]], (2, 1)))
        pitches.append(env._cams()[:, 1] - base)
    pitches = np.array(pitches)
    body = get_embodiment("tallbot")
    assert np.abs(pitches).max() > 0.3 * body.camera_pitch_osc
    assert np.abs(pitches).max() <= body.camera_pitch_osc + 1e-12
    assert np.abs(env._roll).max() <= body.camera_roll_osc + 1e-12
