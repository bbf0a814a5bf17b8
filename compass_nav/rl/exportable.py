"""Specialist and generalist checkpoints as exportable modules (the ``residual_policy`` source).

:func:`build_exportable` turns a ``specialist.pt`` / ``generalist.pt`` payload into the
:class:`~compass_nav.runtime.exportable.ExportablePolicy` that the exporter traces and the
torch runtime runs; :func:`compass_nav.plugins.register_all` registers it with
:func:`compass_nav.runtime.sources.register_source`.
"""

from __future__ import annotations

from typing import Any

from compass_nav.contract.spec import CONTROL_HZ
from compass_nav.rl.artifact import load_residual
from compass_nav.runtime.adapters import StepExport
from compass_nav.runtime.exportable import ExportablePolicy
from compass_nav.runtime.sources import control_hz_of, source_record
from compass_nav.utils.errors import ModelError

__all__ = ["build_exportable"]


def build_exportable(payload: dict[str, Any]) -> ExportablePolicy:
    """Specialist / generalist files (``compass_nav.rl.artifact``: base + residual head)."""
    policy = load_residual(payload["path"])
    role = str(payload.get("role", ""))
    if role not in ("specialist", "generalist"):
        raise ModelError(
            f"{payload['path']}: role={role!r}, expected 'specialist' or 'generalist'"
        )
    train = payload.get("train_config") or {}
    return StepExport(
        policy,
        policy.base.cfg,
        kind=role,
        control_hz=control_hz_of(train, CONTROL_HZ),
        train_config={
            "kind": payload["kind"],
            "role": role,
            "embodiments": list(payload.get("embodiments", [])),
            "base_source": payload.get("base_source"),
            "base_model": payload.get("base_config"),
            "head": payload.get("head_config"),
            "train": train,
            "training_command": payload.get("command"),
        },
        source={**source_record(payload), "embodiments": list(payload.get("embodiments", []))},
    )
