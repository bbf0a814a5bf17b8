"""Shared fixtures of the export tests: one example checkpoint + ONNX export per policy kind.

The exports are cached in the session's base temp folder (test/runtime shares them).
Policy kinds are the keys of :data:`compass_nav.export.examples.EXAMPLE_KINDS`; a new kind
added there is exported, checked and parity-tested by every test parametrised on ``kind``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from compass_nav.export.examples import EXAMPLE_KINDS, export_example

KINDS = tuple(EXAMPLE_KINDS)


@pytest.fixture(scope="session")
def example_export(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], tuple[Path, Path]]:
    """``example_export(kind) -> (checkpoint, onnx)``, exported once per session."""
    root = tmp_path_factory.getbasetemp() / "export_examples"
    return lambda kind: export_example(kind, root)


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    """Every exportable policy kind."""
    return request.param


@pytest.fixture(autouse=True)
def one_torch_thread():
    """One intra-op thread: the models are tiny, and on a shared 2-core machine torch's
    spinning thread pool is 10x slower than one thread. Restored after each test."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
