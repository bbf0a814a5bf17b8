"""Export tests run on one torch thread; `example_export` and `kind` are in test/conftest.py.

A new policy kind added to :data:`compass_nav.export.examples.EXAMPLE_KINDS` is exported,
checked and parity-tested by every test parametrised on ``kind``.
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """Every test here runs on one torch thread (see test/conftest.py)."""
