"""Nav2-compatible action servers of the navigator: ``navigate_to_pose`` and ``follow_path``.

* ``navigate_to_pose`` (nav2_msgs/action/NavigateToPose): what RViz's "Nav2 Goal" tool,
  ``nav2_simple_commander.BasicNavigator.goToPose`` and Nav2's BT navigator clients send. The
  pose (any frame with a transform to the odometry frame) becomes the navigator's goal.
* ``follow_path`` (nav2_msgs/action/FollowPath): what Nav2's behaviour tree sends to its
  controller server. The path is the route and its last pose the goal; while it runs the
  commands go to ``follow_path_cmd_vel_topic`` (``cmd_vel_nav``, Nav2's controller output)
  instead of ``cmd_vel``.
* ``speed_limit`` (nav2_msgs/msg/SpeedLimit, as Nav2's speed filter publishes): caps the
  linear speed of every command, as a percentage of ``max_vx`` or in m/s; 0 lifts the cap.

One goal runs at a time: a new goal (from either action or the ``goal_pose`` topic) preempts
the running one, which is aborted with ``error_msg`` saying so. Cancel stops the robot and
ends the goal as canceled. Results: succeeded when the goal is reached (the navigator's
tolerances), aborted with an error code and ``error_msg`` otherwise (TF_ERROR for a frame
that does not resolve, INVALID_PATH for an empty or bad path, UNKNOWN for the rest).

Start-up: the servers exist from the node's construction, before the model is opened, so a
client sees them at once. A goal that arrives while the node configures is accepted and
waits; it starts as soon as the node is active. A goal for a node whose configure failed is
accepted and aborted at once with the configure error as ``error_msg`` (a client learns why,
which a bare rejection cannot carry).

Feedback (``action_feedback_rate_hz``): NavigateToPose gives ``current_pose`` (odometry
frame), ``distance_remaining`` (straight line to the goal), ``navigation_time`` and
``estimated_time_remaining`` (distance / mean speed so far, or / ``max_vx`` at first);
FollowPath gives ``distance_to_goal`` and ``speed``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
from geometry_msgs.msg import PoseStamped
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.clock import Clock, ClockType
from rclpy.task import Future

from compass_nav.ros import conversions as conv
from compass_nav.ros import qos

__all__ = ["NavActions", "SpeedLimiter"]


class SpeedLimiter:
    """The latest ``speed_limit``: a cap on the linear speed (vx, vy) of commands."""

    def __init__(self) -> None:
        self.limit = math.inf  # m/s
        self.note = "none"

    def set(self, percentage: bool, value: float, max_vx: float) -> str:
        """Apply a SpeedLimit message; returns a description, or raises ValueError."""
        if not math.isfinite(value) or value < 0.0:
            raise ValueError(f"speed_limit={value}: must be finite and >= 0")
        if value == 0.0:
            self.limit, self.note = math.inf, "none"
        elif percentage:
            if value > 100.0:
                raise ValueError(f"speed_limit={value}%: a percentage must be at most 100")
            self.limit = max_vx * value / 100.0
            self.note = f"{value:g}% of max_vx = {self.limit:.3g} m/s"
        else:
            self.limit, self.note = value, f"{value:g} m/s"
        return self.note

    def apply(self, cmd: np.ndarray) -> np.ndarray:
        """``cmd`` (vx, vy, wz) with its linear part scaled down to the limit."""
        v = math.hypot(cmd[0], cmd[1])
        if v <= self.limit:
            return cmd
        out = np.array(cmd, np.float64)
        out[:2] *= self.limit / v
        return out


@dataclass
class _Job:
    kind: str  # 'navigate' or 'follow'
    handle: object
    future: Future
    goal_msg: PoseStamped | None = None
    path_msg: object = None
    started: bool = False
    goal_id: int | None = None
    t_start: float = 0.0
    start_xy: tuple | None = None
    travelled: float = 0.0
    last_xy: tuple | None = None
    result: tuple = field(default_factory=tuple)


class NavActions:
    """The action servers and the speed-limit subscription, attached to a Navigator node."""

    def __init__(self, node) -> None:
        from nav2_msgs.action import FollowPath, NavigateToPose
        from nav2_msgs.msg import SpeedLimit

        self.node = node
        self.NavigateToPose, self.FollowPath = NavigateToPose, FollowPath
        self.speed = SpeedLimiter()
        self.job: _Job | None = None
        self._queue: list[_Job] = []
        self._steady = Clock(clock_type=ClockType.STEADY_TIME)
        common = dict(
            goal_callback=self._on_goal_request,
            handle_accepted_callback=self._on_accepted,
            cancel_callback=self._on_cancel_request,
        )
        self.servers = [
            ActionServer(
                node, NavigateToPose, "navigate_to_pose", self._execute_navigate, **common
            ),
            ActionServer(node, FollowPath, "follow_path", self._execute_follow, **common),
        ]
        self.speed_sub = node.create_subscription(
            SpeedLimit, "speed_limit", self._on_speed_limit, qos.reliable()
        )
        topic = node.get_parameter("follow_path_cmd_vel_topic").value
        self.follow_pub = (
            node.create_publisher(node._cmd_pub.msg_type, topic, qos.command()) if topic else None
        )
        rate = node.get_parameter("action_feedback_rate_hz").value
        self.timer = node.create_timer(1.0 / rate, self.tick, clock=self._steady)

    # ------------------------------------------------------------------ hooks for the node
    def command_publisher(self):
        """The publisher commands go to now: ``cmd_vel_nav`` while a FollowPath goal runs."""
        job = self.job
        if job is not None and job.kind == "follow" and self.follow_pub is not None:
            return self.follow_pub
        return None

    def limit(self, cmd: np.ndarray) -> np.ndarray:
        return self.speed.apply(cmd)

    # ------------------------------------------------------------------ callbacks
    def _on_speed_limit(self, msg) -> None:
        try:
            note = self.speed.set(
                bool(msg.percentage), float(msg.speed_limit), self.node._p("max_vx")
            )
        except ValueError as exc:
            self.node.get_logger().warning(f"speed_limit ignored: {exc}")
            return
        self.node.get_logger().info(f"speed limit: {note}")

    def _on_goal_request(self, request) -> GoalResponse:
        return GoalResponse.ACCEPT

    def _on_cancel_request(self, handle) -> CancelResponse:
        return CancelResponse.ACCEPT

    def _on_accepted(self, handle) -> None:
        handle.execute()

    async def _execute_navigate(self, handle):
        job = _Job("navigate", handle, Future(), goal_msg=handle.request.pose)
        return await self._run(job, self.NavigateToPose.Result())

    async def _execute_follow(self, handle):
        job = _Job("follow", handle, Future(), path_msg=handle.request.path)
        return await self._run(job, self.FollowPath.Result())

    async def _run(self, job: _Job, result):
        if self.job is not None:
            self._finish(self.job, "aborted", "UNKNOWN", "preempted by a new goal")
        for old in self._queue:
            self._finish(old, "aborted", "UNKNOWN", "preempted by a new goal")
        self._queue = [job]
        self.tick()
        state, code_name, text = await job.future
        result.error_code = getattr(result, code_name)
        result.error_msg = text
        handle = job.handle
        if state == "succeeded":
            handle.succeed()
        elif state == "canceled":
            handle.canceled()
        else:
            handle.abort()
        self.node.get_logger().info(
            f"{job.kind} goal {state}" + (f": {text}" if text else ""), throttle_duration_sec=0
        )
        return result

    def _finish(self, job: _Job, state: str, code: str, text: str) -> None:
        if job.future.done():
            return
        job.future.set_result((state, code if state != "succeeded" else "NONE", text))
        if self.job is job:
            self.job = None
        if job in self._queue:
            self._queue.remove(job)

    # ------------------------------------------------------------------ progress
    def _start(self, job: _Job) -> None:
        """Hand a queued goal to the navigator (the node is configured and active)."""
        node = self.node
        core = node.core
        job.started = True
        job.t_start = time.monotonic()
        if job.kind == "follow":
            path = job.path_msg
            if not path.poses:
                return self._finish(job, "aborted", "INVALID_PATH", "the path has no poses")
            goal = PoseStamped()
            goal.header = path.header
            goal.pose = path.poses[-1].pose
            if not goal.header.frame_id:
                goal.header.frame_id = path.poses[-1].header.frame_id
            job.goal_msg = goal
        before = core.goal_id
        why = node.submit_goal(job.goal_msg)
        if why:
            code = "TF_ERROR" if "frame" in why else "INVALID_PATH"
            if job.kind == "navigate":
                code = "TF_ERROR" if "frame" in why else "UNKNOWN"
            return self._finish(job, "aborted", code, why)
        if core.goal_id != before:
            job.goal_id = core.goal_id
        if job.kind == "follow":
            why = node.submit_route(job.path_msg)
            if why:
                core.cancel()
                return self._finish(job, "aborted", "INVALID_PATH", why)
        self.job = job
        self._queue.remove(job)

    def tick(self) -> None:
        """Start queued goals, follow the running one, publish feedback."""
        node = self.node
        if node.core is None and node._error:
            for job in list(self._queue):
                self._finish(
                    job, "aborted", "UNKNOWN", f"the navigator is not configured: {node._error}"
                )
            return
        if node.core is None or not node._active:
            return  # still starting: queued goals wait
        for job in list(self._queue):
            if job.handle.is_cancel_requested:
                self._finish(job, "canceled", "NONE", "cancelled before it started")
            elif not job.started:
                self._start(job)
        job = self.job
        if job is None:
            return
        core = node.core
        if job.goal_id is None:
            if node.goal_pending():
                return  # waiting for the first odometry
            job.goal_id = core.goal_id
        if job.handle.is_cancel_requested:
            if core.goal_id == job.goal_id:
                core.cancel()
                node._after_event()
            return self._finish(job, "canceled", "NONE", "cancelled on request")
        status = core.status()
        if status.goal_id != job.goal_id:
            return self._finish(job, "aborted", "UNKNOWN", "preempted by a goal on goal_pose")
        if status.state == "reached":
            return self._finish(job, "succeeded", "NONE", "")
        if status.state == "cancelled":
            return self._finish(job, "aborted", "UNKNOWN", "cancelled through ~/cancel")
        if status.state == "rejected":
            return self._finish(job, "aborted", "UNKNOWN", status.reason)
        self._feedback(job, status)

    def _feedback(self, job: _Job, status) -> None:
        core, node = self.node.core, self.node
        pose = core.pose
        if pose is None:
            return
        xy = (float(pose[0]), float(pose[1]))
        if job.last_xy is not None:
            job.travelled += math.hypot(xy[0] - job.last_xy[0], xy[1] - job.last_xy[1])
        job.last_xy = xy
        dist = float(status.distance) if math.isfinite(status.distance) else 0.0
        elapsed = time.monotonic() - job.t_start
        if job.kind == "navigate":
            fb = self.NavigateToPose.Feedback()
            fb.current_pose.header.frame_id = node._frame_names()[0]
            fb.current_pose.header.stamp = node.get_clock().now().to_msg()
            fb.current_pose.pose.position.x, fb.current_pose.pose.position.y = xy
            fb.current_pose.pose.orientation = conv.quaternion_from_yaw(float(pose[2]))
            fb.distance_remaining = dist
            fb.navigation_time = _duration(elapsed)
            mean = job.travelled / elapsed if elapsed > 1.0 else 0.0
            v = mean if mean > 0.05 else max(node._p("max_vx"), 0.05)
            fb.estimated_time_remaining = _duration(dist / v)
        else:
            fb = self.FollowPath.Feedback()
            fb.distance_to_goal = dist
            fb.speed = float(math.hypot(core.speed[0], core.speed[1]))
        job.handle.publish_feedback(fb)


def _duration(seconds: float):
    from builtin_interfaces.msg import Duration

    seconds = max(0.0, min(float(seconds), 2.0e9))
    sec = int(seconds)
    return Duration(sec=sec, nanosec=int((seconds - sec) * 1e9))
