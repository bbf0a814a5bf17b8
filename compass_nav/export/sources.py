"""Checkpoint -> :class:`~compass_nav.export.contract.ExportablePolicy`, for every policy kind.

Trainers tag their checkpoints with a ``kind`` string (the IL trainer writes ``xmobility``).
A stage that produces an exportable policy registers a builder for its tag with
:func:`register_source` in a module listed in :data:`SOURCE_MODULES` (imported on first use;
a listed module that does not exist yet is skipped). :func:`load_exportable` reads the
checkpoint (a ``.pt`` file or a run folder, resolved as the checkpoint loader does), finds
the builder of its tag and returns the module the exporter and the torch runtime run.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from compass_nav.export.contract import ExportablePolicy
from compass_nav.runtime.errors import ModelFileError
from compass_nav.utils.errors import ModelError

__all__ = ["SOURCE_MODULES", "file_sha256", "load_exportable", "register_source"]

#: Modules that register checkpoint builders on import (later stages add theirs here).
SOURCE_MODULES: list[str] = ["compass_nav.export.sources"]

_BUILDERS: dict[str, Callable[[dict[str, Any]], ExportablePolicy]] = {}


def register_source(kind: str, build: Callable[[dict[str, Any]], ExportablePolicy]) -> None:
    """Register ``build(payload) -> ExportablePolicy`` for checkpoints tagged ``kind``.

    ``payload`` is the checkpoint dict (tensors on the CPU) plus ``path`` (the ``.pt`` file)
    and ``sha256`` (its hash).
    """
    _BUILDERS[kind] = build


def _import_sources() -> None:
    for mod in SOURCE_MODULES:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name != mod:
                raise


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _read_payload(spec: str | Path) -> dict[str, Any]:
    import torch

    from compass_nav.models.loader import resolve_checkpoint

    p = Path(spec)
    if not p.exists():
        raise ModelFileError(f"checkpoint {p} does not exist")
    path = resolve_checkpoint(p)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means a bad file
        raise ModelFileError(f"{path} is not a readable checkpoint ({type(exc).__name__}: "
                             f"{exc})") from None
    if not isinstance(payload, dict) or "kind" not in payload:
        raise ModelFileError(f"{path} is not a compass_nav checkpoint (no 'kind' tag)")
    payload["path"] = str(path)
    payload["sha256"] = file_sha256(path)
    return payload


def load_exportable(spec: str | Path) -> ExportablePolicy:
    """The exportable policy of a checkpoint file or run folder, in eval mode.

    Raises:
        ModelFileError: Missing or unreadable checkpoint.
        ModelError: A checkpoint kind nothing can export (the known kinds are listed), or
            weights that do not fit their config.
    """
    _import_sources()
    payload = _read_payload(spec)
    build = _BUILDERS.get(payload["kind"])
    if build is None:
        raise ModelError(f"{payload['path']}: checkpoint kind={payload['kind']!r} has no "
                         f"exporter; known kinds: {', '.join(sorted(_BUILDERS))}")
    return build(payload).eval()


def _control_hz(config: Any, default: float) -> float:
    """The first ``control_hz`` found anywhere in a nested config dict, else ``default``."""
    if isinstance(config, dict):
        if "control_hz" in config:
            return float(config["control_hz"])
        for v in config.values():
            found = _control_hz(v, -1.0)
            if found > 0:
                return found
    return default


def _build_xmobility(payload: dict[str, Any]) -> ExportablePolicy:
    from compass_nav.export.il_base import XMobilityExport
    from compass_nav.models.xmobility import XMobility, XMobilityConfig
    from compass_nav.sim.config import SimConfig
    from compass_nav.utils.config import config_from_dict

    cfg = config_from_dict(XMobilityConfig, payload["model_config"])
    model = XMobility(cfg)
    try:
        model.load_state_dict(payload["model"])
    except RuntimeError as exc:
        raise ModelError(f"{payload['path']}: weights do not match its config ({exc})") from None
    train = payload.get("train_config") or {}
    return XMobilityExport(
        model, control_hz=_control_hz(train, SimConfig().control_hz), train_config=train,
        source={"checkpoint": payload["path"], "sha256": payload["sha256"],
                "step": int(payload.get("step", -1)), "checkpoint_kind": payload["kind"]})


register_source("xmobility", _build_xmobility)
