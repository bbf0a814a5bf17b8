"""The navigator's command output stage: safety layer, deceleration ramp, idle silence.

Wired into :class:`compass_nav.ros.navigator_node.Navigator` through three hooks: the node
declares :func:`output_params` next to its own parameters, creates an :class:`OutputStage` in
``on_configure`` (which subscribes the configured range sources: ``depth`` (shared with the
model's depth input when it reads one; the node subscribes it and forwards each image to
:meth:`OutputStage.on_depth`), ``scan`` (sensor_msgs/LaserScan), ``points``
(sensor_msgs/PointCloud2)) and sends every command through :meth:`OutputStage.shape` before
publishing it. The decisions are :mod:`compass_nav.ros.safety`'s (no ROS there); this module
converts messages and parameters.
"""

from __future__ import annotations

import math
import time

import numpy as np
from sensor_msgs.msg import LaserScan, PointCloud2

from compass_nav.contract.body import EmbodimentSpec
from compass_nav.ros.params import ParamSpec
from compass_nav.ros.safety import (
    CommandShaper,
    DepthCamera,
    SafetyLayer,
    SafetySettings,
    depth_points,
    parse_sources,
    scan_points,
)

__all__ = ["OutputStage", "cloud_to_points", "output_params"]


def output_params(body: EmbodimentSpec) -> list[ParamSpec]:
    """Parameters of the output stage, lifecycle exit and frame prefix (navigator)."""
    return [
        ParamSpec(
            "safety_enabled",
            True,
            "Clamp every command with the geometric safety layer (stop and slow zones around "
            "the footprint from the range sources), after the policy.",
        ),
        ParamSpec(
            "safety_sources",
            "depth",
            "Range sources of the safety layer, comma-separated: 'depth' (the 'depth' image, "
            "camera mount from the embodiment), 'scan' (sensor_msgs/LaserScan on 'scan'), "
            "'cloud' (sensor_msgs/PointCloud2 on 'points', in the base frame); 'none' = no "
            "source. A source that never published protects nothing (diagnostics say so).",
            read_only=True,
        ),
        ParamSpec(
            "safety_stop_distance",
            0.2,
            "Stop zone beyond the footprint edge, m: no motion towards an obstacle this close "
            "(turning stays allowed).",
            range=(0.0, 5.0),
        ),
        ParamSpec(
            "safety_slow_distance",
            0.6,
            "Slow zone beyond the footprint edge, m: speed towards an obstacle scales down "
            "to safety_creep_speed at the stop zone and stays within braking distance.",
            range=(0.01, 10.0),
        ),
        ParamSpec(
            "safety_side_margin",
            0.05,
            "Corridor half-width beyond the footprint's sides for the front/rear zones, m.",
            range=(0.0, 2.0),
        ),
        ParamSpec(
            "safety_min_height",
            0.08,
            "Points lower than this above the floor are floor, not obstacles, m.",
            range=(-1.0, 5.0),
        ),
        ParamSpec(
            "safety_max_height",
            2.0,
            "Points higher than this above the floor are ignored (overhangs), m.",
            range=(0.0, 10.0),
        ),
        ParamSpec(
            "safety_creep_speed",
            0.1,
            "Lowest speed towards an obstacle inside the slow zone, m/s.",
            range=(0.0, 2.0),
        ),
        ParamSpec(
            "safety_timeout",
            0.5,
            "A range source that published and then fell silent this long blocks "
            "translation until it is back, s (wall clock; off with sync_stamps).",
            range=(0.01, 10.0),
        ),
        ParamSpec(
            "scan_mount",
            [0.0, 0.0, 0.2, 0.0],
            "LaserScan sensor pose in the base frame: [x, y, z, yaw] (m, rad).",
            read_only=True,
        ),
        ParamSpec(
            "smooth_stop",
            True,
            "Decelerate within the acceleration limits (max_ax, max_ay, max_awz) on stops, "
            "goal reached, cancel and stale inputs, instead of an instantaneous zero.",
        ),
        ParamSpec(
            "publish_when_idle",
            False,
            "Keep publishing zero commands while idle (no goal, or goal held stopped); false "
            "= one final zero, then nothing, so a twist_mux is not held.",
        ),
        ParamSpec(
            "exit_on_configure_failure",
            True,
            "With autostart: a failed configure ends the process with exit code 1 (so a "
            "launch system notices); false keeps it running unconfigured.",
            read_only=True,
        ),
        ParamSpec(
            "frame_prefix",
            "",
            "Prefix (e.g. 'robot1/') added to the frame names the node takes from its "
            "parameters or defaults (odom_frame, base_frame, 'base_link'); frames read "
            "from odometry headers are used as they are.",
            read_only=True,
        ),
    ]


