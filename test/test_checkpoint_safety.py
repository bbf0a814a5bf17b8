"""Every checkpoint loader reads tensors only: a crafted pickle never runs its code.

``torch.load(..., weights_only=True)`` refuses any global outside torch's safe list, so a file
whose pickle would call a function on load is a named ``ModelError`` (``compass-nav: error:``,
exit 2) and its payload never runs.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from compass_nav.cli import main
from compass_nav.utils.errors import CompassNavError


class _Payload:
    """Unpickling this calls ``os.mkdir(marker)``: the proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def _crafted(tmp_path: Path) -> tuple[Path, Path]:
    marker = tmp_path / "code_ran"
    path = tmp_path / "evil.pt"
    torch.save({"kind": "x", "model": _Payload(marker), "idm": {}, "config": {}, "info": {}}, path)
    return path, marker


def _loaders():
    from compass_nav.learning.common import CheckpointManager
    from compass_nav.models.checkpoint_policy import load_checkpoint as load_il
    from compass_nav.rl.artifact import load_residual
    from compass_nav.runtime.sources import _read_payload
    from compass_nav.worldmodel.train import load_checkpoint as load_wm

    return {
        "worldmodel": load_wm,
        "il": load_il,
        "export": _read_payload,
        "rl": load_residual,
        "training": CheckpointManager.load,
    }


@pytest.mark.parametrize("name", sorted(_loaders()))
def test_loader_refuses_a_crafted_pickle(tmp_path, name):
    path, marker = _crafted(tmp_path)
    with pytest.raises(CompassNavError):
        _loaders()[name](path)
    assert not marker.exists()


def test_worldmodel_evaluate_refuses_a_crafted_checkpoint(tmp_path, capsys):
    path, marker = _crafted(tmp_path)
    code = main(
        [
            "worldmodel",
            "evaluate",
            "--model",
            str(path),
            "--data",
            str(tmp_path / "data"),
            "--out",
            str(tmp_path / "report"),
            "--no-progress",
        ]
    )
    assert code == 2
    assert "compass-nav: error:" in capsys.readouterr().err
    assert not marker.exists()


def test_export_refuses_a_crafted_checkpoint(tmp_path, capsys):
    path, marker = _crafted(tmp_path)
    code = main(["export", "onnx", "--checkpoint", str(path), "--out", str(tmp_path / "m.onnx")])
    assert code == 2
    assert "compass-nav: error:" in capsys.readouterr().err
    assert not marker.exists()
