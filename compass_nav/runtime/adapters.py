"""Export adapters of the policies built on the X-Mobility base (IL base, specialists, generalist).

The IL base (:class:`~compass_nav.models.xmobility.XMobility`) and the residual policies
(:class:`~compass_nav.rl.modules.ResidualPolicy`: frozen base + residual head, used by the
specialists and the distilled generalist) share one export-friendly single step::

    step(rgb, depth, speed, route, goal, embodiment, prev_action, h, z)
        -> (action, path, h_new, z_new, ...)

:class:`StepExport` wraps any module with that step as an
:class:`~compass_nav.runtime.exportable.ExportablePolicy` without touching the model code: the
adapter fixes the graph's names, orders and dtypes, keeps the first four outputs (what a
robot needs; a residual policy's Gaussian statistics are for training), and casts the uint8
image to float as the graph's first operation (TensorRT accepts uint8 only as a network
input that is cast at once). Action scaling, residual composition and clipping happen inside
the wrapped ``step``, so they are traced into the graph. :mod:`compass_nav.runtime.sources`
builds these adapters from checkpoints.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from compass_nav.contract.body import DESCRIPTOR_FIELDS
from compass_nav.contract.spec import InputSpec
from compass_nav.models.xmobility import XMobilityConfig
from compass_nav.runtime.exportable import ExportablePolicy, IOSpec
from compass_nav.runtime.metadata import TensorSpec

__all__ = ["StepExport"]


class StepExport(ExportablePolicy):
    """A module with the X-Mobility ``step`` signature as an exportable policy.

    Args:
        policy: The module (its ``step`` is called; it is put in eval mode).
        cfg: The X-Mobility config of its base (image size, streams, state sizes).
        kind: ``il_base``, ``specialist`` or ``generalist``.
        control_hz: Rate it was trained at.
        train_config: Resolved training config (recorded in the export).
        source: Checkpoint provenance (path, sha256, step...).
    """

    def __init__(
        self,
        policy: nn.Module,
        cfg: XMobilityConfig,
        kind: str = "il_base",
        control_hz: float = 10.0,
        train_config: dict[str, Any] | None = None,
        source: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.policy = policy.eval()
        self.cfg = cfg
        self.kind = kind
        self.control_hz = float(control_hz)
        self._train_config = dict(train_config or {})
        self._source = dict(source or {})

    def io(self) -> IOSpec:
        """Inputs, outputs and recurrent pairs.

        Inputs ``rgb`` (if used), ``depth`` (if used), ``speed``, ``route``, ``goal``,
        ``embodiment``, ``prev_action``, ``h``, ``z``; outputs ``action``, ``path``,
        ``h_new``, ``z_new``; pairs (prev_action, action), (h, h_new), (z, z_new).
        """
        c = self.cfg
        inputs = []
        if c.use_rgb:
            inputs.append(TensorSpec("rgb", "uint8", (c.image_height, c.image_width, 3)))
        if c.use_depth:
            inputs.append(TensorSpec("depth", "float32", (c.image_height, c.image_width)))
        inputs += [
            TensorSpec("speed", "float32", (3,)),
            TensorSpec("route", "float32", (c.route_points, 2)),
            TensorSpec("goal", "float32", (3,)),
            TensorSpec("embodiment", "float32", (self.descriptor_dim,)),
            TensorSpec("prev_action", "float32", (3,)),
            TensorSpec("h", "float32", (c.deter_dim,)),
            TensorSpec("z", "float32", (c.stoch_dim,)),
        ]
        outputs = (
            TensorSpec("action", "float32", (3,)),
            TensorSpec("path", "float32", (c.path_points, 2)),
            TensorSpec("h_new", "float32", (c.deter_dim,)),
            TensorSpec("z_new", "float32", (c.stoch_dim,)),
        )
        state = (("prev_action", "action"), ("h", "h_new"), ("z", "z_new"))
        return tuple(inputs), outputs, state

    @property
    def descriptor_dim(self) -> int:
        """Descriptor entries the policy reads: the first ones of ``DESCRIPTOR_FIELDS``.

        A residual policy declares its own (its head reads the whole descriptor); a bare base
        reads as many as its config says (15 for bases trained before the schema grew).
        """
        return int(getattr(self.policy, "descriptor_dim", self.cfg.descriptor_dim))

    def input_spec(self) -> InputSpec:
        """Image size and streams, route and path points from the base config."""
        c = self.cfg
        return InputSpec(
            image_height=c.image_height,
            image_width=c.image_width,
            uses_rgb=c.use_rgb,
            uses_depth=c.use_depth,
            route_points=c.route_points,
            control_hz=self.control_hz,
            descriptor_fields=tuple(DESCRIPTOR_FIELDS[: self.descriptor_dim]),
            path_points=c.path_points,
        )

    def training_config(self) -> dict[str, Any]:
        """The training run's resolved config as given by the checkpoint."""
        return dict(self._train_config)

    def source_info(self) -> dict[str, Any]:
        """Checkpoint path, sha256, step."""
        return dict(self._source)

    def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """One deterministic control step (see :meth:`io` for the order)."""
        x = dict(zip(self.input_names(), inputs, strict=True))
        rgb = x.get("rgb")
        if rgb is not None:
            rgb = rgb.float()  # first op of the graph: uint8 -> float
        out = self.policy.step(
            rgb,
            x.get("depth"),
            x["speed"],
            x["route"],
            x["goal"],
            x["embodiment"],
            x["prev_action"],
            x["h"],
            x["z"],
        )
        action, path, h, z = out[:4]
        return action, path, h, z
