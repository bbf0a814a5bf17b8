"""Checkpoint -> :class:`~compass_nav.runtime.exportable.ExportablePolicy`, for every policy kind.

Trainers tag their checkpoints with a ``kind`` string (the IL trainer writes ``xmobility``).
This module registers the builder of the IL base (``xmobility``); a stage that produces
another exportable policy registers a builder for its tag with :func:`register_source`, as
:func:`compass_nav.plugins.register_all` does for the residual specialists/generalist
(``residual_policy``, :mod:`compass_nav.rl.exportable`). :func:`load_exportable` reads the
checkpoint (a ``.pt`` file or a run folder, resolved as the checkpoint loader does), finds
the builder of its tag and returns the module the exporter and the torch runtime run.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from compass_nav.contract.spec import CONTROL_HZ
from compass_nav.runtime.errors import ModelFileError
from compass_nav.utils.errors import ModelError
from compass_nav.utils.files import file_sha256, resolve_run_file

if TYPE_CHECKING:  # the exportable modules are torch modules: imported by the builders
    from compass_nav.runtime.exportable import ExportablePolicy

__all__ = [
    "RUN_ARTEFACTS",
    "file_sha256",
    "load_exportable",
    "register_source",
    "resolve_checkpoint",
]

_BUILDERS: dict[str, Callable[[dict[str, Any]], ExportablePolicy]] = {}


def register_source(kind: str, build: Callable[[dict[str, Any]], ExportablePolicy]) -> None:
    """Register ``build(payload) -> ExportablePolicy`` for checkpoints tagged ``kind``.

    ``payload`` is the checkpoint dict (tensors on the CPU) plus ``path`` (the ``.pt`` file)
    and ``sha256`` (its hash).
    """
    _BUILDERS[kind] = build


#: Final artefacts a run folder may hold, tried in this order before its checkpoints.
RUN_ARTEFACTS: tuple[str, ...] = ("generalist.pt", "specialist.pt", "model.pt")


def resolve_checkpoint(spec: str | Path) -> Path:
    """The ``.pt`` file a spec names.

    The file itself, or a run folder's final artefact (:data:`RUN_ARTEFACTS`), else its
    newest ``checkpoints/step_*.pt``.

    Raises:
        ModelFileError: Nothing loadable there.
    """
    return resolve_run_file(spec, RUN_ARTEFACTS, "checkpoint", error=ModelFileError)


def _read_payload(spec: str | Path) -> dict[str, Any]:
    import torch

    path = resolve_checkpoint(spec)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means a bad file
        raise ModelFileError(
            f"{path} is not a readable checkpoint ({type(exc).__name__}: {exc})"
        ) from None
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
    payload = _read_payload(spec)
    build = _BUILDERS.get(payload["kind"])
    if build is None:
        raise ModelError(
            f"{payload['path']}: checkpoint kind={payload['kind']!r} has no "
            f"exporter; known kinds: {', '.join(sorted(_BUILDERS))}"
        )
    return build(payload).eval()


def control_hz_of(config: Any, default: float) -> float:
    """The first ``control_hz`` found anywhere in a nested config dict, else ``default``."""
    if isinstance(config, dict):
        if "control_hz" in config:
            return float(config["control_hz"])
        for v in config.values():
            found = control_hz_of(v, -1.0)
            if found > 0:
                return found
    return default


def source_record(payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "checkpoint": payload["path"],
        "sha256": payload["sha256"],
        "step": int(payload.get("step", -1)),
        "checkpoint_kind": payload["kind"],
    }


def _build_xmobility(payload: dict[str, Any]) -> ExportablePolicy:
    """IL base checkpoints (``compass_nav.il.runner``: ``model.pt``, ``step_*.pt``)."""
    # Here, not at the top: the adapters and the model import torch (seconds).
    from compass_nav.models.checkpoint_policy import model_from_payload
    from compass_nav.runtime.adapters import StepExport

    model = model_from_payload(payload)
    train = payload.get("train_config") or {}
    return StepExport(
        model,
        model.cfg,
        kind="il_base",
        control_hz=control_hz_of(train, CONTROL_HZ),
        train_config={"kind": "xmobility", "model": payload["model_config"], "train": train},
        source=source_record(payload),
    )


register_source("xmobility", _build_xmobility)
