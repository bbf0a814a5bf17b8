"""Small random-weight checkpoints of every exportable kind, for tests and documentation.

:func:`example_checkpoint` writes a checkpoint in exactly the format its trainer writes
(``compass_nav.il.runner.model_payload`` for the IL base, ``compass_nav.rl.artifact.
save_residual`` for specialists and the generalist), with the models' ``debug`` preset, so
the exporter, the runtimes and their tests run end to end in seconds without a trained
model. Residual heads get random (non-zero) last layers so that residual composition is
actually exercised. These are never shipped: :mod:`compass_nav.runtime.factory` only ships
what ``models/`` holds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import torch

from compass_nav.il.runner import model_payload
from compass_nav.models.xmobility import XMobility, preset
from compass_nav.rl.artifact import ARTIFACT_NAMES, save_residual
from compass_nav.rl.config import HeadConfig
from compass_nav.rl.modules import ResidualHead
from compass_nav.runtime.sources import load_exportable, resolve_checkpoint
from compass_nav.utils.atomic import atomic_save_torch

__all__ = ["EXAMPLE_KINDS", "example_checkpoint", "export_example"]


def _il_base(out: Path, seed: int, body_dim: int = 0) -> Path:
    torch.manual_seed(seed)
    model = XMobility(dataclasses.replace(preset("debug"), body_dim=body_dim))
    path = out / "model.pt"
    atomic_save_torch(model_payload(model, step=0), path)
    return path


def _residual(out: Path, seed: int, role: str) -> Path:
    torch.manual_seed(seed)
    base = XMobility(preset("debug"))
    head = ResidualHead(
        base.cfg.policy_state_dim,
        HeadConfig(hidden_dims=(16,), heteroscedastic=role == "generalist"),
    )
    with torch.no_grad():
        for p in head.mlp[-1].parameters():
            p.normal_(0.0, 0.5)
    bodies = ["carter"] if role == "specialist" else ["carter", "spot", "h1"]
    return save_residual(
        out / ARTIFACT_NAMES[role],
        base,
        head,
        role,
        bodies,
        {"example": True, "seed": seed},
        "random:debug",
    )


#: Kind -> writer of an example checkpoint into a folder (returns the ``.pt`` path).
EXAMPLE_KINDS: dict[str, Callable[[Path, int], Path]] = {
    "il_base": _il_base,
    "specialist": lambda out, seed: _residual(out, seed, "specialist"),
    "generalist": lambda out, seed: _residual(out, seed, "generalist"),
}


def example_checkpoint(kind: str, out: str | Path, seed: int = 0) -> Path:
    """Write a random-weight ``debug``-size checkpoint of ``kind`` into folder ``out``.

    Raises:
        KeyError: Unknown kind (the known ones are :data:`EXAMPLE_KINDS`).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    return EXAMPLE_KINDS[kind](out, seed)


def export_example(kind: str, folder: str | Path, seed: int = 0) -> tuple[Path, Path]:
    """Checkpoint and ONNX export of the example of ``kind`` under ``folder/kind``.

    Reuses both files when they exist (tests in several folders share one export per kind).

    Returns:
        ``(checkpoint, onnx)`` paths.
    """
    from compass_nav.export.onnx_export import export_onnx

    out = Path(folder) / kind
    onnx_path = out / f"{kind}.onnx"
    ckpt = example_checkpoint(kind, out, seed) if not onnx_path.is_file() else None
    if ckpt is None:
        return resolve_checkpoint(out), onnx_path
    export_onnx(load_exportable(ckpt), onnx_path, command=f"export_example({kind!r})")
    return ckpt, onnx_path
