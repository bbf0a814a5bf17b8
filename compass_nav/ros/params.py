"""ROS 2 parameters of the nodes: declared once, each with a description and a range.

A node lists its parameters as :class:`ParamSpec` rows (:func:`navigator_params`,
:func:`sim_bridge_params`), declares them with :func:`declare`, and validates changes with
:func:`check_value` from its ``on_set_parameters`` callback, so ``ros2 param describe`` shows
the same text and ranges that the docs (``docs/ROS.md``) list. rclpy itself enforces types,
numeric ranges and read-only flags; :func:`check_value` adds choices and the embodiment's
own limits (a command limit may lower the body's limit, never raise it).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor

from compass_nav.contract import spec as task
from compass_nav.contract.body import EmbodimentSpec
from compass_nav.ros.graph_params import navigator_graph_params, sim_bridge_graph_params

__all__ = [
    "LIMIT_PARAMS",
    "ParamSpec",
    "check_value",
    "declare",
    "descriptor",
    "navigator_params",
    "sim_bridge_params",
]

#: Command-limit parameters -> (embodiment field, sign): the node may only tighten them.
LIMIT_PARAMS: dict[str, tuple[str, int]] = {
    "max_vx": ("max_vx", 1),
    "min_vx": ("min_vx", -1),
    "max_vy": ("max_vy", 1),
    "max_wz": ("max_wz", 1),
    "max_ax": ("max_ax", 1),
    "max_ay": ("max_ay", 1),
    "max_awz": ("max_awz", 1),
}


@dataclasses.dataclass(frozen=True)
class ParamSpec:
    """One ROS parameter: name, default (fixes the type), description and constraints.

    Attributes:
        range: (low, high) inclusive, for numbers.
        choices: Allowed values, for strings.
        read_only: Fixed after start-up (it shapes publishers/subscriptions or the model).
        constraints: Extra text for ``ros2 param describe``.
    """

    name: str
    default: Any
    description: str
    range: tuple[float, float] | None = None
    choices: tuple[str, ...] | None = None
    read_only: bool = False
    constraints: str = ""


def descriptor(spec: ParamSpec) -> ParameterDescriptor:
    """The rcl_interfaces ParameterDescriptor of a spec (ranges, read-only, constraints)."""
    text = spec.constraints
    if spec.choices:
        text = (text + " " if text else "") + f"one of: {', '.join(spec.choices)}"
    d = ParameterDescriptor(
        name=spec.name,
        description=spec.description,
        additional_constraints=text,
        read_only=spec.read_only,
    )
    if spec.range is not None:
        lo, hi = spec.range
        if isinstance(spec.default, float):
            d.floating_point_range = [
                FloatingPointRange(from_value=float(lo), to_value=float(hi), step=0.0)
            ]
        elif isinstance(spec.default, int) and not isinstance(spec.default, bool):
            d.integer_range = [IntegerRange(from_value=int(lo), to_value=int(hi), step=1)]
    return d


def declare(node, specs: list[ParamSpec]) -> None:
    """Declare every spec on ``node`` (values from --ros-args/params files override)."""
    node.declare_parameters("", [(s.name, s.default, descriptor(s)) for s in specs])


def check_value(spec: ParamSpec, value: Any, body: EmbodimentSpec | None = None) -> str:
    """Checks rclpy does not do; returns '' when ``value`` is fine, else the reason."""
    if spec.choices is not None and value not in spec.choices:
        return f"{spec.name}={value!r}: must be one of {', '.join(spec.choices)}"
    if isinstance(value, float) and not math.isfinite(value):
        return f"{spec.name}={value!r}: must be a finite number"
    if (
        spec.range is not None
        and isinstance(value, (int, float))
        and not isinstance(value, bool)
        and not spec.range[0] <= value <= spec.range[1]
    ):
        return f"{spec.name}={value!r}: must be within [{spec.range[0]}, {spec.range[1]}]"
    if body is not None and spec.name in LIMIT_PARAMS:
        field, sign = LIMIT_PARAMS[spec.name]
        limit = getattr(body, field)
        if sign * value > sign * limit + 1e-9:
            return (
                f"{spec.name}={value!r}: beyond the embodiment {body.name!r} limit "
                f"{field}={limit:g}"
            )
    return ""


def navigator_params(body: EmbodimentSpec) -> list[ParamSpec]:
    """The navigator's parameters; command-limit defaults come from ``body``."""
    return [
        ParamSpec(
            "model",
            "",
            "Policy to run: an exported model (.onnx), a checkpoint (.pt), "
            "a run folder, or scripted:<name> (e.g. scripted:goal_seeker). '' = the "
            "shipped default model.",
            read_only=True,
        ),
        ParamSpec(
            "embodiment",
            "carter",
            "Robot body: a registered embodiment name or the "
            "path of an embodiment YAML file (descriptor and default limits).",
            read_only=True,
        ),
        ParamSpec(
            "autostart",
            True,
            "Configure and activate at start-up (false: wait for a "
            "lifecycle manager's change_state requests).",
            read_only=True,
        ),
        ParamSpec(
            "trigger",
            "image",
            "When the policy runs: 'image' = on each camera frame, "
            "decimated to control_rate_hz by header stamps (lowest latency); 'timer' = "
            "on a timer at control_rate_hz with the latest frame.",
            choices=("image", "timer"),
            read_only=True,
        ),
        ParamSpec(
            "sync_stamps",
            False,
            "With trigger 'image': run the step only once the "
            "odometry (and depth) carrying the image's exact stamp have arrived, for a "
            "simulator that stamps one step's messages alike (sim-in-the-loop "
            "lockstep). Also turns the stale-input watchdog off and stamps unsolicited "
            "commands zero. A real robot's sensors never share stamps: keep it off.",
            read_only=True,
        ),
        ParamSpec(
            "control_rate_hz",
            0.0,
            "Control rate, Hz. 0 = the rate the model was trained at (from its metadata).",
            range=(0.0, 1000.0),
        ),
        ParamSpec(
            "max_vx",
            float(body.max_vx),
            "Forward speed limit, m/s (default: the embodiment's; may only be lowered).",
            range=(0.0, 20.0),
        ),
        ParamSpec(
            "min_vx",
            float(body.min_vx),
            "Reverse speed limit (<= 0), m/s (default: the embodiment's).",
            range=(-20.0, 0.0),
        ),
        ParamSpec(
            "max_vy",
            float(body.max_vy),
            "Lateral speed limit, m/s (0 for non-holonomic bodies).",
            range=(0.0, 20.0),
        ),
        ParamSpec("max_wz", float(body.max_wz), "Yaw-rate limit, rad/s.", range=(0.0, 20.0)),
        ParamSpec(
            "max_ax",
            float(body.max_ax),
            "Longitudinal acceleration limit, m/s^2: "
            "commands change by at most max_ax / control_rate_hz per step.",
            range=(0.0, 100.0),
        ),
        ParamSpec(
            "max_ay", float(body.max_ay), "Lateral acceleration limit, m/s^2.", range=(0.0, 100.0)
        ),
        ParamSpec(
            "max_awz", float(body.max_awz), "Yaw acceleration limit, rad/s^2.", range=(0.0, 100.0)
        ),
        ParamSpec(
            "goal_tolerance",
            float(task.GOAL_TOLERANCE_M),
            "Distance to the goal that counts as reached, m.",
            range=(0.01, 10.0),
        ),
        ParamSpec(
            "heading_tolerance",
            float(task.HEADING_TOLERANCE_RAD),
            "Heading error that counts as aligned at the goal, rad (3.2 ignores heading).",
            range=(0.001, 3.2),
        ),
        ParamSpec(
            "stale_timeout",
            0.5,
            "Zero velocity when no valid image (and depth, if "
            "the model reads it) or odometry arrived for this long, s (wall clock).",
            range=(0.01, 10.0),
        ),
        ParamSpec(
            "route_spacing",
            float(task.ROUTE_SPACING_M),
            "Metres between route waypoints given to the policy (its training value).",
            range=(0.05, 2.0),
        ),
        ParamSpec(
            "route_goal_match",
            1.0,
            "A received route is used only if it ends within "
            "this distance of the goal, m; otherwise mapless.",
            range=(0.01, 100.0),
        ),
        ParamSpec(
            "use_route",
            True,
            "Subscribe to 'route' (nav_msgs/Path) and follow it; "
            "false = always mapless (straight line to the goal).",
            read_only=True,
        ),
        ParamSpec(
            "image_qos",
            "best_effort",
            "QoS reliability of the camera subscriptions (image and depth): 'best_effort' "
            "(SensorDataQoS, what most camera drivers publish) matches best-effort and "
            "reliable publishers alike; 'reliable' matches reliable publishers only, but "
            "gets large frames from them without losses.",
            choices=("best_effort", "reliable"),
            read_only=True,
        ),
        ParamSpec(
            "odom_qos",
            "best_effort",
            "QoS reliability of the odometry subscription: 'best_effort' (SensorDataQoS) "
            "matches best-effort and reliable publishers alike; 'reliable' matches "
            "reliable publishers only.",
            choices=("best_effort", "reliable"),
            read_only=True,
        ),
        ParamSpec(
            "image_transport",
            "raw",
            "'raw' = sensor_msgs/Image on 'image'; "
            "'compressed' = sensor_msgs/CompressedImage on 'image/compressed'.",
            choices=("raw", "compressed"),
            read_only=True,
        ),
        ParamSpec(
            "cmd_vel_stamped",
            False,
            "Publish geometry_msgs/TwistStamped (stamped with "
            "the triggering image's stamp) instead of Twist.",
            read_only=True,
        ),
        ParamSpec(
            "odom_frame",
            "",
            "Frame of odometry poses and of goals given in the world; "
            "'' = the odometry header's frame_id.",
        ),
        ParamSpec(
            "base_frame",
            "",
            "Robot body frame (goals relative to the robot, command "
            "frame); '' = the odometry child_frame_id.",
        ),
        ParamSpec(
            "diagnostics_period", 1.0, "Seconds between diagnostics messages.", range=(0.05, 60.0)
        ),
        *navigator_graph_params(ParamSpec),
    ]


