"""Reward settings: presets, the guarded geodesic progress, validation messages."""

from __future__ import annotations

import numpy as np
import pytest

from compass_nav.rl.config import rl_preset
from compass_nav.rl.rewards import (
    REWARD_PRESETS,
    RLRewardConfig,
    geodesic_progress,
    proximity_penalty,
)
from compass_nav.utils.errors import ConfigError


def test_geodesic_progress_ignores_cells_the_planner_forbids():
    before = np.array([5.0, 5.0, 5.0])
    # Moved closer; entered a forbidden cell (huge finite cost-to-go); left the goal behind.
    now = np.array([4.6, 5e16, 5.3])
    progress, geo = geodesic_progress(before, now)
    assert np.allclose(progress, [0.4, 0.0, -0.3])
    assert np.allclose(geo, [4.6, 5.0, 5.3])  # inside a forbidden cell the old value is kept
    progress, _ = geodesic_progress(geo, np.array([4.5, 4.8, 5.3]))
    assert np.allclose(progress, [0.1, 0.2, 0.0])  # leaving it again is ordinary progress


def test_presets_and_the_simulator_config():
    compass, shaped = REWARD_PRESETS["compass"], REWARD_PRESETS["shaped"]
    assert compass.progress == 0 and compass.smoothness == 0
    assert shaped.progress > 0 and shaped.smoothness < 0
    for name in ("distance", "success", "collision"):  # the ablation changes only shaping
        assert getattr(compass, name) == getattr(shaped, name)
    assert shaped.sim_reward().progress == 0.0  # the feature env adds progress itself
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
