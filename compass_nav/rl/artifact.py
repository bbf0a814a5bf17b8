"""Specialist and generalist files: one self-contained ``.pt`` each (base + head + configs).

The residual trainer (:mod:`compass_nav.rl.runner`) writes ``<run>/specialist.pt``, the
distiller (:mod:`compass_nav.distill.runner`) ``<run>/generalist.pt``. Each holds the frozen
base's config and weights, the head's config and weights, and the resolved training config,
so the evaluation harness, the recorder and the ONNX export need nothing else. Loaded with
``weights_only=True`` (no code is unpickled).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from compass_nav.models.checkpoint_policy import read_tagged
from compass_nav.models.xmobility import XMobility, XMobilityConfig
from compass_nav.rl.base import freeze
from compass_nav.rl.config import HeadConfig
from compass_nav.rl.modules import ResidualHead, ResidualPolicy
from compass_nav.rl.registry import ARTIFACT_FILES
from compass_nav.utils.atomic import atomic_save_torch
from compass_nav.utils.config import config_from_dict, config_to_dict
from compass_nav.utils.errors import ModelError
from compass_nav.utils.files import resolve_run_file

__all__ = ["ARTIFACT_KIND", "ARTIFACT_NAMES", "load_residual", "resolve_artifact", "save_residual"]

ARTIFACT_KIND = "residual_policy"
ARTIFACT_VERSION = 1
#: File names of the final artefacts inside run folders, by role.
ARTIFACT_NAMES = dict(zip(("specialist", "generalist"), ARTIFACT_FILES, strict=True))


def save_residual(
    path: str | Path,
    base: XMobility,
    head: ResidualHead,
    role: str,
    embodiments: list[str],
    train_config: Any,
    base_source: str,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write a specialist or generalist file atomically.

    Args:
        path: Destination ``.pt``.
        base: The frozen base.
        head: The trained head.
        role: ``specialist`` or ``generalist``.
        embodiments: Bodies it was trained for.
        train_config: The resolved training config (a dataclass), stored as plain data.
        base_source: Where the base came from (IL checkpoint path or ``random:<preset>``).
        extra: More plain metadata (e.g. training statistics).
    """
    if role not in ARTIFACT_NAMES:
        raise ValueError(f"role={role!r}: must be one of {', '.join(ARTIFACT_NAMES)}")
    payload = {
        "kind": ARTIFACT_KIND,
        "version": ARTIFACT_VERSION,
        "role": role,
        "embodiments": list(embodiments),
        "base_source": str(base_source),
        "base_config": config_to_dict(base.cfg),
        "base": base.state_dict(),
        "policy_state_dim": head.policy_state_dim,
        "head_config": config_to_dict(head.cfg),
        "head": head.state_dict(),
        "train_config": config_to_dict(train_config),
        "command": " ".join(sys.argv),
        "extra": dict(extra or {}),
    }
    path = Path(path)
    atomic_save_torch(payload, path)
    return path


def resolve_artifact(spec: str | Path) -> Path:
    """The artefact file a spec names: the file, or a run folder's specialist/generalist.

    Raises:
        ModelError: Nothing of the kind there.
    """
    return resolve_run_file(
        spec, tuple(ARTIFACT_NAMES.values()), "residual policy", checkpoints=False
    )


def load_residual(spec: str | Path) -> ResidualPolicy:
    """The :class:`ResidualPolicy` of a specialist/generalist file or run folder (eval mode).

    ``policy.info`` holds the file's metadata (role, embodiments, configs, source).

    Raises:
        ModelError: Missing or unreadable file, another kind of file, weights that do not
            match their config.
    """
    path = resolve_artifact(spec)
    payload = read_tagged(path, ARTIFACT_KIND, "policy file")
    if payload.get("version") != ARTIFACT_VERSION:
        raise ModelError(
            f"{path}: version={payload.get('version')!r}, this code reads "
            f"version {ARTIFACT_VERSION}"
        )
    base = XMobility(config_from_dict(XMobilityConfig, payload["base_config"]))
    head = ResidualHead(
        int(payload["policy_state_dim"]), config_from_dict(HeadConfig, payload["head_config"])
    )
    try:
        base.load_state_dict(payload["base"])
        head.load_state_dict(payload["head"])
    except RuntimeError as exc:
        raise ModelError(f"{path}: weights do not match their config ({exc})") from None
    info = {
        k: payload[k]
        for k in ("role", "embodiments", "base_source", "train_config", "command", "extra")
    }
    info["path"] = str(path)
    return ResidualPolicy(freeze(base), head, info).eval()
