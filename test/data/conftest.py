"""Shared fixtures of the demonstrations tests: one small dataset recorded once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from compass_nav.data import record_episodes
from compass_nav.sim.config import SimConfig


@pytest.fixture(scope="session")
def small_cfg() -> SimConfig:
    """2 slots over two families, non-square 24x32 images, short episodes (many time out)."""
    return SimConfig(
        num_envs=2,
        families=("hall", "office"),
        image_height=24,
        image_width=32,
        max_episode_steps=30,
    )


@pytest.fixture(scope="session")
def small_demos(tmp_path_factory: pytest.TempPathFactory, small_cfg: SimConfig) -> Path:
    """A 6-episode teacher dataset recorded with ``small_cfg`` and seed 3 (read-only)."""
    root = tmp_path_factory.mktemp("demos") / "small"
    record_episodes("teacher", root, small_cfg, 6, seed=3, progress=False)
    return root
