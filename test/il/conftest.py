"""Fixtures of the training tests: a tiny teacher dataset recorded once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from compass_nav.data import record_episodes
from compass_nav.sim.config import SimConfig


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """Every test here runs on one torch thread (see test/conftest.py)."""


@pytest.fixture(scope="session")
def tiny_demos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four carter teacher episodes at 32x32 (the debug model reads 16x16: resized)."""
    root = tmp_path_factory.mktemp("il") / "demos"
    cfg = SimConfig(
        num_envs=2,
        families=("hall", "warehouse"),
        image_height=32,
        image_width=32,
        max_episode_steps=60,
    )
    record_episodes("teacher", root, cfg, 4, seed=1, progress=False)
    return root
