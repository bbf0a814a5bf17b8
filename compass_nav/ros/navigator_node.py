"""The navigator: a ROS 2 lifecycle node that drives a robot with a policy runtime.

Entry point ``navigator`` (setup.py) -> :func:`main`; launched by ``launch/robot.launch.py``
and ``launch/sim.launch.py``. The node does parameters, QoS, topics, timers and message
conversion only: :class:`compass_nav.ros.navigator_core.NavigatorCore` decides (goal state,
watchdog, limits) and a :class:`compass_nav.runtime.PolicyRuntime` (opened with
:func:`compass_nav.runtime.load_runtime`) computes the action.

Topics (relative names, remap them): subscribes ``image`` (sensor_msgs/Image rgb8, bgr8,
rgba8, bgra8, mono8) or ``image/compressed``, ``depth`` (32FC1/16UC1, only when the model
reads depth), ``odom`` (nav_msgs/Odometry), ``goal_pose`` (geometry_msgs/PoseStamped),
``route`` (nav_msgs/Path, optional); publishes ``cmd_vel`` (Twist or TwistStamped),
``predicted_path`` (nav_msgs/Path, when the model predicts one), ``goal_status``
(std_msgs/String holding JSON, latched) and ``diagnostics`` (diagnostic_msgs/DiagnosticArray).
Service ``~/cancel`` (std_srvs/Trigger). Lifecycle: configure opens the model and creates
the subscriptions, activate starts control, deactivate/shutdown publish a zero command.
"""

from __future__ import annotations

import collections
import math
import signal
import threading
import time

import numpy as np
import rclpy
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import PoseStamped, Twist, TwistStamped
from nav_msgs.msg import Odometry, Path
from rcl_interfaces.msg import SetParametersResult
from rclpy.clock import Clock, ClockType
from rclpy.duration import Duration
from rclpy.executors import SingleThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import String
from std_srvs.srv import Trigger

from compass_nav.contract.body import EmbodimentSpec, get_embodiment
from compass_nav.ros import conversions as conv
from compass_nav.ros import graph, qos, realtime
from compass_nav.ros.navigator_core import NavigatorCore, NavigatorSettings, open_runtime
from compass_nav.ros.observation import robot_to_world
from compass_nav.ros.output_stage import OutputStage, output_params
from compass_nav.ros.params import check_value, declare, navigator_params
from compass_nav.utils import jsonsafe
from compass_nav.utils.errors import CompassNavError, ConfigError

__all__ = ["Navigator", "main"]

_STATS_WINDOW = 500  # control steps kept for latency percentiles
MISSING_AFTER_S = 3.0  # a needed input silent this long (since activation) counts as missing
MISSING_WARN_PERIOD_S = 5.0  # at most one missing-input WARN per input per period
#: What the model reads from each input, for the missing-input messages.
_INPUT_WHAT = {
    "image": "RGB camera images (sensor_msgs/Image or CompressedImage)",
    "depth": "depth images (sensor_msgs/Image 32FC1 or 16UC1)",
    "odom": "odometry (nav_msgs/Odometry)",
}


