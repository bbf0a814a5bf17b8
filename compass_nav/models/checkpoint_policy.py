"""Checkpoint loader: ``make_policy("runs/il_carter")`` -> a batched, recurrent policy.

Registered with the policy registry by :func:`compass_nav.plugins.register_all`
(:func:`matches` / :func:`load`), it loads

* a ``.pt`` file written by the IL trainer (``model.pt`` or ``checkpoints/step_*.pt``,
  tagged ``kind: xmobility``; other kinds are left to their own loaders), and
* such a trainer's run folder (its ``model.pt``, else its newest checkpoint).

:class:`XMobilityPolicy` evaluates the model on a batch of observations with
:meth:`XMobility.step`, keeping ``h``, ``z`` and the previous action per env and zeroing the
rows where ``episode_start`` is True; the batch size may change between episodes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from compass_nav.contract.policy import Policy
from compass_nav.models.xmobility import XMobility, XMobilityConfig
from compass_nav.models.xmobility.processing import obs_to_tensors
from compass_nav.utils.config import config_from_dict
from compass_nav.utils.errors import ModelError
from compass_nav.utils.files import resolve_run_file

__all__ = [
    "XMobilityPolicy",
    "load_checkpoint",
    "load_model",
    "model_from_payload",
    "read_tagged",
    "resolve_checkpoint",
]

MODEL_KIND = "xmobility"


def resolve_checkpoint(spec: str | Path) -> Path:
    """The ``.pt`` file a spec names: the file itself, or a run folder's model.

    Raises:
        ModelError: Nothing loadable there.
    """
    return resolve_run_file(spec, ("model.pt",), "model")


def load_checkpoint(spec: str | Path) -> dict[str, Any]:
    """Read a trainer's checkpoint (tensors on the CPU, no code is unpickled).

    Raises:
        ModelError: Missing, unreadable, or not an X-Mobility checkpoint.
    """
    path = resolve_checkpoint(spec)
    payload = read_tagged(path, MODEL_KIND, "checkpoint")
    payload["path"] = str(path)
    return payload


def read_tagged(path: Path, kind: str, what: str) -> dict[str, Any]:
    """The dict saved at ``path`` whose ``kind`` entry is ``kind`` (tensors on the CPU).

    Only tensors and plain data are unpickled (``weights_only``).

    Raises:
        ModelError: An unreadable file (the message calls it a ``what``), or another kind.
    """
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means a bad file
        raise ModelError(f"{path}: not a readable {what} ({exc})") from None
    if not isinstance(payload, dict) or payload.get("kind") != kind:
        found = payload.get("kind") if isinstance(payload, dict) else type(payload).__name__
        raise ModelError(f"{path}: kind={found!r}, expected {kind!r}")
    return payload


def load_model(spec: str | Path) -> XMobility:
    """The model of a checkpoint or run folder, in eval mode.

    Raises:
        ModelError: As :func:`load_checkpoint`, or weights that do not fit the config.
    """
    return model_from_payload(load_checkpoint(spec)).eval()


def model_from_payload(payload: dict[str, Any]) -> XMobility:
    """The model a loaded checkpoint describes (its config and weights).

    Raises:
        ModelError: Weights that do not fit the config.
    """
    model = XMobility(config_from_dict(XMobilityConfig, payload["model_config"]))
    try:
        model.load_state_dict(payload["model"])
    except RuntimeError as exc:
        raise ModelError(f"{payload['path']}: weights do not match its config ({exc})") from None
    return model


class XMobilityPolicy(Policy):
    """A trained X-Mobility model as a :class:`Policy` (deterministic, recurrent)."""

    def __init__(self, model: XMobility, name: str = "xmobility") -> None:
        self.model = model.eval()
        self.name = name
        self._h: torch.Tensor | None = None
        self._z: torch.Tensor | None = None
        self._prev: torch.Tensor | None = None
        self.last_path: np.ndarray | None = None

    def _reset(self, batch: int) -> None:
        state = self.model.initial(batch)
        self._h, self._z = state.h, state.z
        self._prev = torch.zeros(batch, 3)

    @torch.inference_mode()
    def act(self, obs: dict[str, np.ndarray], episode_start: np.ndarray) -> np.ndarray:
        """Actions (N, 3) SI, clipped to each row's body; ``last_path`` holds (N, P, 2)."""
        n = obs["goal"].shape[0]
        if self._h is None or self._h.shape[0] != n:
            self._reset(n)
        keep = torch.from_numpy(~np.asarray(episode_start, bool)).float().unsqueeze(1)
        self._h, self._z, self._prev = self._h * keep, self._z * keep, self._prev * keep
        t = obs_to_tensors(obs)
        action, path, self._h, self._z = self.model.step(
            t.get("rgb"),
            t.get("depth"),
            t["speed"],
            t["route"],
            t["goal"],
            t["embodiment"],
            self._prev,
            self._h,
            self._z,
        )
        self._prev = action
        self.last_path = path.numpy()
        return action.numpy().astype(np.float32)


def _kind(path: Path) -> str | None:
    try:  # memory-mapped: only the small "kind" entry is actually read
        payload = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # noqa: BLE001 - unreadable: let another loader (or the error) speak
        return None
    return payload.get("kind") if isinstance(payload, dict) else None


def matches(spec: str) -> bool:
    """True for an IL checkpoint or run folder (and for a missing ``.pt``, to name it)."""
    # Other trainers also write .pt files (tagged with their own kind): claim only ours, and
    # missing paths so that the user gets "does not exist" rather than "unknown policy".
    try:
        path = resolve_checkpoint(spec)
    except ModelError:
        return Path(spec).suffix == ".pt"
    return _kind(path) == MODEL_KIND


def load(spec: str, **kwargs) -> XMobilityPolicy:
    """The :class:`XMobilityPolicy` of a checkpoint or run folder (no options)."""
    if kwargs:
        raise ModelError(f"{spec}: checkpoint policies take no options, got {sorted(kwargs)}")
    return XMobilityPolicy(load_model(spec), name=f"xmobility:{spec}")