def sim_bridge_params() -> list[ParamSpec]:
    """The sim bridge's parameters (all fixed at start-up except the pacing ones)."""
    # Here, not at the top: the navigator process imports this module and must not load the
    # simulator (nor numba); only the sim bridge needs the simulator's defaults.
    from compass_nav.sim.config import SimConfig

    sim = SimConfig()
    return [
        ParamSpec(
            "embodiment", "carter", "Simulated body: registered name or YAML path.", read_only=True
        ),
        ParamSpec(
            "family", "warehouse", "Scene family (warehouse, office, hall).", read_only=True
        ),
        ParamSpec(
            "split",
            "train",
            "Scene seeds: 'train', 'heldout' or 'validation'.",
            choices=("train", "heldout", "validation"),
            read_only=True,
        ),
        ParamSpec(
            "seed",
            0,
            "Seed of the episode sequence (scenes, starts, goals).",
            range=(0, 2**31 - 1),
            read_only=True,
        ),
        ParamSpec(
            "image_width",
            sim.image_width,
            "Camera image width, pixels.",
            range=(16, 480),
            read_only=True,
        ),
        ParamSpec(
            "image_height",
            sim.image_height,
            "Camera image height, pixels.",
            range=(16, 480),
            read_only=True,
        ),
        ParamSpec("publish_depth", True, "Render and publish the depth image.", read_only=True),
        ParamSpec(
            "rate_hz",
            float(sim.control_hz),
            "Simulation step rate in simulated time, Hz (the policy's control rate).",
            range=(1.0, 100.0),
            read_only=True,
        ),
        ParamSpec(
            "realtime_factor",
            1.0,
            "Simulated seconds per wall second; 0 = as fast as possible (use with lockstep).",
            range=(0.0, 100.0),
        ),
        ParamSpec(
            "lockstep",
            False,
            "After publishing an observation, wait for a cmd_vel "
            "(up to lockstep_timeout of wall time) before stepping; with "
            "cmd_vel_stamped only one stamped with that observation's stamp.",
            read_only=True,
        ),
        ParamSpec(
            "lockstep_timeout",
            5.0,
            "Longest wait for a command in lockstep, s (a "
            "guard against a navigator that stopped answering; a step that times out "
            "uses the previous command, and the run is no longer reproducible).",
            range=(0.01, 10.0),
        ),
        ParamSpec(
            "cmd_timeout",
            0.5,
            "A command older than this (wall clock) counts as zero, s.",
            range=(0.01, 10.0),
        ),
        ParamSpec(
            "cmd_vel_stamped", False, "Subscribe to TwistStamped instead of Twist.", read_only=True
        ),
        ParamSpec(
            "route_mode",
            "planned",
            "'planned' = publish the episode's global plan on "
            "'route' (nav_msgs/Path); 'mapless' = publish no route.",
            choices=("planned", "mapless"),
            read_only=True,
        ),
        ParamSpec(
            "max_episode_steps",
            sim.max_episode_steps,
            "Steps before an episode times out.",
            range=(1, 100000),
            read_only=True,
        ),
        ParamSpec(
            "episodes", 0, "Episodes to run, 0 = endless.", range=(0, 1000000), read_only=True
        ),
        ParamSpec(
            "exit_when_done", False, "Exit the process after the last episode.", read_only=True
        ),
        ParamSpec(
            "wait_for_navigator",
            True,
            "Start the first episode only once something "
            "subscribes to 'goal_pose' (so the goal is not lost).",
            read_only=True,
        ),
        ParamSpec(
            "min_image_subscribers",
            0,
            "Also hold the first episode until 'image' has "
            "this many subscribers (a recorder beside the navigator), for at most 10 s.",
            range=(0, 100),
            read_only=True,
        ),
        ParamSpec("odom_frame", "odom", "Frame of odometry, goals and routes.", read_only=True),
        ParamSpec(
            "base_frame", "base_link", "Robot body frame (odometry child frame).", read_only=True
        ),
        ParamSpec("camera_frame", "camera", "Frame of the camera images.", read_only=True),
        *sim_bridge_graph_params(ParamSpec),
    ]
