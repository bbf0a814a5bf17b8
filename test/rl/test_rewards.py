"""Reward settings: presets, bounded geodesic progress, validation messages."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from compass_nav.rl.config import rl_preset
from compass_nav.rl.rewards import (
    REWARD_PRESETS,
    RLRewardConfig,
    proximity_penalty,
)
from compass_nav.utils.errors import ConfigError


def test_shaped_reward_stays_bounded_when_the_body_enters_a_forbidden_cell(debug_base):
    """The simulator's own progress term carries the shaping: in a cell the planner forbids
    the cost-to-go is ``grid.INF`` and progress is 0 there, not minus a huge cost."""
    import math

    from compass_nav.planner import grid
    from compass_nav.planner.cost import planner_radii
    from compass_nav.rl.config import rl_preset
    from compass_nav.rl.env import ResidualNavEnv
    from compass_nav.rl.runner import rl_sim_config
    from compass_nav.sim.scenes import RESOLUTION

    cfg = rl_preset("debug", embodiment="g1", num_envs=1)
    env = ResidualNavEnv(rl_sim_config(cfg, debug_base.cfg), debug_base, seed=0)
    sim = env.sim
    assert sim.cfg.reward.progress == REWARD_PRESETS["shaped"].progress > 0
    clearance = sim.privileged()["clearance"][0]
    r_in, _ = planner_radii(sim.env_bodies[0])
    x, y = sim.pose[0, :2]
    i, j = min(
        np.argwhere((clearance > 0.0) & (clearance < r_in + 0.02)),
        key=lambda c: math.hypot((c[1] + 0.5) * RESOLUTION - x, (c[0] + 0.5) * RESOLUTION - y),
    )
    assert sim.cost_to_go[0, i, j] >= grid.INF
    sim.pose[0, :2] = ((j + 0.5) * RESOLUTION, (i + 0.5) * RESOLUTION)
    for _ in range(3):
        _, reward, _, _ = env.step(torch.zeros(1, 3))
        assert torch.isfinite(reward).all() and reward.abs().max() < 100.0, reward
    sim.close()


def test_presets_and_the_simulator_config():
    compass, shaped = REWARD_PRESETS["compass"], REWARD_PRESETS["shaped"]
    assert compass.progress == 0 and compass.smoothness == 0
    assert shaped.progress > 0 and shaped.smoothness < 0
    for name in ("distance", "success", "collision"):  # the ablation changes only shaping
        assert getattr(compass, name) == getattr(shaped, name)
    assert shaped.sim_reward().progress == shaped.progress  # the simulator's own term
    assert shaped.sim_reward().smoothness == shaped.smoothness


def test_proximity_penalty_by_hand():
    # radius 0.4 m, margin 0.3 m: free beyond a 0.7 m clearance, 1 at 0.4 m and closer.
    clearance = np.array([1.0, 0.7, 0.55, 0.4, 0.1])
    got = proximity_penalty(clearance, np.full(5, 0.4), 0.3)
    assert np.allclose(got, [0.0, 0.0, 0.5, 1.0, 1.0])
    # A bigger body is inside the margin where a small one is free.
    assert np.allclose(
        proximity_penalty(np.array([0.8, 0.8]), np.array([0.3, 0.6]), 0.3), [0.0, 1 / 3]
    )
    assert REWARD_PRESETS["shaped"].proximity == 0  # off unless a config turns it on
    assert "proximity" not in type(REWARD_PRESETS["shaped"].sim_reward()).__dataclass_fields__


def test_bad_values_are_named():
    with pytest.raises(ConfigError, match="reward.proximity=0.5"):
        RLRewardConfig(proximity=0.5)
    with pytest.raises(ConfigError, match="reward.proximity_margin=0"):
        RLRewardConfig(proximity_margin=0)
    with pytest.raises(ConfigError, match="reward.collision=1.0"):
        RLRewardConfig(collision=1.0)
    with pytest.raises(ConfigError, match="unknown embodiment 'robot9'"):
        rl_preset("debug", embodiment="robot9")
    with pytest.raises(ConfigError, match="steps_per_env=1"):
        rl_preset("debug", steps_per_env=1)
