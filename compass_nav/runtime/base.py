"""The runtime interface shared by every backend (onnxruntime, TensorRT, torch, scripted)."""

from __future__ import annotations

import abc
import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class InputSpec:
    """What a policy expects; read from the exported model's metadata.

    Attributes:
        image_height, image_width: Model input size (the runtime resizes to it).
        uses_rgb, uses_depth: Which camera streams the model reads.
        route_points: K, the number of route waypoints.
        control_hz: Rate the policy was trained at.
        descriptor_fields: Names of the embodiment descriptor entries, in order.
        path_points: Number of predicted path waypoints (0 if none).
    """

    image_height: int
    image_width: int
    uses_rgb: bool
    uses_depth: bool
    route_points: int
    control_hz: float
    descriptor_fields: tuple[str, ...]
    path_points: int = 0


@dataclasses.dataclass
class RuntimeOutput:
    """One step's result: ``action`` (B, 3) clipped to the body; ``path`` (B, P, 2) or None."""

    action: np.ndarray
    path: np.ndarray | None = None


class PolicyRuntime(abc.ABC):
    """Stateful policy runner: ``reset`` then ``step`` per control period."""

    spec: InputSpec
    name: str = "runtime"

    @abc.abstractmethod
    def reset(self, mask: np.ndarray | None = None) -> None:
        """Clear the recurrent state (all rows, or the rows where ``mask`` is True)."""

    @abc.abstractmethod
    def step(self, obs: dict[str, np.ndarray]) -> RuntimeOutput:
        """Advance one control period on a batch of observations (batch size B >= 1)."""
