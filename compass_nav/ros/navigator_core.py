"""The navigator's decision logic without ROS: inputs in, one safe command out.

:class:`NavigatorCore` owns the goal state machine, the input watchdog, the observation
assembly (through :mod:`compass_nav.ros.observation`) and the command limits; it calls a
:class:`compass_nav.runtime.PolicyRuntime` for the action and holds no ML code itself.
:mod:`compass_nav.ros.navigator_node` feeds it converted messages and publishes what
:meth:`NavigatorCore.step` returns, so every safety rule is unit-tested without DDS.

Goal states (the ``state`` field of ``goal_status``):
    ``idle``       no goal yet                     -> zero command
    ``active``     driving towards the goal         -> policy command, within limits
    ``stopped``    goal kept, but an input is stale or invalid, or the runtime failed
                   -> zero command; driving resumes (with a fresh recurrent state) once the
                   inputs are good again
    ``reached``    within goal_tolerance and heading_tolerance -> zero command, goal dropped
    ``cancelled``  cancelled through the service    -> zero command, goal dropped
    ``rejected``   the last goal could not be used (unknown frame, NaN) -> zero command

Stops are immediate zero commands (the base brakes within its own limits); only policy
commands go through the acceleration limiter, which starts again from zero after a stop.
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np

from compass_nav.contract.policy import PolicyRuntime
from compass_nav.ros.observation import (
    build_observation,
    goal_in_robot_frame,
    planned_route,
    straight_route,
)
from compass_nav.runtime import load_runtime
from compass_nav.runtime.scripted import ScriptedRuntime
from compass_nav.utils.config import check, check_positive, check_within
from compass_nav.utils.errors import CompassNavError, ModelError

__all__ = [
    "SCRIPTED_PREFIX",
    "CommandLimiter",
    "Decision",
    "GoalStatus",
    "NavigatorCore",
    "NavigatorSettings",
    "open_runtime",
]

#: ``model`` values starting with this name a scripted policy (tests, bring-up).
SCRIPTED_PREFIX = "scripted:"

STATES = ("idle", "active", "stopped", "reached", "cancelled", "rejected")


def open_runtime(model: str, embodiment: str) -> PolicyRuntime:
    """Open the policy runtime for the ``model`` parameter through the shared loader.

    Args:
        model: '' for the shipped default model, a model path, or ``scripted:<name>``.
        embodiment: Embodiment name or YAML path (the runtime clips actions to it).

    Raises:
        ModelError: the model cannot be opened (or the loader is not installed and the
            model is not a scripted one).
    """
    spec = model.strip()
    scripted = spec.startswith(SCRIPTED_PREFIX)
    name = spec[len(SCRIPTED_PREFIX) :] if scripted else spec
    try:
        return load_runtime(spec or None, embodiment)
    except CompassNavError as exc:
        raise ModelError(f"model={model!r}: {exc}") from None
    except ModuleNotFoundError as exc:
        if exc.name != "compass_nav.runtime.factory":
            raise
        if not scripted:
            raise ModelError(
                f"model={model!r}: the model loader (compass_nav.runtime.factory) is not "
                "installed, so only scripted models run (e.g. model:=scripted:goal_seeker)"
            ) from None

    try:
        return ScriptedRuntime(name)
    except (ValueError, CompassNavError) as exc:
        raise ModelError(f"model={model!r}: {exc}") from None


@dataclasses.dataclass(frozen=True)
class NavigatorSettings:
    """What the navigator enforces (validated on creation; the node builds it from params).

    Attributes:
        low, high: Command limits (vx, vy, wz), m/s and rad/s; ``low <= 0 <= high``.
        accel: Acceleration limits (ax, ay, awz), m/s^2 and rad/s^2, applied per step (0 holds
            that axis at its last value; used for the lateral axis of non-holonomic bodies).
        control_hz: Control rate; the limiter's time step is its period.
        goal_tolerance: Distance to the goal position that counts as reached, m.
        heading_tolerance: Heading error that counts as aligned, rad (> pi ignores heading).
        stale_timeout: Age after which an input counts as missing, s (wall clock).
        route_spacing: Metres between route waypoints (the model's training value).
        route_goal_match: A route is used only if it ends within this distance of the goal.
        needs_rgb, needs_depth: Which camera streams must be fresh to drive.
    """

    low: tuple[float, float, float]
    high: tuple[float, float, float]
    accel: tuple[float, float, float]
    control_hz: float = 10.0
    goal_tolerance: float = 0.5
    heading_tolerance: float = 0.1
    stale_timeout: float = 0.5
    route_spacing: float = 0.4
    route_goal_match: float = 1.0
    needs_rgb: bool = True
    needs_depth: bool = False

    def __post_init__(self) -> None:
        for i, axis in enumerate(("vx", "vy", "wz")):
            check(
                math.isfinite(self.low[i]) and self.low[i] <= 0.0,
                f"low.{axis}",
                self.low[i],
                "must be finite and <= 0",
            )
            check(
                math.isfinite(self.high[i]) and self.high[i] >= 0.0,
                f"high.{axis}",
                self.high[i],
                "must be finite and >= 0",
            )
            check(
                math.isfinite(self.accel[i]) and self.accel[i] >= 0.0,
                f"accel.{axis}",
                self.accel[i],
                "must be finite and >= 0",
            )
        check_within("control_hz", self.control_hz, 0.1, 1000, "Hz")
        check_positive("goal_tolerance", self.goal_tolerance)
        check_positive("heading_tolerance", self.heading_tolerance)
        check_positive("stale_timeout", self.stale_timeout)
        check_positive("route_spacing", self.route_spacing)
        check_positive("route_goal_match", self.route_goal_match)


class CommandLimiter:
    """Clamps commands to velocity limits and limits their change by acceleration * dt."""

    def __init__(self, settings: NavigatorSettings) -> None:
        self.configure(settings)
        self.last = np.zeros(3)

    def configure(self, settings: NavigatorSettings) -> None:
        """Take new limits (the last command is kept)."""
        self.low = np.array(settings.low, np.float64)
        self.high = np.array(settings.high, np.float64)
        self.max_delta = np.array(settings.accel, np.float64) / settings.control_hz

    def reset(self) -> None:
        """The robot was told to stop: the next command ramps up from zero."""
        self.last = np.zeros(3)

    def __call__(self, target: np.ndarray) -> np.ndarray:
        """Return the command to send for ``target`` (3,), always within the limits."""
        want = np.clip(np.asarray(target, np.float64), self.low, self.high)
        cmd = self.last + np.clip(want - self.last, -self.max_delta, self.max_delta)
        # Limits may have shrunk since the last command: clamp again.
        self.last = np.clip(cmd, self.low, self.high)
        return self.last.copy()


@dataclasses.dataclass(frozen=True)
class GoalStatus:
    """What ``goal_status`` reports; ``distance``/``heading_error`` are NaN when unknown."""

    state: str
    goal_id: int
    reason: str = ""
    distance: float = math.nan
    heading_error: float = math.nan

    def to_dict(self) -> dict:
        """JSON-friendly dict (NaN becomes None)."""
        d = dataclasses.asdict(self)
        for k in ("distance", "heading_error"):
            d[k] = None if math.isnan(d[k]) else round(d[k], 4)
        return d


@dataclasses.dataclass
class Decision:
    """One control step's outcome.

    Attributes:
        cmd: (3,) command to publish (vx, vy, wz).
        status: Goal status after this step.
        stepped: Whether the runtime ran (False for stops).
        path: (P, 2) predicted path in the robot frame, or None.
        route: (K, 2) route observation in the robot frame, or None.
        inference_s: Seconds spent in ``runtime.step`` (0 when it did not run).
    """

    cmd: np.ndarray
    status: GoalStatus
    stepped: bool = False
    path: np.ndarray | None = None
    route: np.ndarray | None = None
    inference_s: float = 0.0


@dataclasses.dataclass
class _Input:
    value: object = None
    received: float = -math.inf  # wall clock (time.monotonic) of the last good message
    fault: str = ""  # reason the last message was rejected ('' when it was fine)


class NavigatorCore:
    """Goal state machine + watchdog + limits around a policy runtime (no ROS, no ML).

    Args:
        runtime: The policy runtime; reset on every new goal and after every stop.
        descriptor: (D,) embodiment descriptor handed to the runtime each step.
        settings: Limits and tolerances (replace at run time with :meth:`configure`).
    """

    def __init__(
        self, runtime: PolicyRuntime, descriptor: np.ndarray, settings: NavigatorSettings
    ) -> None:
        self.runtime = runtime
        self.descriptor = np.asarray(descriptor, np.float32)
        self.settings = settings
        self.limiter = CommandLimiter(settings)
        self.inputs = {k: _Input() for k in ("image", "depth", "odom")}
        self.speed = np.zeros(3)
        self.goal: np.ndarray | None = None  # world (odometry-frame) goal (x, y, yaw)
        self.goal_id = 0
        self._state, self._reason = "idle", ""
        self._route: np.ndarray | None = None
        self._route_progress = 0
        self.route_note = "no route received: mapless"
        self._fresh_start = True

    # ------------------------------------------------------------------ configuration
    def warm_up(self) -> float:
        """Run the observation code and the runtime once on a dummy input, then reset.

        Loading compiled kernels and the model's first inference take far longer than a
        control period; doing it at configure time keeps the first real step on time.

        Returns:
            Seconds the warm-up took.
        """
        t0 = time.perf_counter()
        spec = self.runtime.spec
        pose, goal = np.zeros(3), np.array([2.0, 0.0, 0.0])
        route, _ = planned_route(
            np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]]),
            pose,
            goal,
            spec.route_points,
            self.settings.route_spacing,
        )
        straight_route(pose, goal, spec.route_points, self.settings.route_spacing)
        h, w = spec.image_height, spec.image_width
        obs = build_observation(
            np.zeros((h, w, 3), np.uint8) if spec.uses_rgb else None,
            np.zeros((h, w), np.float32) if spec.uses_depth else None,
            np.zeros(3),
            route,
            goal_in_robot_frame(pose, goal),
            self.descriptor,
        )
        self.runtime.reset()
        self.runtime.step(obs)
        self.runtime.reset()
        return time.perf_counter() - t0

    def configure(self, settings: NavigatorSettings) -> None:
        """Apply new limits/tolerances (parameter changes) without touching the goal."""
        self.settings = settings
        self.limiter.configure(settings)

    # ------------------------------------------------------------------ inputs
    def on_image(self, rgb: np.ndarray, now: float) -> None:
        """A decoded RGB image (H, W, 3) uint8 arrived at wall time ``now``."""
        self.inputs["image"] = _Input(rgb, now)

    def on_depth(self, depth: np.ndarray, now: float) -> None:
        """A depth image (H, W) float32 metres arrived."""
        self.inputs["depth"] = _Input(depth, now)

    def on_odometry(self, pose: np.ndarray, speed: np.ndarray, now: float) -> None:
        """Odometry pose (x, y, yaw) in the odometry frame and body speed (vx, vy, wz)."""
        self.inputs["odom"] = _Input(np.asarray(pose, np.float64), now)
        self.speed = np.asarray(speed, np.float64)

    def on_bad_input(self, kind: str, reason: str, now: float) -> None:
        """An ``image``/``depth``/``odom`` message was rejected: hold still until a good one."""
        self.inputs[kind].fault = reason

    def on_route(self, points: np.ndarray) -> None:
        """A global plan (M, 2) in the odometry frame (replaces the previous one)."""
        self._route = np.asarray(points, np.float64)
        self._route_progress = 0

    @property
    def pose(self) -> np.ndarray | None:
        """Latest odometry pose (x, y, yaw), or None before the first message."""
        return self.inputs["odom"].value  # type: ignore[return-value]

    # ------------------------------------------------------------------ goals
    def set_goal(self, goal: np.ndarray) -> None:
        """Start driving to ``goal`` (x, y, yaw) in the odometry frame."""
        self.goal = np.asarray(goal, np.float64)
        self.goal_id += 1
        self._route_progress = 0
        self._set_state("active")
        self._fresh_start = True

    def reject_goal(self, reason: str) -> None:
        """A goal message could not be used: drop any goal, stop, say why."""
        self.goal = None
        self.goal_id += 1
        self._set_state("rejected", reason)

    def cancel(self) -> bool:
        """Drop the current goal and stop; False if there was nothing to cancel."""
        if self.goal is None:
            return False
        self.goal = None
        self._set_state("cancelled", "cancelled on request")
        return True

    def status(self) -> GoalStatus:
        """The current goal status (distance and heading error when known)."""
        dist = head = math.nan
        if self.goal is not None and self.pose is not None:
            g = goal_in_robot_frame(self.pose, self.goal)
            dist, head = float(math.hypot(g[0], g[1])), float(abs(g[2]))
        return GoalStatus(self._state, self.goal_id, self._reason, dist, head)

    def _set_state(self, state: str, reason: str = "") -> None:
        self._state, self._reason = state, reason

    # ------------------------------------------------------------------ control
    def stop_reason(self, now: float) -> str:
        """Why driving is not allowed right now ('' if inputs are fresh and valid)."""
        needed = ["odom"]
        if self.settings.needs_rgb:
            needed.append("image")
        if self.settings.needs_depth:
            needed.append("depth")
        reasons = []
        for kind in needed:
            inp = self.inputs[kind]
            if inp.fault:
                reasons.append(f"bad {kind}: {inp.fault}")
            elif inp.received == -math.inf:
                reasons.append(f"no {kind} received yet")
            elif now - inp.received > self.settings.stale_timeout:
                reasons.append(f"{kind} stale (none for {self.settings.stale_timeout:g} s)")
        return "; ".join(reasons)

    def _stop(self, state: str, reason: str) -> Decision:
        self.limiter.reset()
        self._fresh_start = True
        self._set_state(state, reason)
        return Decision(np.zeros(3), self.status())

    def _route_observation(self, pose: np.ndarray, k: int) -> np.ndarray:
        s = self.settings
        if self._route is not None:
            miss = float(np.hypot(*(self._route[-1] - self.goal[:2])))
            if miss <= s.route_goal_match:
                self.route_note = "planned route"
                route, self._route_progress = planned_route(
                    self._route, pose, self.goal, k, s.route_spacing, self._route_progress
                )
                return route
            self.route_note = f"route ignored: it ends {miss:.2f} m from the goal: mapless"
        return straight_route(pose, self.goal, k, s.route_spacing)

    def step(self, now: float | None = None) -> Decision:
        """One control period: check goal and inputs, run the runtime, limit the command.

        Args:
            now: Wall time (``time.monotonic()``) used for input staleness.
        """
        now = time.monotonic() if now is None else now
        if self.goal is None:
            return self._stop(self._state, self._reason)
        why = self.stop_reason(now)
        if why:
            return self._stop("stopped", why)
        pose = self.pose
        g = goal_in_robot_frame(pose, self.goal)
        s = self.settings
        if math.hypot(g[0], g[1]) < s.goal_tolerance and abs(g[2]) < s.heading_tolerance:
            status = self.status()
            self.goal = None
            d = self._stop("reached", "")
            d.status = dataclasses.replace(status, state="reached", reason="")
            return d
        spec = self.runtime.spec
        obs = build_observation(
            self.inputs["image"].value if spec.uses_rgb else None,
            self.inputs["depth"].value if spec.uses_depth else None,
            self.speed,
            self._route_observation(pose, spec.route_points),
            g,
            self.descriptor,
        )
        if self._fresh_start:
            self.runtime.reset()
            self._fresh_start = False
        t0 = time.perf_counter()
        try:
            out = self.runtime.step(obs)
        except Exception as exc:  # a runtime failure must stop the robot, not the node
            return self._stop("stopped", f"runtime error: {type(exc).__name__}: {exc}")
        took = time.perf_counter() - t0
        action = np.asarray(out.action, np.float64).reshape(-1)
        if action.shape != (3,) or not np.isfinite(action).all():
            return self._stop("stopped", f"runtime returned an invalid action {action!r}")
        self._set_state("active")
        path = None if out.path is None else np.asarray(out.path)[0]
        return Decision(self.limiter(action), self.status(), True, path, obs["route"][0], took)