def cloud_to_points(msg: PointCloud2) -> np.ndarray:
    """PointCloud2 with float32 x, y, z fields -> (N, 3) float64 (NaN points dropped).

    Raises:
        ValueError: no float32 x/y/z fields, or a buffer shorter than the header says.
    """
    fields = {f.name: f for f in msg.fields}
    if not all(k in fields and fields[k].datatype == 7 for k in "xyz"):  # 7 = FLOAT32
        raise ValueError("point cloud needs float32 fields x, y, z")
    n = msg.width * msg.height
    if len(msg.data) < n * msg.point_step:
        raise ValueError(
            f"point cloud buffer holds {len(msg.data)} bytes, expected {n * msg.point_step}"
        )
    endian = ">" if msg.is_bigendian else "<"
    dtype = np.dtype(
        {
            "names": ["x", "y", "z"],
            "formats": [endian + "f4"] * 3,
            "offsets": [fields[k].offset for k in "xyz"],
            "itemsize": msg.point_step,
        }
    )
    buf = np.frombuffer(bytes(msg.data), dtype, count=n) if n else np.zeros(0, dtype)
    pts = np.stack([buf["x"], buf["y"], buf["z"]], 1).astype(np.float64)
    return pts[np.isfinite(pts).all(1)]


class OutputStage:
    """Safety layer + command shaper of one configured navigator.

    Args:
        node: The navigator (for parameters, subscriptions and the logger).
        body: Its embodiment (footprint, camera mount, limits).
        control_hz: Control rate (the ramp's step).
        sensor_qos: QoS of the range subscriptions.
    """

    def __init__(self, node, body: EmbodimentSpec, control_hz: float, sensor_qos) -> None:
        self.node = node
        self.body = body
        p = node.get_parameter
        self.enabled = bool(p("safety_enabled").value)
        self.sources = parse_sources(p("safety_sources").value)
        self.layer = SafetyLayer(self.settings(), self.sources)
        self.shaper = CommandShaper(self._accel(), control_hz, p("publish_when_idle").value)
        self.max_speed = (0.0, 0.0)
        self.smooth = True
        self.camera = DepthCamera(
            body.camera_x,
            body.camera_height,
            body.camera_pitch,
            math.radians(body.camera_hfov_deg),
        )
        self.scan_mount = tuple(float(v) for v in p("scan_mount").value)
        if len(self.scan_mount) != 4:
            raise ValueError(f"scan_mount={list(self.scan_mount)}: expected [x, y, z, yaw]")
        self.subs = []
        self.rejected = 0
        self._warned: dict[str, float] = {}
        self.reconfigure(control_hz)
        if "scan" in self.sources:
            self.subs.append(node.create_subscription(LaserScan, "scan", self.on_scan, sensor_qos))
        if "cloud" in self.sources:
            self.subs.append(
                node.create_subscription(PointCloud2, "points", self.on_cloud, sensor_qos)
            )

    @property
    def wants_depth(self) -> bool:
        """The safety layer reads the 'depth' image (the node subscribes it and forwards it)."""
        return "depth" in self.sources

    def settings(self) -> SafetySettings:
        """Current zone settings from the parameters (raises ConfigError if inconsistent)."""
        p = lambda n: self.node.get_parameter(n).value  # noqa: E731
        return SafetySettings(
            length=self.body.length,
            width=self.body.width,
            stop_distance=p("safety_stop_distance"),
            slow_distance=p("safety_slow_distance"),
            side_margin=p("safety_side_margin"),
            min_height=p("safety_min_height"),
            max_height=p("safety_max_height"),
            creep_speed=p("safety_creep_speed"),
            accel=(p("max_ax"), p("max_ay")),
            timeout=p("safety_timeout"),
        )

    def _accel(self) -> tuple[float, float, float]:
        p = lambda n: self.node.get_parameter(n).value  # noqa: E731
        return (p("max_ax"), p("max_ay"), p("max_awz"))

    def reconfigure(self, control_hz: float) -> None:
        """Parameters changed: new zones, limits, rate."""
        self.layer.settings = self.settings()
        self.shaper.configure(self._accel(), control_hz)
        self.shaper.publish_when_idle = self.node.get_parameter("publish_when_idle").value
        p = self.node.get_parameter
        self.enabled = bool(p("safety_enabled").value)
        self.max_speed = (p("max_vx").value, p("max_vy").value)
        self.smooth = bool(p("smooth_stop").value)

    # ------------------------------------------------------------------ range inputs
    def on_depth(self, depth: np.ndarray) -> None:
        """A decoded depth image (H, W) metres (the model's or the safety subscription's)."""
        if "depth" in self.sources:
            self.layer.update("depth", depth_points(depth, self.camera), time.monotonic())

    def on_scan(self, msg: LaserScan) -> None:
        pts = scan_points(
            np.asarray(msg.ranges, np.float32),
            msg.angle_min,
            msg.angle_increment,
            msg.range_min,
            msg.range_max,
            self.scan_mount,
        )
        self.layer.update("scan", pts, time.monotonic())

    def on_cloud(self, msg: PointCloud2) -> None:
        try:
            pts = cloud_to_points(msg)
        except ValueError as exc:
            self._reject("cloud", str(exc))
            return
        self.layer.update("cloud", pts, time.monotonic())

    def warn_silent(self, since_active: float) -> None:
        """WARN (every 30 s) about each configured source that never published.

        Only once the node has been active for 3 s: the safety layer is blind there.
        """
        if not self.enabled or since_active < 3.0:
            return
        topics = {"depth": "depth", "scan": "scan", "cloud": "points"}
        now = time.monotonic()
        for source in self.layer.unheard():
            if now - self._warned.get(source, -math.inf) < 30.0:
                continue
            self._warned[source] = now
            topic = self.node.resolve_topic_name(topics[source])
            self.node.get_logger().warning(
                f"safety source {source}: no message on {topic}: the safety layer does not "
                f"see obstacles there (set safety_sources to the range sensors this robot has)"
            )

    def _reject(self, source: str, why: str) -> None:
        self.rejected += 1
        self.node.get_logger().warning(
            f"safety source {source}: message rejected: {why}", throttle_duration_sec=2.0
        )

    # ------------------------------------------------------------------ commands
    def shape(self, cmd: np.ndarray, idle: bool, check_stale: bool):
        """The command to publish for the core's ``cmd`` (None = publish nothing).

        Args:
            cmd: (3,) the core's (policy or stop) command.
            idle: Nothing to drive to (no goal / held stopped).
            check_stale: Judge source staleness by the wall clock (off in lockstep).
        """
        hard = False
        if self.enabled:
            cmd, _, hard = self.layer.apply(cmd, self.max_speed, time.monotonic(), check_stale)
        return self.shaper(cmd, idle, emergency=hard, ramp=self.smooth)

    def stopped(self) -> None:
        """A zero was published outside the stage (shutdown, deactivate)."""
        self.shaper.reset()

    def diagnostics(self, now: float, check_stale: bool) -> dict[str, str]:
        """Diagnostic values of the safety layer."""
        _, stale = self.layer.state(now, check_stale)
        c, _ = self.layer.state(now, check_stale=False)  # last seen, silent sources included

        def fmt(v: float) -> str:
            return f"{v:.2f}" if math.isfinite(v) else "clear"

        return {
            "safety": "on" if self.enabled else "off",
            "safety_sources": ",".join(self.sources) or "none",
            "safety_sources_silent": ",".join(self.layer.unheard() + stale),
            "safety_interventions": str(self.layer.interventions),
            "safety_last_intervention": self.layer.last_intervention,
            "clearance_front_m": fmt(c.front),
            "clearance_rear_m": fmt(c.rear),
            "clearance_left_m": fmt(c.left),
            "clearance_right_m": fmt(c.right),
            "safety_rejected": str(self.rejected),
        }
