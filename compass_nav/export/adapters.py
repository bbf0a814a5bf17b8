"""Export adapter of the IL world-model base (:class:`~compass_nav.models.xmobility.XMobility`).

Wraps :meth:`XMobility.step` (the model's export-friendly single step) as an
:class:`~compass_nav.export.contract.ExportablePolicy` without touching the model's code:
the adapter decides the graph's names, orders and dtypes, and casts the uint8 image to float
as the graph's first operation (TensorRT accepts uint8 only as a network input that is cast
at once). Registered in :mod:`compass_nav.export.sources` for checkpoints whose ``kind`` is
``xmobility`` (what :mod:`compass_nav.training.il` writes).
"""

from __future__ import annotations

from typing import Any

import torch

from compass_nav.export.contract import ExportablePolicy, IOSpec
from compass_nav.models.xmobility import XMobility
from compass_nav.runtime.base import InputSpec
from compass_nav.runtime.metadata import TensorSpec
from compass_nav.sim.embodiment import DESCRIPTOR_FIELDS

__all__ = ["XMobilityExport"]


class XMobilityExport(ExportablePolicy):
    """The IL base as an exportable policy.

    Args:
        model: The trained model (put in eval mode).
        control_hz: Rate it was trained at.
        train_config: Resolved training config (recorded in the export).
        source: Checkpoint provenance (path, sha256, step).
    """

    kind = "il_base"

    def __init__(self, model: XMobility, control_hz: float = 10.0,
                 train_config: dict[str, Any] | None = None,
                 source: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.model = model.eval()
        self.control_hz = float(control_hz)
        self._train_config = dict(train_config or {})
        self._source = dict(source or {})

    def io(self) -> IOSpec:
        """Inputs, outputs and recurrent pairs of the IL base.

        Inputs ``rgb`` (if used), ``depth`` (if used), ``speed``, ``route``, ``goal``,
        ``embodiment``, ``prev_action``, ``h``, ``z``; outputs ``action``, ``path``,
        ``h_new``, ``z_new``; pairs (prev_action, action), (h, h_new), (z, z_new).
        """
        c = self.model.cfg
        inputs = []
        if c.use_rgb:
            inputs.append(TensorSpec("rgb", "uint8", (c.image_height, c.image_width, 3)))
        if c.use_depth:
            inputs.append(TensorSpec("depth", "float32", (c.image_height, c.image_width)))
        inputs += [TensorSpec("speed", "float32", (3,)),
                   TensorSpec("route", "float32", (c.route_points, 2)),
                   TensorSpec("goal", "float32", (3,)),
                   TensorSpec("embodiment", "float32", (c.descriptor_dim,)),
                   TensorSpec("prev_action", "float32", (3,)),
                   TensorSpec("h", "float32", (c.deter_dim,)),
                   TensorSpec("z", "float32", (c.stoch_dim,))]
        outputs = (TensorSpec("action", "float32", (3,)),
                   TensorSpec("path", "float32", (c.path_points, 2)),
                   TensorSpec("h_new", "float32", (c.deter_dim,)),
                   TensorSpec("z_new", "float32", (c.stoch_dim,)))
        state = (("prev_action", "action"), ("h", "h_new"), ("z", "z_new"))
        return tuple(inputs), outputs, state

    def input_spec(self) -> InputSpec:
        """Image size and streams, route and path points from the model config."""
        c = self.model.cfg
        return InputSpec(image_height=c.image_height, image_width=c.image_width,
                         uses_rgb=c.use_rgb, uses_depth=c.use_depth,
                         route_points=c.route_points, control_hz=self.control_hz,
                         descriptor_fields=tuple(DESCRIPTOR_FIELDS), path_points=c.path_points)

    def training_config(self) -> dict[str, Any]:
        """``train`` (the IL run's config, if the checkpoint has it) and ``model``."""
        from compass_nav.utils.config import config_to_dict

        return {"kind": "xmobility", "model": config_to_dict(self.model.cfg),
                "train": self._train_config}

    def source_info(self) -> dict[str, Any]:
        """Checkpoint path, sha256 and step."""
        return dict(self._source)

    def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """One deterministic control step (see :meth:`io` for the order)."""
        x = dict(zip(self.input_names(), inputs, strict=True))
        rgb = x.get("rgb")
        if rgb is not None:
            rgb = rgb.float()  # first op of the graph: uint8 -> float
        action, path, h, z = self.model.step(rgb, x.get("depth"), x["speed"], x["route"],
                                             x["goal"], x["embodiment"], x["prev_action"],
                                             x["h"], x["z"])
        return action, path, h, z
