"""Fixtures of the distillation tests: one torch thread, an untrained debug base."""

from __future__ import annotations

import pytest
import torch

from compass_nav.rl.base import load_base


@pytest.fixture(autouse=True)
def _one_thread():
    # Tiny networks run fastest on one thread, and two threads crawl when the cores are busy.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def debug_base():
    """An untrained, frozen X-Mobility of the debug preset (seeded)."""
    return load_base("random:debug", seed=3)