class Navigator(LifecycleNode):
    """Lifecycle node around :class:`NavigatorCore` (see the module docstring)."""

    def __init__(self, node_name: str = "navigator", **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        self.body, body_error = self._declare_parameters()
        self.core: NavigatorCore | None = None
        self.runtime = None
        self.output: OutputStage | None = None
        self._active = False
        self._error = body_error
        self._subs: list = []
        # Input kind -> its subscription (resolved topic names), and the wall clock
        # (time.monotonic) of its last message, good or rejected, or of activation.
        self._input_subs: dict[str, object] = {}
        self._heard: dict[str, float] = {}
        self._srvs: list = []
        self._control_timers: list = []
        self._steady = Clock(clock_type=ClockType.STEADY_TIME)
        self._pending: dict[str, object] = {}
        # sync_stamps: stamps (sec, nanosec) of the latest odometry/depth, and the image
        # step waiting for them (stamp, its perf_counter start).
        self._input_stamps: dict[str, tuple[int, int]] = {}
        self._waiting_step: tuple | None = None
        self._frames: tuple[str, str] = ("", "")
        self._active_since = math.inf
        self._last_cmd_wall = -math.inf
        self._last_trigger_stamp: float | None = None
        self._last_status: tuple | None = None
        self._log_last: dict[str, tuple[str, float]] = {}
        self._bad_counts = collections.Counter()
        self._step_s: collections.deque = collections.deque(maxlen=_STATS_WINDOW)
        self._infer_s: collections.deque = collections.deque(maxlen=_STATS_WINDOW)
        self._step_times: collections.deque = collections.deque(maxlen=_STATS_WINDOW)
        self._commands = 0
        # Always-on outputs: a zero command and the reason must be publishable in any state.
        stamped = self.get_parameter("cmd_vel_stamped").value
        self._cmd_pub = self.create_publisher(
            TwistStamped if stamped else Twist, "cmd_vel", qos.command()
        )
        self._status_pub = self.create_publisher(String, "goal_status", qos.latched())
        self._diag_pub = self.create_publisher(DiagnosticArray, "diagnostics", qos.reliable())
        self._path_pub = self.create_publisher(Path, "predicted_path", qos.reliable(2))
        self._diag_timer = self.create_timer(
            self._p("diagnostics_period"), self._publish_diagnostics, clock=self._steady
        )
        self.add_on_set_parameters_callback(self._validate_parameters)
        self.add_post_set_parameters_callback(self._apply_parameters)
        # Goal inputs exist from construction, so that goals sent while the node configures
        # wait (in the reader queue, or queued by the action servers) instead of being lost.
        self._goal_sub = self.create_subscription(
            PoseStamped, "goal_pose", self._on_goal, qos.reliable()
        )
        self._tf, self._actions = graph.attach(self)

    # ------------------------------------------------------------------ parameters
    def _declare_parameters(self) -> tuple[EmbodimentSpec, str]:
        """Declare 'embodiment' first: the limit parameters take their defaults from it."""
        fallback = get_embodiment("carter")
        specs = navigator_params(fallback) + output_params(fallback)
        first = [s for s in specs if s.name == "embodiment"]
        declare(self, first)
        name = self.get_parameter("embodiment").value
        error = ""
        try:
            body = get_embodiment(name)
        except CompassNavError as exc:
            body, error = fallback, f"embodiment={name!r}: {exc}"
        self._specs = {s.name: s for s in navigator_params(body) + output_params(body)}
        declare(self, [s for n, s in self._specs.items() if n != "embodiment"])
        return body, error

    def _p(self, name: str):
        return self.get_parameter(name).value

    def _settings(self, values: dict) -> NavigatorSettings:
        spec = self.runtime.spec
        rate = values["control_rate_hz"] or spec.control_hz
        return NavigatorSettings(
            low=(values["min_vx"], -values["max_vy"], -values["max_wz"]),
            high=(values["max_vx"], values["max_vy"], values["max_wz"]),
            accel=(values["max_ax"], values["max_ay"], values["max_awz"]),
            control_hz=float(rate),
            goal_tolerance=values["goal_tolerance"],
            heading_tolerance=values["heading_tolerance"],
            stale_timeout=values["stale_timeout"],
            route_spacing=values["route_spacing"],
            route_goal_match=values["route_goal_match"],
            needs_rgb=spec.uses_rgb,
            needs_depth=spec.uses_depth,
        )

    def _values(self) -> dict:
        return {n: self._p(n) for n in self._specs}

    def _validate_parameters(self, params) -> SetParametersResult:
        values = self._values()
        for prm in params:
            spec = self._specs.get(prm.name)
            if spec is None:
                continue
            why = check_value(spec, prm.value, self.body)
            if why:
                return SetParametersResult(successful=False, reason=why)
            values[prm.name] = prm.value
        if self.runtime is not None:
            try:
                self._settings(values)
                self._check_safety(values)
            except CompassNavError as exc:
                return SetParametersResult(successful=False, reason=str(exc))
        return SetParametersResult(successful=True)

    def _check_safety(self, values: dict) -> None:
        """The safety zones must be consistent (raises ConfigError naming the parameter)."""
        from compass_nav.ros.safety import SafetySettings, parse_sources

        try:
            parse_sources(values["safety_sources"])
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        SafetySettings(
            length=self.body.length,
            width=self.body.width,
            stop_distance=values["safety_stop_distance"],
            slow_distance=values["safety_slow_distance"],
            side_margin=values["safety_side_margin"],
            min_height=values["safety_min_height"],
            max_height=values["safety_max_height"],
            creep_speed=values["safety_creep_speed"],
            timeout=values["safety_timeout"],
        )
        if len(values["scan_mount"]) != 4:
            raise ConfigError(f"scan_mount={list(values['scan_mount'])}: expected [x, y, z, yaw]")

    def _apply_parameters(self, params) -> None:
        names = {p.name for p in params}
        if "diagnostics_period" in names:
            self.destroy_timer(self._diag_timer)
            self._diag_timer = self.create_timer(
                self._p("diagnostics_period"), self._publish_diagnostics, clock=self._steady
            )
        if self.core is not None:
            self.core.configure(self._settings(self._values()))
            self.output.reconfigure(self.core.settings.control_hz)
            if self._active and "control_rate_hz" in names:
                self._start_timers()

    # ------------------------------------------------------------------ lifecycle
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Open the model and create subscriptions and services."""
        if self._error:
            return self._fail(self._error)
        values = self._values()
        for name, spec in self._specs.items():
            why = check_value(spec, values[name], self.body)
            if why:
                return self._fail(why)
        try:
            self._check_safety(values)
            self.runtime = open_runtime(values["model"], values["embodiment"])
            settings = self._settings(values)
        except CompassNavError as exc:
            self.runtime = None
            return self._fail(str(exc))
        self.core = NavigatorCore(self.runtime, self.body.descriptor(), settings)
        spec = self.runtime.spec
        try:
            warm = self.core.warm_up()
        except Exception as exc:  # a model that cannot run must not get to drive
            self.core = self.runtime = None
            return self._fail(
                f"model={values['model']!r} failed its warm-up step: {type(exc).__name__}: {exc}"
            )
        # Subscription order is the executor's order for messages that are ready together:
        # goal and route first, so a new episode's first image is never steered to the old
        # goal; then odometry and depth, so an image-triggered step sees the matching pose.
        if values["use_route"]:
            self._subs.append(
                self.create_subscription(Path, "route", self._on_route, qos.reliable(2))
            )
        sensor = qos.sensor(values["image_qos"])
        self.output = OutputStage(self, self.body, settings.control_hz, sensor)
        self._subs += self.output.subs
        self._input_subs["odom"] = self.create_subscription(
            Odometry, "odom", self._on_odom, qos.sensor(values["odom_qos"])
        )
        if spec.uses_depth or self.output.wants_depth:
            self._input_subs["depth"] = self.create_subscription(
                Image, "depth", self._on_depth, sensor
            )
        if values["image_transport"] == "compressed":
            self._input_subs["image"] = self.create_subscription(
                CompressedImage, "image/compressed", self._on_compressed, sensor
            )
        else:
            self._input_subs["image"] = self.create_subscription(
                Image, "image", self._on_image, sensor
            )
        self._subs += list(self._input_subs.values())
        self._srvs.append(self.create_service(Trigger, "~/cancel", self._on_cancel))
        self._error = ""
        self.get_logger().info(
            f"configured: model {self.runtime.name}, embodiment {self.body.name}, "
            f"{settings.control_hz:g} Hz ({values['trigger']}-triggered), inputs "
            f"{'rgb ' if spec.uses_rgb else ''}{'depth ' if spec.uses_depth else ''}odom; "
            f"warm-up {warm * 1e3:.0f} ms"
        )
        self._publish_status(force=True)
        realtime.settle()
        return TransitionCallbackReturn.SUCCESS

    def _fail(self, reason: str) -> TransitionCallbackReturn:
        self._error = reason
        self.get_logger().error(f"configure failed: {reason}")
        return TransitionCallbackReturn.FAILURE

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Start control."""
        self._active = True
        self._last_trigger_stamp = None
        start = self._active_since = time.monotonic()
        self._heard = {k: max(self._heard.get(k, start), start) for k in self._input_subs}
        self._start_timers()
        return TransitionCallbackReturn.SUCCESS

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Stop control and the robot."""
        return self._halt("deactivated")

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Release the model, subscriptions and services."""
        for sub in self._subs:
            self.destroy_subscription(sub)
        for srv in self._srvs:
            self.destroy_service(srv)
        self._subs, self._srvs = [], []
        self._input_subs, self._heard = {}, {}
        self.core = self.runtime = self.output = None
        self._pending.clear()
        self._input_stamps.clear()
        self._waiting_step = None
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Stop the robot before going away."""
        return self._halt("shutdown")

    def _halt(self, reason: str) -> TransitionCallbackReturn:
        self._active = False
        self._stop_timers()
        self.stop_robot(reason)
        return TransitionCallbackReturn.SUCCESS

    def _start_timers(self) -> None:
        self._stop_timers()
        period = 1.0 / self.core.settings.control_hz
        # The watchdog runs on the steady clock: with use_sim_time a stalled /clock must not
        # stall the safety stop.
        self._control_timers.append(self.create_timer(period, self._watchdog, clock=self._steady))
        if self._p("trigger") == "timer":
            self._control_timers.append(self.create_timer(period, self._on_control_timer))

    def _stop_timers(self) -> None:
        for t in self._control_timers:
            self.destroy_timer(t)
        self._control_timers = []

    # ------------------------------------------------------------------ inputs
    def _bad(self, kind: str, reason: str) -> None:
        """Log (at most every 2 s per kind unless the reason changes) and stop at once."""
        now = time.monotonic()
        self._bad_counts[kind] += 1
        last = self._log_last.get(kind)
        if last is None or last[0] != reason or now - last[1] > 2.0:
            self.get_logger().warning(f"rejected {kind}: {reason} (safe stop)")
            self._log_last[kind] = (reason, now)
        self.core.on_bad_input(kind, reason, now)
        if self._active:
            self._control(time.perf_counter(), None)

    def _on_image(self, msg: Image) -> None:
        self._decode_image(msg, conv.image_to_rgb)

    def _on_compressed(self, msg: CompressedImage) -> None:
        self._decode_image(msg, conv.compressed_to_rgb)

    def _decode_image(self, msg: Image | CompressedImage, decode) -> None:
        t0 = time.perf_counter()
        self._heard["image"] = time.monotonic()
        try:
            rgb = decode(msg)
        except conv.InputError as exc:
            return self._bad("image", str(exc))
        self._image_arrived(rgb, msg.header.stamp, t0)

    def _image_arrived(self, rgb: np.ndarray, stamp, t0: float) -> None:
        self.core.on_image(rgb, time.monotonic())
        if self._active and self._p("trigger") == "image" and self._due(stamp):
            if self._p("sync_stamps"):
                self._waiting_step = (stamp, t0)
                self._run_synced_step()
            else:
                self._control(t0, stamp)

    def _run_synced_step(self) -> None:
        """sync_stamps: run the waiting image step once odometry and depth share its stamp.

        A newer image replaces a waiting one, so a step whose inputs never complete is
        skipped, never run late with someone else's pose.
        """
        if self._waiting_step is None or not self._active:
            return
        stamp, t0 = self._waiting_step
        key = (stamp.sec, stamp.nanosec)
        needed = ["odom", "depth"] if self.runtime.spec.uses_depth else ["odom"]
        # The safety layer's depth joins the sync once a depth stream exists (a lockstep
        # simulator without depth must not stall).
        if "depth" not in needed and self.output.wants_depth and "depth" in self._input_stamps:
            synced = [*needed, "depth"]
        else:
            synced = needed
        if all(self._input_stamps.get(k) == key for k in synced):
            self._waiting_step = None
            # Staleness is judged when the step's first input arrived: in lockstep the
            # simulator's time stands still until the step completes.
            first = min(self.core.inputs[k].received for k in (*needed, "image"))
            self._control(t0, stamp, now=first)

    def _due(self, stamp) -> bool:
        """Decimate the camera stream to the control rate by the images' own stamps."""
        t = conv.stamp_to_sec(stamp)
        if t <= 0.0:
            t = self.get_clock().now().nanoseconds * 1e-9
        last = self._last_trigger_stamp
        if last is not None and last <= t < last + 0.8 / self.core.settings.control_hz:
            return False
        self._last_trigger_stamp = t
        return True

    def _on_depth(self, msg: Image) -> None:
        self._heard["depth"] = time.monotonic()
        try:
            depth = conv.depth_to_metres(msg)
        except conv.InputError as exc:
            self._bad("depth", str(exc))
        else:
            if self.runtime.spec.uses_depth:
                self.core.on_depth(depth, time.monotonic())
            self.output.on_depth(depth)
        self._input_arrived("depth", msg.header.stamp)

    def _on_odom(self, msg: Odometry) -> None:
        self._heard["odom"] = time.monotonic()
        try:
            pose, speed = conv.odometry_to_arrays(msg)
        except conv.InputError as exc:
            self._bad("odom", str(exc))
        else:
            self.core.on_odometry(pose, speed, time.monotonic())
            self._frames = (msg.header.frame_id, msg.child_frame_id)
            if self._pending:
                pending, self._pending = self._pending, {}
                for kind in ("goal", "route"):
                    if kind in pending:
                        getattr(self, f"_on_{kind}")(pending[kind])
        self._input_arrived("odom", msg.header.stamp)

    def _input_arrived(self, kind: str, stamp) -> None:
        """sync_stamps: note the stamp of an odometry/depth message, good or rejected.

        A rejected one makes the waiting step a safe stop, answered with the image's stamp.
        """
        self._input_stamps[kind] = (stamp.sec, stamp.nanosec)
        self._run_synced_step()

    def _frame_names(self) -> tuple[str, str]:
        """(odometry frame, base frame): parameters (with ``frame_prefix``), else odometry's."""
        prefix, odom, base = self._p("frame_prefix"), self._p("odom_frame"), self._p("base_frame")
        return (
            prefix + odom if odom else self._frames[0],
            prefix + base if base else self._frames[1],
        )

    def _command_frame(self) -> str:
        return self._frame_names()[1] or self._p("frame_prefix") + "base_link"

    def _to_world(self, frame: str, xyyaw: np.ndarray, what: str):
        """A pose in ``frame`` -> odometry frame, None if it must wait, else raise."""
        odom_frame, base_frame = self._frame_names()
        if not odom_frame and not base_frame:
            return None  # frames become known with the first odometry message
        if frame and frame == odom_frame:
            return xyyaw
        if frame and frame == base_frame:
            if self.core.pose is None:
                return None
            return robot_to_world(self.core.pose, xyyaw)
        if self._tf is not None and frame and odom_frame:
            return graph.to_odom_frame(self, frame, odom_frame, xyyaw, what)
        raise conv.InputError(
            f"{what} frame {frame!r} is unknown: give it in the odometry frame "
            f"{odom_frame!r} or the robot frame {base_frame!r} "
            "(no TF here: use_tf is off or tf2_msgs is missing)"
        )

    def _on_goal(self, msg: PoseStamped) -> str:
        if self.core is None:  # not configured yet: applied with the first odometry
            self._pending["goal"] = msg
            return ""
        self._tf_stamp = msg.header.stamp  # the time a TF lookup is made for
        try:
            goal = conv.pose_to_xyyaw(msg.pose, "goal pose")
            world = self._to_world(msg.header.frame_id, goal, "goal")
        except conv.InputError as exc:
            self.get_logger().error(f"goal rejected: {exc}")
            self.core.reject_goal(str(exc))
            self._after_event()
            return str(exc)
        if world is None:
            self._pending["goal"] = msg
            return ""
        self.core.set_goal(world)
        self._last_trigger_stamp = None
        self.get_logger().info(
            f"goal {self.core.goal_id}: ({world[0]:.2f}, {world[1]:.2f}, {world[2]:.2f}) in "
            f"{self._frame_names()[0]!r}"
        )
        self._after_event()
        return ""

    def _on_route(self, msg: Path) -> str:
        if self.core is None:
            self._pending["route"] = msg
            return ""
        self._tf_stamp = msg.header.stamp
        try:
            pts = conv.path_to_points(msg)
            frame = msg.header.frame_id
            probe = self._to_world(frame, np.zeros(3), "route")
        except conv.InputError as exc:
            self.core.route_note = f"route rejected: {exc}"
            self.get_logger().warning(self.core.route_note)
            return str(exc)
        if probe is None:
            self._pending["route"] = msg
            return ""
        odom_frame, base_frame = self._frame_names()
        if frame == base_frame:  # robot frame: fix it in the world now
            pts = np.array([robot_to_world(self.core.pose, (x, y, 0.0))[:2] for x, y in pts])
        elif frame and frame != odom_frame:  # through TF, with the route's own stamp
            pts = np.array([self._to_world(frame, (x, y, 0.0), "route")[:2] for x, y in pts])
        self.core.on_route(pts)
        return ""

    # Hooks for the action servers (compass_nav.ros.actions).
    submit_goal = _on_goal
    submit_route = _on_route

    def goal_pending(self) -> bool:
        """A goal waits for the first odometry (or for the node to configure)."""
        return "goal" in self._pending

    def _on_cancel(self, request, response):
        response.success = self.core.cancel()
        response.message = "goal cancelled" if response.success else "no goal to cancel"
        self._after_event()
        return response

    def _after_event(self) -> None:
        """Goal changes take effect now: publish the status and (if stopping) a zero."""
        if self._active and self.core.goal is None:
            self._control(time.perf_counter(), None)
        else:
            self._publish_status()

    # ------------------------------------------------------------------ control
    def _on_control_timer(self) -> None:
        self._control(time.perf_counter(), None)

    def _watchdog(self) -> None:
        """Zero velocity when inputs are stale and nothing else published recently.

        Off with ``sync_stamps``: a lockstep simulator's time stands still while it waits, so
        wall-clock staleness means nothing there, and a watchdog step would reset the
        policy's state at a moment that depends on the machine's load (the bridge's own
        timeouts cover a navigator that stops answering).
        """
        now = time.monotonic()
        self._warn_missing(now)
        self.output.warn_silent(now - self._active_since)
        if self._p("sync_stamps"):
            return
        if now - self._last_cmd_wall < 1.5 / self.core.settings.control_hz:
            return
        if self.core.goal is not None and not self.core.stop_reason(now):
            return
        self._control(time.perf_counter(), None)

    def _needed_inputs(self) -> list[str]:
        spec = self.runtime.spec
        kinds = ["odom"] + (["image"] if spec.uses_rgb else [])
        return kinds + (["depth"] if spec.uses_depth else [])

    def missing_inputs(self, now: float) -> list[tuple[str, str]]:
        """Inputs the model needs that are missing: (input kind, resolved topic) each.

        Missing: no message at all (good or rejected) for ``MISSING_AFTER_S`` while active.
        """
        if not self._active or self.runtime is None:
            return []
        return [
            (kind, self._input_subs[kind].topic_name)
            for kind in self._needed_inputs()
            if kind in self._input_subs and now - self._heard.get(kind, now) >= MISSING_AFTER_S
        ]

    def _missing_text(self, kind: str, topic: str, now: float) -> str:
        silent = now - self._heard.get(kind, now)
        return (
            f"no message on {topic} for {silent:.0f} s: model {self.runtime.name} needs "
            f"{kind}, {_INPUT_WHAT[kind]}"
        )

    def _warn_missing(self, now: float) -> None:
        """A WARN per missing input, at most every ``MISSING_WARN_PERIOD_S``."""
        for kind, topic in self.missing_inputs(now):
            key = f"missing {kind}"
            last = self._log_last.get(key)
            if last is None or now - last[1] >= MISSING_WARN_PERIOD_S:
                self.get_logger().warning(
                    f"{self._missing_text(kind, topic, now)} (commanding zero velocity)"
                )
                self._log_last[key] = ("", now)

    def _control(self, t0: float, stamp, now: float | None = None) -> None:
        """Run one core step and publish its command, path and status.

        ``now`` (wall clock) judges input staleness; default: this moment.
        """
        d = self.core.step(time.monotonic() if now is None else now)
        sync = self._p("sync_stamps")
        idle = d.status.state != "active" or self.core.goal is None
        # Policy -> speed limit (FollowPath) -> safety layer -> deceleration ramp.
        limited = self._actions.limit(d.cmd) if self._actions else d.cmd
        cmd = self.output.shape(limited, idle, check_stale=not sync)
        if cmd is not None:
            self._publish_cmd(cmd, stamp)
        elif sync and stamp is not None:
            self._publish_cmd(np.zeros(3), stamp)  # lockstep: every observation is answered
        if d.stepped:
            t1 = time.perf_counter()
            self._step_s.append(t1 - t0)
            self._infer_s.append(d.inference_s)
            self._step_times.append(time.monotonic())
            if d.path is not None:
                self._path_pub.publish(
                    conv.path_msg(d.path, self._stamp(stamp), self._command_frame())
                )
        self._publish_status(d.status)

    def _stamp(self, stamp):
        return stamp if stamp is not None else self.get_clock().now().to_msg()

    def _publish_cmd(self, cmd: np.ndarray, stamp) -> None:
        stamped = self._p("cmd_vel_stamped")
        if stamp is None and self._p("sync_stamps"):
            # Not an answer to an image (watchdog, goal events): a zero stamp, so that a
            # lockstep simulator never takes it for the answer to its current observation.
            stamp = Time()
        msg = conv.twist_msg(
            cmd,
            stamped,
            self._stamp(stamp) if stamped else None,
            self._command_frame(),
        )
        ((self._actions and self._actions.command_publisher()) or self._cmd_pub).publish(msg)
        self._last_cmd_wall = time.monotonic()
        self._commands += 1

    def stop_robot(self, why: str) -> None:
        """Publish a zero command now and wait (briefly) until subscribers have it."""
        if self.core is not None:
            self.core.limiter.reset()
            self.output.stopped()
        self._publish_cmd(np.zeros(3), None)
        self._cmd_pub.wait_for_all_acked(Duration(seconds=0.5))
        self.get_logger().info(f"zero velocity published ({why})")

    def _publish_status(self, status=None, force: bool = False) -> None:
        if self.core is None:
            return
        status = status or self.core.status()
        key = (status.state, status.goal_id, status.reason)
        if key == self._last_status and not force:
            return
        self._last_status = key
        d = status.to_dict()
        d["frame"] = self._frame_names()[0]
        self._status_pub.publish(String(data=jsonsafe.dumps(d)))
        if status.state in ("reached", "cancelled", "rejected"):
            self.get_logger().info(f"goal {status.goal_id} {status.state} {status.reason}")

    # ------------------------------------------------------------------ diagnostics
    def _publish_diagnostics(self) -> None:
        now = time.monotonic()
        st = DiagnosticStatus(name=f"{self.get_name()}: control", hardware_id=self.body.name)
        values: dict[str, str] = {"lifecycle": self._lifecycle_label()}
        if self.core is None:
            st.level = DiagnosticStatus.ERROR if self._error else DiagnosticStatus.WARN
            st.message = self._error or "not configured"
        else:
            status = self.core.status()
            why = self.core.stop_reason(now)
            driving = status.state == "active" and not why
            st.level = (
                DiagnosticStatus.OK
                if (driving or status.state != "stopped")
                else DiagnosticStatus.WARN
            )
            if not self._active:
                st.message = "inactive"
            elif status.state == "stopped" or (status.state == "active" and why):
                st.message = f"stopped: {why or status.reason}"
            else:
                st.message = status.state + (f": {status.reason}" if status.reason else "")
            missing = self.missing_inputs(now)
            if missing:
                st.level = DiagnosticStatus.ERROR
                st.message = "; ".join(self._missing_text(k, t, now) for k, t in missing)
            values["missing_inputs"] = " ".join(t for _, t in missing)
            window = [t for t in self._step_times if now - t <= 2.0]
            values.update(
                {
                    "state": status.state,
                    "stop_reason": why or status.reason,
                    "model": self.runtime.name,
                    "control_rate_target_hz": f"{self.core.settings.control_hz:.3g}",
                    "control_rate_hz": f"{len(window) / 2.0:.3g}",
                    "step_latency_ms_p50": _pct(self._step_s, 50),
                    "step_latency_ms_p99": _pct(self._step_s, 99),
                    "inference_ms_p50": _pct(self._infer_s, 50),
                    "inference_ms_p99": _pct(self._infer_s, 99),
                    "route": self.core.route_note,
                    "goal_distance_m": f"{status.distance:.3f}",
                    "commands_published": str(self._commands),
                }
            )
            values.update(self.output.diagnostics(now, not self._p("sync_stamps")))
            for kind, inp in self.core.inputs.items():
                age = now - inp.received
                values[f"{kind}_age_s"] = f"{age:.3f}" if math.isfinite(age) else "never"
                values[f"{kind}_rejected"] = str(self._bad_counts[kind])
        st.values = [KeyValue(key=k, value=v) for k, v in values.items()]
        msg = DiagnosticArray(status=[st])
        msg.header.stamp = self.get_clock().now().to_msg()
        self._diag_pub.publish(msg)

    def log_bond_hint(self) -> None:
        """Without autostart a lifecycle manager drives the node: say what bond needs."""
        if self._p("autostart"):
            return
        try:
            import bond  # noqa: F401 - only whether it is installed matters
        except ImportError:
            self.get_logger().info(
                "bond heartbeats are not available (no 'bond' package): run "
                "nav2_lifecycle_manager with bond_timeout: 0.0 for this node"
            )
        else:
            self.get_logger().warning(
                "the 'bond' package is installed but this node does not send bond "
                "heartbeats: run nav2_lifecycle_manager with bond_timeout: 0.0"
            )

    def _lifecycle_label(self) -> str:
        try:
            return self._state_machine.current_state[1]
        except AttributeError:
            return "unknown"


def _pct(values, q: float) -> str:
    return f"{np.percentile(np.asarray(values) * 1e3, q):.3f}" if len(values) else "n/a"


def install_stop_signals() -> threading.Event:
    """SIGINT/SIGTERM set the returned event instead of raising.

    rclpy's own handlers would shut the context down before a node could publish its final
    zero command, so the nodes init rclpy with ``SignalHandlerOptions.NO`` and use these.
    """
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def spin_until_signal(node, on_exit) -> None:
    """Spin ``node`` until SIGINT/SIGTERM or ROS shutdown, then call ``on_exit()``."""
    stop = install_stop_signals()
    executor = SingleThreadedExecutor(context=node.context)
    executor.add_node(node)
    try:
        while rclpy.ok(context=node.context) and not stop.is_set():
            executor.spin_once(timeout_sec=0.05)
    finally:
        try:
            on_exit()
        finally:
            executor.shutdown()
            node.destroy_node()
            rclpy.try_shutdown(context=node.context)


def main(args: list[str] | None = None) -> int:
    """Run the navigator node (``ros2 run compass_nav navigator``)."""
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    node = Navigator()
    if node.get_parameter("autostart").value:
        if node.trigger_configure() == TransitionCallbackReturn.SUCCESS:
            node.trigger_activate()
        elif node.get_parameter("exit_on_configure_failure").value:
            # A launch system (on_exit / respawn rules) or a supervisor must notice.
            node.get_logger().fatal(f"exiting with code 1: configure failed: {node._error}")
            node.destroy_node()
            rclpy.try_shutdown()
            return 1
    node.log_bond_hint()

    def on_exit() -> None:
        try:
            node.trigger_shutdown()  # on_shutdown publishes the zero command
        except Exception:  # already finalized, or the transition failed: stop anyway
            node.stop_robot("shutdown")

    spin_until_signal(node, on_exit)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
