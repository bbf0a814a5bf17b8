"""The embedded simulator as a ROS 2 node: what a robot's drivers would publish, simulated.

Entry point ``sim_bridge`` (setup.py) -> :func:`main`; started by ``launch/sim.launch.py``
and by the sim-in-the-loop tests (:mod:`compass_nav.ros.sil`). One
:class:`compass_nav.sim.env.NavVectorEnv` with ``num_envs=1`` is stepped at ``rate_hz`` of
simulated time with the latest ``cmd_vel`` (zero when older than ``cmd_timeout``), paced by
``realtime_factor`` or, with ``lockstep``, by the navigator's answers.

Lockstep pairs each observation with its answer. With ``cmd_vel_stamped`` only the first
command stamped with the observation's own stamp releases the step (an image-triggered
navigator stamps its command with the image's stamp, and with ``sync_stamps`` its
unsolicited commands with a zero stamp); any other command -- a late answer to an earlier
observation after a ``lockstep_timeout``, a zero from the navigator's watchdog -- is dropped
and counted. Without stamps any command releases the step, and one such extra command
shifts every later command by one step. A new episode's goal and route are acknowledged by
the subscribers before its first observation goes out, so a navigator that handles goals
before images (its subscription order) never steers the first step of an episode to the
old goal. Odometry, depth and image of one step share one stamp, but DDS may deliver them in
any order: a navigator with ``sync_stamps`` waits for all three. The first episode starts
once the navigator's sensor subscriptions are matched too.

Publishes (relative names): ``image`` (rgb8) + ``camera_info``, ``depth`` (32FC1, +inf = no
return), ``odom`` (nav_msgs/Odometry: pose in ``odom_frame``, body twist), ``/clock``,
``goal_pose`` (PoseStamped, latched, once per episode), ``route`` (nav_msgs/Path global plan,
latched, once per episode, planned mode) and ``episode_status`` (std_msgs/String JSON, one
per finished episode, latched depth 100). Services: ``~/reset`` (new scene and goal) and
``~/publish_goal`` (publish the current goal and route again). The simulator's world frame is
the odometry frame, so the navigator cannot tell the bridge from a robot. TF
(``odom -> base_link -> camera``, static ``map -> odom``), the static map, the footprint and
obstacle markers for RViz: :mod:`compass_nav.ros.sim_scene`.

The env autoresets on the step *after* an episode ends (gymnasium NEXT_STEP); the bridge
does not rely on that: it resets explicitly right away and publishes the new goal before the
new episode's first observation.
"""

from __future__ import annotations

import math
import time

import numpy as np
import rclpy
from geometry_msgs.msg import PoseStamped, Twist, TwistStamped
from nav_msgs.msg import Odometry, Path
from rcl_interfaces.msg import SetParametersResult
from rclpy.duration import Duration
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import String
from std_srvs.srv import Trigger

from compass_nav.contract.body import get_embodiment
from compass_nav.planner import grid
from compass_nav.ros import conversions as conv
from compass_nav.ros import qos
from compass_nav.ros.params import check_value, declare, sim_bridge_params
from compass_nav.ros.sim_scene import SceneTopics
from compass_nav.sim.env import NavVectorEnv
from compass_nav.sim.mdp.terminations import episode_outcome
from compass_nav.sim.scenes import GRID_CELLS
from compass_nav.utils import jsonsafe

__all__ = ["SimBridge", "main"]

_T0 = 1.0  # simulated time of the first observation (stamps of 0 read as "unset")
#: s the first goal in lockstep waits for the static transforms to reach the navigator.
STATIC_WAIT_S = 2.0


