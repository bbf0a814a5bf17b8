"""The part every model backend shares: recurrent state, batching, inputs in, outputs out.

:class:`GraphRuntime` implements :class:`~compass_nav.contract.spec.PolicyRuntime` for any
policy described by a :class:`~compass_nav.runtime.metadata.ModelMetadata` (named inputs and
outputs, recurrent ``(input, output)`` pairs). A backend (:mod:`.onnx_runtime`,
:mod:`.tensorrt_runtime`, :mod:`.torch_runtime`) only implements :meth:`GraphRuntime._run`
(one forward pass on a dict of numpy arrays). The state lives here as numpy arrays of the
current batch size: zeros at the start, rows zeroed by ``reset(mask)``, replaced by the
paired outputs after each step, re-created (zeros) when the batch size changes.
"""

from __future__ import annotations

import abc

import numpy as np

from compass_nav.contract.body import DESCRIPTOR_FIELDS, select_descriptor
from compass_nav.contract.policy import PolicyRuntime
from compass_nav.contract.spec import RuntimeOutput
from compass_nav.runtime.errors import (
    InputError,
    InvalidObservationError,
    NonFiniteOutputError,
)
from compass_nav.runtime.metadata import ModelMetadata
from compass_nav.runtime.preprocess import prepare_inputs

__all__ = ["GraphRuntime"]


class GraphRuntime(PolicyRuntime):
    """Recurrent runtime over a graph with named tensors (see the module docstring).

    Args:
        meta: The model's metadata.
        descriptor: Optional (D,) embodiment descriptor used when an observation has no
            ``embodiment`` entry (e.g. the body named to :func:`open_runtime`).
    """

    def __init__(self, meta: ModelMetadata, descriptor: np.ndarray | None = None) -> None:
        self.meta = meta
        self.spec = meta.spec
        self._defaults: dict[str, np.ndarray] = {}
        if descriptor is not None:
            d = self._select_descriptor(np.asarray(descriptor, np.float32))
            want = (len(meta.spec.descriptor_fields),)
            if d.shape != want:
                raise InputError(f"descriptor: expected shape {want}, got {d.shape}")
            if not np.isfinite(d).all():
                raise InvalidObservationError("descriptor: contains NaN or infinity")
            self._defaults["embodiment"] = d
        self._state: dict[str, np.ndarray] | None = None

    def _select_descriptor(self, d: np.ndarray) -> np.ndarray:
        """The model's descriptor fields, by name, out of a full-schema descriptor.

        A descriptor as wide as this package's :data:`DESCRIPTOR_FIELDS` (what the simulator
        and :meth:`EmbodimentSpec.descriptor` give) is reduced to the fields the model
        declares, in its order; one already as wide as the model's schema passes unchanged.
        """
        want = self.spec.descriptor_fields
        if d.shape[-1] == len(DESCRIPTOR_FIELDS) and tuple(want) != DESCRIPTOR_FIELDS:
            return select_descriptor(d.astype(np.float32, copy=False), want)
        return d

    # ------------------------------------------------------------------ backend hook
    @abc.abstractmethod
    def _run(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """One forward pass: every graph input by name -> every graph output by name."""

    # ------------------------------------------------------------------ PolicyRuntime
    @property
    def batch_size(self) -> int | None:
        """Rows of the current recurrent state (None before the first step)."""
        if not self._state:
            return None
        return next(iter(self._state.values())).shape[0]

    def _zeros(self, batch: int) -> dict[str, np.ndarray]:
        return {
            name: np.zeros((batch,) + self.meta.input(name).shape, self.meta.input(name).dtype)
            for name in self.meta.state_inputs
        }

    def reset(self, mask: np.ndarray | None = None) -> None:
        """Zero the recurrent state: all rows (``mask`` None) or the rows where it is True."""
        if mask is None or self._state is None:
            self._state = None
            return
        m = np.asarray(mask, bool).reshape(-1)
        if m.shape[0] != self.batch_size:
            raise InputError(
                f"reset mask: {m.shape[0]} rows, the runtime's state has {self.batch_size}"
            )
        for v in self._state.values():
            v[m] = 0

    def step(self, obs: dict[str, np.ndarray]) -> RuntimeOutput:
        """Advance one control period: resize/check inputs, run, feed the state back.

        Returns:
            ``action`` (B, 3) float32 SI, clipped to the body (in the graph); ``path``
            (B, P, 2) metres, robot frame, when the model predicts one.

        Raises:
            InputError: A bad observation (see :func:`prepare_inputs`); its subclass
                :class:`InvalidObservationError` for NaN or infinity outside depth.
            NonFiniteOutputError: The model's action, path or new state is not finite.
            In both cases the recurrent state stays the one of the last good step.
        """
        emb = obs.get("embodiment")
        if isinstance(emb, np.ndarray) and emb.ndim >= 1 and emb.dtype.kind in "fiu":
            obs = {**obs, "embodiment": self._select_descriptor(emb)}
        feed = prepare_inputs(obs, self.meta, self._defaults)
        batch = next(iter(feed.values())).shape[0]
        if self._state is None or self.batch_size != batch:
            self._state = self._zeros(batch)
        feed.update(self._state)
        out = self._run(feed)
        state = {a: np.array(out[b], dtype=self.meta.input(a).dtype) for a, b in self.meta.state}
        action = np.asarray(out["action"], np.float32)
        path = out.get("path")
        path = None if path is None else np.asarray(path, np.float32)
        for name, value in (("action", action), ("path", path), *state.items()):
            if value is not None and not np.isfinite(value).all():
                raise NonFiniteOutputError(
                    f"{self.name}: the model's {name!r} output is not finite (NaN or inf); "
                    "the recurrent state of the last good step is kept"
                )
        self._state = state
        return RuntimeOutput(action, path)
