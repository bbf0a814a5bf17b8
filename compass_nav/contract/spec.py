"""The observation/action contract every layer shares: keys, shapes, dtypes, task defaults.

The simulator produces observations in this contract, policies and runtimes consume them, and
the ROS navigator builds them from messages; this module (numpy only) is what they agree on.
:class:`InputSpec` is what one exported model expects (read from its metadata) and
:class:`RuntimeOutput` what a runtime returns per step. The defaults below are the task's
definition (control rate, route sampling, goal tolerances) that
:class:`compass_nav.sim.config.SimConfig` and the ROS parameters both start from.
"""

from __future__ import annotations

import dataclasses

import numpy as np

#: Observation keys, in the order exported models take them; shapes are per batch row.
#: ``rgb`` (H, W, 3) uint8, ``depth`` (H, W) float32 m, ``speed`` (3,) float32 (vx, vy, wz),
#: ``route`` (K, 2) float32 robot-frame waypoints, ``goal`` (3,) float32 robot-frame
#: (x, y, yaw), ``embodiment`` (D,) float32 body descriptor (:mod:`compass_nav.contract.body`).
OBSERVATION_KEYS: tuple[str, ...] = ("rgb", "depth", "speed", "route", "goal", "embodiment")
#: Actions are (N, 3) float32 body-frame velocity commands (vx m/s, vy m/s, wz rad/s).
ACTION_DIM = 3

#: Policy control rate, Hz.
CONTROL_HZ = 10.0
#: Route waypoints per observation (K) and their spacing along the plan, m.
ROUTE_POINTS = 10
ROUTE_SPACING_M = 0.4
#: Success: within this distance of the goal (m, COMPASS: 0.5) and heading (rad, COMPASS: 0.1).
GOAL_TOLERANCE_M = 0.5
HEADING_TOLERANCE_RAD = 0.1
#: Default camera image size, pixels.
IMAGE_HEIGHT = 64
IMAGE_WIDTH = 64


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
