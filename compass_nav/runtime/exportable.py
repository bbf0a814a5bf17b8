"""The export contract: a torch module with named tensor inputs/outputs and recurrent state.

Every policy kind that ships (the IL base now; residual specialists and the distilled
generalist later) is exported, parity-checked and run through this one interface:

* :class:`ExportablePolicy` is an ``nn.Module`` whose ``forward(*inputs)`` takes the tensors
  of :meth:`ExportablePolicy.io` ``inputs`` in order (batch first) and returns the
  ``outputs`` in order. Observations come first (``rgb`` uint8 NHWC as a camera gives it,
  ``depth`` float32 metres, ``speed``, ``route``, ``goal``, ``embodiment``), then the
  recurrent inputs (``prev_action``, the model's own state); outputs start with ``action``
  (SI, clipped to the body) and include the new state; ``state`` pairs each recurrent input
  with the output fed back into it. Pre- and post-processing (normalisation, action scaling,
  residual composition, clipping) must happen inside ``forward`` so that they are traced
  into the graph; only resizing is left to the runtime (see
  :mod:`compass_nav.runtime.preprocess`).
* :meth:`ExportablePolicy.metadata` turns that description into the
  :class:`~compass_nav.runtime.metadata.ModelMetadata` the ONNX file carries, so the torch
  runtime, the ONNX runtime and the TensorRT runtime share one schema.

A new kind implements :meth:`io`, :meth:`input_spec`, ``forward`` and sets :attr:`kind`, then
registers a builder for its checkpoints in :mod:`compass_nav.runtime.sources`.
"""

from __future__ import annotations

import abc
from typing import Any

import numpy as np
import torch
from torch import nn

from compass_nav.contract.spec import InputSpec
from compass_nav.runtime.metadata import MODEL_KINDS, ModelMetadata, TensorSpec

__all__ = ["ExportablePolicy", "IOSpec", "TensorSpec"]

#: ``(inputs, outputs, state pairs)`` of an exportable policy.
IOSpec = tuple[tuple[TensorSpec, ...], tuple[TensorSpec, ...], tuple[tuple[str, str], ...]]


class ExportablePolicy(nn.Module, abc.ABC):
    """A policy step as a torch module with named tensors (see the module docstring).

    Attributes:
        kind: One of :data:`compass_nav.runtime.metadata.MODEL_KINDS`.
    """

    kind: str = "il_base"

    @abc.abstractmethod
    def io(self) -> IOSpec:
        """Inputs (in ``forward`` order), outputs (in return order) and recurrent pairs."""

    @abc.abstractmethod
    def input_spec(self) -> InputSpec:
        """What the policy reads (image size, streams, route points, control rate...)."""

    def training_config(self) -> dict[str, Any]:
        """The resolved configuration that produced the weights (recorded in the export)."""
        return {}

    def source_info(self) -> dict[str, Any]:
        """Where the weights came from (checkpoint path, hash, step)."""
        return {}

    def metadata(self, extra: dict[str, Any] | None = None) -> ModelMetadata:
        """The metadata an export of this module carries (``extra``: provenance entries)."""
        if self.kind not in MODEL_KINDS:
            raise ValueError(
                f"{type(self).__name__}.kind={self.kind!r} is not one of {MODEL_KINDS}"
            )
        inputs, outputs, state = self.io()
        return ModelMetadata(
            kind=self.kind,
            spec=self.input_spec(),
            inputs=inputs,
            outputs=outputs,
            state=state,
            extra=dict(extra or {}),
        )

    def input_names(self) -> list[str]:
        """Graph input names in ``forward`` order."""
        return [t.name for t in self.io()[0]]

    def output_names(self) -> list[str]:
        """Graph output names in return order."""
        return [t.name for t in self.io()[1]]

    def dummy_inputs(self, batch: int = 2, seed: int = 0) -> tuple[torch.Tensor, ...]:
        """Plausible random inputs for tracing and self-checks, in ``forward`` order.

        Images are random pixels / depths, descriptors are real bodies' (so the action
        scaling sees real limits), every other input is small Gaussian noise (not zeros, so
        no branch of the graph is traced on a degenerate value).
        """
        from compass_nav.contract.body import get_embodiment, list_embodiments

        rng = np.random.default_rng(seed)
        bodies = list_embodiments()
        out = []
        for t in self.io()[0]:
            shape = (batch,) + t.shape
            if t.dtype == "uint8":
                x = rng.integers(0, 256, shape, dtype=np.uint8)
            elif t.name == "depth":
                x = rng.uniform(0.2, 12.0, shape).astype(np.float32)
            elif t.name == "embodiment":
                x = np.stack(
                    [get_embodiment(bodies[i % len(bodies)]).descriptor() for i in range(batch)]
                ).astype(np.float32)
            else:
                x = rng.normal(0.0, 1.0, shape).astype(np.float32)
            out.append(torch.from_numpy(x))
        return tuple(out)
