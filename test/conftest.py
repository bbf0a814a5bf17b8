"""Fixtures shared by several test folders (pytest finds them from every subfolder).

None is autouse here: a folder that wants one for every test opts in from its own conftest
with a one-line autouse fixture that requests it (e.g. ``one_torch_thread``).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from compass_nav.plugins import register_all

# What the command line does at start-up: make every policy kind known to make_policy.
register_all()


@pytest.fixture
def fresh_python() -> Callable[..., str]:
    """``fresh_python(code, *argv)``: run ``code`` in a new interpreter, return its stdout.

    For what a fresh process sees (registrations, modules it loads); a non-zero exit fails
    the test with the process's stderr.
    """

    def run(code: str, *argv: str, timeout: float = 120) -> str:
        out = subprocess.run(
            [sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=timeout
        )
        assert out.returncode == 0, out.stderr
        return out.stdout

    return run


@pytest.fixture
def one_torch_thread():
    """One intra-op torch thread for the test, restored afterwards.

    The test networks are tiny: they run fastest on one thread, and torch's spinning pool of
    two threads crawls when the 2 cores are busy.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def example_export(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], tuple[Path, Path]]:
    """``example_export(kind) -> (checkpoint, onnx)``, exported once per session.

    Shared by test/export and test/runtime: a session running both exports each kind once.
    """
    from compass_nav.export.examples import export_example

    root = tmp_path_factory.getbasetemp() / "export_examples"
    return lambda kind: export_example(kind, root)


def _export_kinds() -> tuple[str, ...]:
    from compass_nav.export.examples import EXAMPLE_KINDS

    return tuple(EXAMPLE_KINDS)


@pytest.fixture(params=_export_kinds())
def kind(request: pytest.FixtureRequest) -> str:
    """Every exportable policy kind (keys of ``compass_nav.export.examples.EXAMPLE_KINDS``)."""
    return request.param


@pytest.fixture(scope="session")
def debug_base():
    """An untrained, frozen X-Mobility of the debug preset (seeded), for RL and distillation."""
    from compass_nav.rl.base import load_base

    return load_base("random:debug", seed=3)


# The small simulator most tests run: two carter slots over hall and office.
SMALL_SIM = {"num_envs": 2, "embodiments": ("carter",), "families": ("hall", "office")}


@pytest.fixture(scope="session")
def small_sim_config() -> Callable[..., Any]:
    """``small_sim_config(hw=(32, 32), **fields)``: a :class:`SimConfig` for quick tests.

    :data:`SMALL_SIM` with an ``hw`` (height, width) camera; ``fields`` override any field.
    """
    from compass_nav.sim.config import SimConfig

    def make(hw: tuple[int, int] = (32, 32), **fields: Any) -> SimConfig:
        return SimConfig(**{**SMALL_SIM, "image_height": hw[0], "image_width": hw[1], **fields})

    return make


@pytest.fixture(scope="session")
def small_episode() -> Callable[..., Any]:
    """``small_episode(hw=(32, 32), **fields)``: an :class:`EpisodeSpec` for quick tests.

    Hall and office scenes with an ``hw`` (height, width) camera; ``fields`` override any field.
    """
    from compass_nav.sim.config import EpisodeSpec

    def make(hw: tuple[int, int] = (32, 32), **fields: Any) -> EpisodeSpec:
        fields.setdefault("families", SMALL_SIM["families"])
        return EpisodeSpec(image_height=hw[0], image_width=hw[1], **fields)

    return make


@pytest.fixture(scope="session")
def carter_rollouts() -> Callable[..., Any]:
    """``carter_rollouts(spec, episodes, seed=, steps=, families=)``: held-out rollouts.

    ``episodes`` paired episodes of ``spec`` on carter at 16 px, all in one block
    (:func:`compass_nav.worldmodel.rollouts.record_rollouts`); hall and office by default.
    """
    from compass_nav.worldmodel.rollouts import record_rollouts

    def record(
        spec: str,
        episodes: int,
        *,
        seed: int,
        steps: int,
        families: tuple[str, ...] = SMALL_SIM["families"],
    ):
        return record_rollouts(
            spec, "carter", families, "heldout", episodes, seed, 16, steps, block=episodes
        )

    return record