class SimBridge(Node):
    """One simulated robot on ROS 2 topics (see the module docstring)."""

    def __init__(self, node_name: str = "sim_bridge", **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        self._specs = {s.name: s for s in sim_bridge_params()}
        declare(self, list(self._specs.values()))
        for name, spec in self._specs.items():
            why = check_value(spec, self._p(name))
            if why:
                raise ValueError(why)
        self.add_on_set_parameters_callback(self._validate)
        self.body = get_embodiment(self._p("embodiment"))
        self.env = NavVectorEnv(
            num_envs=1,
            embodiments=(self._p("embodiment"),),
            families=(self._p("family"),),
            split=self._p("split"),
            image_height=self._p("image_height"),
            image_width=self._p("image_width"),
            render_depth=self._p("publish_depth"),
            route_mode="planned",
            control_hz=self._p("rate_hz"),
            max_episode_steps=self._p("max_episode_steps"),
        )
        self.dt = self.env.cfg.dt
        self.sim_time = _T0
        self.episode = 0
        self.outcomes: list[dict] = []
        self._obs: dict | None = None
        self._cmd = np.zeros(3)
        self._cmd_wall = -math.inf
        self._published_wall = -math.inf
        self._cmd_since_obs = False
        self._lockstep = self._p("lockstep")  # read-only
        self._static_delivered = False
        self._obs_stamp: tuple[int, int] | None = None
        self.dropped_commands = 0
        self._reset_requested = False

        sensor = qos.sensor("reliable")
        self._clock_pub = self.create_publisher(Clock, "/clock", qos.sensor("reliable"))
        self._odom_pub = self.create_publisher(Odometry, "odom", sensor)
        self._image_pub = self.create_publisher(Image, "image", sensor)
        self._info_pub = self.create_publisher(CameraInfo, "camera_info", sensor)
        self._depth_pub = (
            self.create_publisher(Image, "depth", sensor) if self._p("publish_depth") else None
        )
        self._goal_pub = self.create_publisher(PoseStamped, "goal_pose", qos.latched())
        self._route_pub = self.create_publisher(Path, "route", qos.latched())
        self._episode_pub = self.create_publisher(String, "episode_status", qos.latched(100))
        stamped = self._p("cmd_vel_stamped")
        self.create_subscription(
            TwistStamped if stamped else Twist, "cmd_vel", self._on_cmd, qos.command()
        )
        prefix = self._p("frame_prefix")
        self.frames = {
            k: prefix + self._p(f"{k}_frame") for k in ("odom", "base", "camera", "map")
        }
        self.scene = SceneTopics(self, self.frames)
        self.scene.publish_static(self.body, conv.sec_to_stamp(_T0))
        self.create_service(Trigger, "~/reset", self._on_reset)
        self.create_service(Trigger, "~/publish_goal", self._on_publish_goal)

    def _p(self, name: str):
        return self.get_parameter(name).value

    def _validate(self, params) -> SetParametersResult:
        for prm in params:
            spec = self._specs.get(prm.name)
            why = check_value(spec, prm.value) if spec else ""
            if why:
                return SetParametersResult(successful=False, reason=why)
        return SetParametersResult(successful=True)

    # ------------------------------------------------------------------ callbacks
    def _on_cmd(self, msg) -> None:
        if isinstance(msg, TwistStamped) and self._lockstep:
            s = msg.header.stamp
            if (s.sec, s.nanosec) != self._obs_stamp or self._cmd_since_obs:
                self.dropped_commands += 1  # not the (first) answer to this observation
                return
        t = msg.twist if isinstance(msg, TwistStamped) else msg
        cmd = np.array([t.linear.x, t.linear.y, t.angular.z])
        # The simulator zeroes non-finite actions itself; keep them out of the bridge too.
        self._cmd = cmd if np.isfinite(cmd).all() else np.zeros(3)
        self._cmd_wall = time.monotonic()
        self._cmd_since_obs = True

    def _on_reset(self, request, response):
        self._reset_requested = True
        response.success, response.message = True, "a new episode starts at the next step"
        return response

    def _on_publish_goal(self, request, response):
        if self._obs is None:
            response.success, response.message = False, "no episode yet"
        else:
            self._publish_goal()
            response.success, response.message = True, f"episode {self.episode} goal published"
        return response

    # ------------------------------------------------------------------ episodes
    def _stamp(self):
        return conv.sec_to_stamp(self.sim_time)

    def _publish_goal(self) -> None:
        if self._lockstep and not self._static_delivered:
            self.scene.wait_static_delivered(STATIC_WAIT_S)
            self._static_delivered = True
        stamp = self._stamp()
        frame, g = self.scene.goal_frame(self.env.goal[:1])
        g = g[0]
        msg = PoseStamped()
        msg.header.stamp, msg.header.frame_id = stamp, frame
        msg.pose.position.x, msg.pose.position.y = float(g[0]), float(g[1])
        msg.pose.orientation = conv.quaternion_from_yaw(float(g[2]))
        self._goal_pub.publish(msg)
        if self._p("route_mode") == "planned":
            pose = self.env.pose[0]
            plan = grid.descend_path(self.env.cost_to_go[0], pose[0], pose[1], 4 * GRID_CELLS)
            # Like the simulator's own route: skip the cell centre under the robot.
            pts = np.vstack([pose[None, :2], plan[1:], self.env.goal[0][None, :2]])
            pts = self.scene.goal_frame(pts)[1]
            self._route_pub.publish(conv.path_msg(pts, stamp, frame))
        if self._lockstep:
            self._goal_pub.wait_for_all_acked(Duration(seconds=1.0))
            self._route_pub.wait_for_all_acked(Duration(seconds=1.0))

    def _start_episode(self, obs: dict) -> None:
        self.episode += 1
        self._obs = obs
        self.scene.publish_episode(self.env, self.body, self._stamp())
        self._publish_goal()
        self.get_logger().info(
            f"episode {self.episode}: {self.body.name} in {self.env.env_family[0]} scene "
            f"{int(self.env.scene_seed[0])}, goal {self.env.ref_length[0]:.1f} m away"
        )

    def _publish_observation(self) -> None:
        stamp = self._stamp()
        cam, base, odom = (self.frames["camera"], self.frames["base"], self.frames["odom"])
        self.scene.publish_pose(self.env.pose[0], stamp)
        self._clock_pub.publish(Clock(clock=stamp))
        self._odom_pub.publish(
            conv.odometry_msg(self.env.pose[0], self.env.vel[0], stamp, odom, base)
        )
        if self._depth_pub is not None:
            self._depth_pub.publish(conv.depth_to_msg(self._obs["depth"][0], stamp, cam))
        h, w = self._obs["rgb"].shape[1:3]
        self._info_pub.publish(
            conv.camera_info(w, h, math.radians(self.body.camera_hfov_deg), stamp, cam)
        )
        self._cmd_since_obs = False
        self._obs_stamp = (stamp.sec, stamp.nanosec)
        self._image_pub.publish(conv.rgb_to_msg(self._obs["rgb"][0], stamp, cam))
        self._published_wall = time.monotonic()

    def _finish_episode(self, info: dict, outcome: str | None = None) -> None:
        ep = info["episode"] if info else None
        if outcome is None:
            outcome = episode_outcome(info, 0)
        g, p = self.env.goal[0], self.env.pose[0]
        record = {
            "episode": self.episode,
            "outcome": outcome,
            "embodiment": self.body.name,
            "family": str(self.env.env_family[0]),
            "scene_seed": int(self.env.scene_seed[0]),
            "steps": int(ep["l"][0]) if ep else int(self.env.steps[0]),
            "time": round(float(ep["time"][0]), 3) if ep else None,
            "spl": round(float(ep["spl"][0]), 4) if ep else None,
            "path_length": round(float(ep["path_length"][0]), 3) if ep else None,
            "ref_length": round(float(self.env.ref_length[0]), 3),
            "final_distance": round(float(math.hypot(g[0] - p[0], g[1] - p[1])), 3),
        }
        self.outcomes.append(record)
        self._episode_pub.publish(String(data=jsonsafe.dumps(record)))
        self.get_logger().info(f"episode {self.episode}: {outcome} after {record['steps']} steps")

    def _done(self) -> bool:
        n = self._p("episodes")
        return n > 0 and len(self.outcomes) >= n

    def step(self) -> None:
        """Advance the simulation one control period and publish what the robot sees."""
        now = time.monotonic()
        cmd = self._cmd if now - self._cmd_wall <= self._p("cmd_timeout") else np.zeros(3)
        obs, _, _, _, info = self.env.step(cmd[None])
        self.sim_time += self.dt
        self._obs = obs
        if info["_episode"][0]:
            self._finish_episode(info)
            if self._done():
                return
            obs, _ = self.env.reset()
            self._start_episode(obs)
        self._publish_observation()

    def request_reset_now(self) -> None:
        """Abort the current episode (outcome 'reset') and start a new one."""
        self._reset_requested = False
        self._finish_episode({}, "reset")
        if self._done():
            return
        obs, _ = self.env.reset()
        self._start_episode(obs)
        self._publish_observation()

    # ------------------------------------------------------------------ main loop
    @staticmethod
    def wait_for_subscribers(
        executor, pub, count: int, timeout_s: float, should_stop=lambda: False
    ) -> None:
        """Spin until ``pub`` has ``count`` subscribers, ``timeout_s`` passed or a stop."""
        until = time.monotonic() + timeout_s
        while (
            not should_stop() and pub.get_subscription_count() < count and time.monotonic() < until
        ):
            executor.spin_once(timeout_sec=0.05)

    def run(self, executor, should_stop) -> None:
        """Wait for a navigator, then step until ``should_stop()`` or the episodes run out."""
        obs, _ = self.env.reset(seed=self._p("seed"))
        if self._p("wait_for_navigator"):
            self.get_logger().info("waiting for a subscriber on goal_pose")
            self.wait_for_subscribers(executor, self._goal_pub, 1, math.inf, should_stop)
            # The navigator subscribes to goal and route first, then to its sensors: wait
            # for those too, or the first observations of the run may go unheard.
            for pub in (self._odom_pub, self._depth_pub, self._image_pub):
                if pub is not None:
                    self.wait_for_subscribers(executor, pub, 1, 10.0, should_stop)
        self.wait_for_subscribers(
            executor, self._image_pub, self._p("min_image_subscribers"), 10.0, should_stop
        )
        self._start_episode(obs)
        self._publish_observation()
        next_due = time.monotonic()
        while not should_stop() and not self._done():
            now = time.monotonic()
            rtf = self._p("realtime_factor")
            period = self.dt / rtf if rtf > 0 else 0.0  # wall seconds per step
            wait = next_due - now if rtf > 0 else 0.0
            if self._lockstep and not self._cmd_since_obs:
                wait = max(wait, self._published_wall + self._p("lockstep_timeout") - now)
            if self._reset_requested:
                self.request_reset_now()
                next_due = time.monotonic() + period
                continue
            if wait > 0:
                executor.spin_once(timeout_sec=min(wait, 0.05))
                continue
            executor.spin_once(timeout_sec=0.0)
            self.step()
            # Behind schedule (slow step): catch up by at most one period, never in a burst.
            next_due = max(next_due + period, time.monotonic() - period)
        if self._done():
            wins = sum(o["outcome"] == "success" for o in self.outcomes)
            dropped = (
                f"; {self.dropped_commands} commands that answered no current observation dropped"
                if self.dropped_commands
                else ""
            )
            self.get_logger().info(
                f"done: {wins}/{len(self.outcomes)} episodes succeeded{dropped}"
            )


def main(args: list[str] | None = None) -> int:
    """Run the sim bridge node (``ros2 run compass_nav sim_bridge``)."""
    from compass_nav.ros.navigator_node import install_stop_signals

    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    stop = install_stop_signals()
    node = SimBridge()
    executor = SingleThreadedExecutor(context=node.context)
    executor.add_node(node)
    try:
        node.run(executor, stop.is_set)
        if node._done() and not node._p("exit_when_done"):
            while rclpy.ok(context=node.context) and not stop.is_set():
                executor.spin_once(timeout_sec=0.05)
        # Let latched episode results reach their subscribers before leaving: a listener
        # that has not been discovered yet would lose them with this process.
        if node._done() and node._p("exit_when_done"):
            node.wait_for_subscribers(executor, node._episode_pub, 1, 5.0)
        node._episode_pub.wait_for_all_acked(Duration(seconds=2.0))
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown(context=node.context)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
