"""One tiny world-model pipeline (collect -> train -> evaluate) shared by the tests.

The ``tiny`` preset records 6+6 episodes of four policies at 16x16 px and trains a small model
for 900 steps (about 30 s on one core); every test that needs a trained model reads this run
and is marked ``slow``, so that ``-m "not slow"`` never pays for the run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from compass_nav.cli import main


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Work folder of ``compass-nav worldmodel run --preset tiny`` (data/, model.pt, report/)."""
    work = tmp_path_factory.mktemp("worldmodel") / "tiny"
    code = main(["worldmodel", "run", "--preset", "tiny", "--workdir", str(work), "--no-progress"])
    assert code == 0
    return work


@pytest.fixture(scope="session")
def tiny_model(tiny_run: Path):
    from compass_nav.worldmodel.train import load_checkpoint

    return load_checkpoint(tiny_run / "model.pt")


@pytest.fixture
def imagined():
    """Builds an ``Imagined`` result from what the judge rules read (no model needed).

    ``imagined(logits, end, reached, **maps)``: ``maps`` are the optional per-transition
    arrays (``clearance``, ``depth_min``, ``sweep``, ``unknown`` ...).
    """
    from compass_nav.worldmodel.imagine import Imagined

    def build(logits, end, reached, **maps) -> Imagined:
        return Imagined(
            logits=np.asarray(logits, np.float32),
            end=np.asarray(end),
            reached=np.asarray(reached),
            idm_error=np.zeros(len(end)),
            steps=0,
            seconds=0.0,
            frames={},
            **maps,
        )

    return build
