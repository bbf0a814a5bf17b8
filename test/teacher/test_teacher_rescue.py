"""The teacher's stall rescue (``compass_nav.teacher.rescue``) and the guard's delay line."""

from __future__ import annotations

import math

import numpy as np

from compass_nav.evaluation.harness import episode_key
from compass_nav.sim.config import SimConfig
from compass_nav.sim.env import NavVectorEnv
from compass_nav.teacher.rescue import _stoppable, segments
from compass_nav.teacher.teacher import Teacher, TeacherConfig


def test_segments_group_one_kind_of_motion():
    path = np.array(
        [
            [0.0, 0.0, 0.0, 0],
            [0.1, 0.0, 0.0, 1],
            [0.2, 0.0, 0.0, 1],
            [0.2, 0.0, 0.1, 0],
            [0.2, 0.0, 0.2, 0],
            [0.1, -0.02, 0.2, -1],
        ]
    )
    segs = segments(path)
    assert [k for k, _, _ in segs] == [1, 0, -1]
    assert np.allclose(segs[0][1], [0, 0, 0]) and np.allclose(segs[0][2], [0.2, 0, 0])
    assert np.allclose(segs[1][2], [0.2, 0, 0.2])
    assert np.allclose(segs[2][1], [0.2, 0, 0.2])


def test_stoppable_speed_stops_within_the_distance():
    for d, delay, dec in ((0.3, 0.35, 0.75), (0.05, 0.2, 1.0), (2.0, 0.0, 0.5)):
        v = _stoppable(d, delay, dec)
        assert v * delay + v * v / (2 * dec) == np.float64(d) or math.isclose(
            v * delay + v * v / (2 * dec), d, rel_tol=1e-9
        )


def _run(config: TeacherConfig) -> tuple[dict, Teacher]:
    cfg = SimConfig(
        num_envs=1, embodiments=("crawler",), families=("hospital",), split="validation",
        suite="v2", route_mode="stale_map", moving_obstacles=3, image_height=16,
        image_width=16,
    )  # fmt: skip
    env = NavVectorEnv(cfg)
    teacher = Teacher(env, config)
    env.reset(seed=[episode_key(0, "crawler", "hospital", 44)])
    for _ in range(int(env.step_limit[0]) + 1):
        _, _, term, trunc, info = env.step(teacher.act())
        if term[0] or trunc[0]:
            break
    return info, teacher


def test_a_wedged_crawler_shuffles_out_on_a_plan():
    """Validation episode 44 of crawler x hospital: the 1.2 m x 0.95 m tracked body wedges
    itself where every command the guard allows touches something; backing up straight
    brought it back to the same place until the time limit. The rescue's straight-and-turn
    plan gets it out, and it reaches the goal."""
    info, teacher = _run(TeacherConfig())
    assert info["success"][0] and not info["collision"][0]
    assert teacher._rescue.starts[0] >= 1
    info, _ = _run(TeacherConfig(rescue=False))
    assert info["timeout"][0]


def test_the_guard_rolls_out_behind_the_commands_in_the_latency_line():
    """Validation episode 35 of crawler x office: with 150 ms of command latency, a guard that
    rolled each candidate out from the present pose let the body's corner touch a jamb (the
    commands already sent still act for one and a half steps). Rolled out behind them, the
    episode ends without a collision."""
    cfg = SimConfig(
        num_envs=1, embodiments=("crawler",), families=("office",), split="validation",
        suite="v2", route_mode="stale_map", moving_obstacles=3, image_height=16,
        image_width=16,
    )  # fmt: skip
    env = NavVectorEnv(cfg)
    teacher = Teacher(env, TeacherConfig(rescue=False))
    env.reset(seed=[episode_key(0, "crawler", "office", 35)])
    for _ in range(int(env.step_limit[0]) + 1):
        _, _, term, trunc, info = env.step(teacher.act())
        if term[0] or trunc[0]:
            break
    assert not info["collision"][0]
    assert teacher._sent.shape[1] == 3  # ceil(0.15 s x 10 Hz) + 1 commands remembered
