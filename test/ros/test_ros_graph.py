"""The navigator in a robot's ROS graph: interface build, TF, Nav2 actions, start-up goals.

Unit tests of the transform buffer, the speed limit and the interface build script, then real
DDS tests (a separate navigator process per test, own ROS_DOMAIN_ID, inside the private
network namespace): a goal in a map frame resolved through TF in the sim loop, the
NavigateToPose action (feedback, success, cancel, preemption), FollowPath with a speed limit
on ``cmd_vel_nav``, and goals sent before the node is configured.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from compass_nav.ros import interfaces
from compass_nav.ros.actions import SpeedLimiter
from compass_nav.ros.tf_buffer import TransformBuffer, TransformError, apply_to_xyyaw

ROOT = Path(__file__).resolve().parents[2]
NAV = "compass_nav.ros.navigator_node"
BRIDGE = "compass_nav.ros.sim_bridge_node"
PARAMS = dict(
    model="scripted:goal_seeker",
    embodiment="carter",
    cmd_vel_stamped=True,
    stale_timeout=0.3,
    image_qos="reliable",
    odom_qos="reliable",
    # Immediate zeros, answered to every image (the decelerating, quiet-when-idle defaults
    # are tested in test_ros_output.py).
    smooth_stop=False,
    publish_when_idle=True,
)


def _quat(yaw: float):
    return (0.0, 0.0, math.sin(yaw / 2), math.cos(yaw / 2))


# ---------------------------------------------------------------------- transform buffer
def test_buffer_chains_static_and_interpolates_dynamic_transforms():
    b = TransformBuffer()
    b.set_transform("map", "odom", 0.0, (1.0, 2.0, 0.0), _quat(0.5), static=True)
    b.set_transform("odom", "base_link", 10.0, (0.0, 0.0, 0.0), _quat(0.0))
    b.set_transform("odom", "base_link", 11.0, (2.0, 0.0, 0.0), _quat(1.0))
    # map -> odom: a point given in map, expressed in odom (the inverse of the parent edge).
    x, y, yaw = apply_to_xyyaw(b.lookup("odom", "map"), (1.0, 0.0, 0.0))
    assert (x, y, yaw) == pytest.approx((-2 * math.sin(0.5), -2 * math.cos(0.5), -0.5))
    # Halfway between the samples: translation and rotation interpolated.
    tf = b.lookup("odom", "base_link", 10.5)
    assert tf.translation == pytest.approx([1.0, 0.0, 0.0])
    assert tf.yaw == pytest.approx(0.5)
    # Through the common ancestor: base_link in map.
    tf = b.lookup("map", "base_link", 11.0)
    assert tf.translation[:2] == pytest.approx([1 + 2 * math.cos(0.5), 2 + 2 * math.sin(0.5)])
    assert tf.yaw == pytest.approx(1.5)
    # Time 0 = newest; within the tolerance past the newest sample: the newest.
    assert b.lookup("odom", "base_link", 0.0).yaw == pytest.approx(1.0)
    assert b.lookup("odom", "base_link", 11.3, tolerance=0.5).yaw == pytest.approx(1.0)


def test_buffer_errors_name_frames_and_staleness():
    b = TransformBuffer()
    b.set_transform("odom", "base_link", 10.0, (0, 0, 0), _quat(0.0))
    b.set_transform("earth", "moon", 0.0, (0, 0, 0), _quat(0.0), static=True)
    with pytest.raises(TransformError, match=r"frame 'map' is unknown .*base_link, earth"):
        b.lookup("odom", "map")
    with pytest.raises(TransformError, match="not connected"):
        b.lookup("odom", "moon")
    with pytest.raises(TransformError, match=r"stale: newest at 10.000 s, 2.000 s before"):
        b.lookup("odom", "base_link", 12.0, tolerance=0.5)
    with pytest.raises(TransformError, match="quaternion not unit"):
        b.set_transform("odom", "x", 0.0, (0, 0, 0), (0, 0, 0, 2))


def test_speed_limit_percentage_absolute_and_off():
    s = SpeedLimiter()
    cmd = np.array([1.2, 0.0, 0.7])
    assert s.set(True, 50.0, 1.2) == "50% of max_vx = 0.6 m/s"
    assert s.apply(cmd) == pytest.approx([0.6, 0.0, 0.7])
    s.set(False, 0.3, 1.2)
    assert s.apply(np.array([0.3, 0.4, 0.0])) == pytest.approx([0.18, 0.24, 0.0])
    s.set(False, 0.0, 1.2)
    assert s.apply(cmd) is cmd
    with pytest.raises(ValueError, match="at most 100"):
        s.set(True, 150.0, 1.2)


# ---------------------------------------------------------------------- interface build
def _fake_packages(root: Path, packages: list[str]) -> None:
    """Importable stand-ins that provide what the nodes import (a sourced install's role)."""
    names = {
        "tf2_msgs": {"msg": ["TFMessage"]},
        "nav2_msgs": {"action": ["NavigateToPose", "FollowPath"], "msg": ["SpeedLimit"]},
    }
    for pkg in packages:
        for sub, classes in names[pkg].items():
            d = root / pkg / sub
            d.mkdir(parents=True)
            (root / pkg / "__init__.py").write_text("")
            (d / "__init__.py").write_text("".join(f"class {c}: pass\n" for c in classes))


def _build(tmp_path: Path, fake: list[str], *args: str) -> subprocess.CompletedProcess:
    site = tmp_path / "site"
    _fake_packages(site, fake)
    env = dict(
        os.environ, PYTHONPATH=f"{site}:{ROOT}", COMPASS_NAV_INTERFACES_WS=str(tmp_path / "ws")
    )
    return subprocess.run(
        [str(ROOT / "scripts" / "build_interfaces.sh"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_interface_build_skips_importable_packages(tmp_path):
    res = _build(tmp_path, ["tf2_msgs", "nav2_msgs"])
    assert res.returncode == 0, res.stderr
    assert f"tf2_msgs is importable ({tmp_path}/site/tf2_msgs): not built" in res.stdout
    assert "nav2_msgs is importable" in res.stdout
    assert "nothing to build" in res.stdout
    assert (tmp_path / "ws/install/.compass_nav_built").read_text() == ""
    assert not (tmp_path / "ws/build").exists()
    # Again: the stamp matches, nothing happens.
    again = _build(tmp_path / "again", ["tf2_msgs", "nav2_msgs"])
    assert again.returncode == 0 and "nothing to build" in again.stdout


def test_interface_build_would_build_only_the_missing_package(tmp_path):
    res = _build(tmp_path, ["tf2_msgs"], "--check")
    assert res.returncode == 0, res.stderr
    assert "tf2_msgs is importable" in res.stdout
    assert "would build: nav2_msgs" in res.stdout


def test_built_interfaces_have_the_documented_fields():
    assert interfaces.available("tf2_msgs"), interfaces.missing_text("tf2_msgs")
    assert interfaces.available("nav2_msgs"), interfaces.missing_text("nav2_msgs")
    from nav2_msgs.action import FollowPath, NavigateToPose
    from nav2_msgs.msg import SpeedLimit
    from tf2_msgs.msg import TFMessage

    assert TFMessage.get_fields_and_field_types() == {
        "transforms": "sequence<geometry_msgs/TransformStamped>"
    }
    assert NavigateToPose.Goal.get_fields_and_field_types() == {
        "pose": "geometry_msgs/PoseStamped",
        "behavior_tree": "string",
    }
    assert NavigateToPose.Result.get_fields_and_field_types() == {
        "error_code": "uint16",
        "error_msg": "string",
    }
    assert NavigateToPose.Feedback.get_fields_and_field_types() == {
        "current_pose": "geometry_msgs/PoseStamped",
        "navigation_time": "builtin_interfaces/Duration",
        "estimated_time_remaining": "builtin_interfaces/Duration",
        "number_of_recoveries": "int16",
        "distance_remaining": "float",
    }
    assert (NavigateToPose.Result.TF_ERROR, NavigateToPose.Result.TIMEOUT) == (9002, 9003)
    assert FollowPath.Goal.get_fields_and_field_types() == {
        "path": "nav_msgs/Path",
        "controller_id": "string",
        "goal_checker_id": "string",
        "progress_checker_id": "string",
    }
    assert FollowPath.Result.get_fields_and_field_types() == {
        "result": "std_msgs/Empty",
        "error_code": "uint16",
        "error_msg": "string",
    }
    assert FollowPath.Feedback.get_fields_and_field_types() == {
        "distance_to_goal": "float",
        "speed": "float",
    }
    assert (FollowPath.Result.INVALID_PATH, FollowPath.Result.CONTROLLER_TIMED_OUT) == (103, 107)
    assert SpeedLimit.get_fields_and_field_types() == {
        "header": "std_msgs/Header",
        "percentage": "boolean",
        "speed_limit": "double",
    }


# ---------------------------------------------------------------------- over DDS
@pytest.fixture
def harness(domain_id):
    from ros_harness import Harness

    h = Harness(domain_id)
    yield h
    h.close()


class ActionClients:
    """NavigateToPose / FollowPath clients on the harness node."""

    def __init__(self, h) -> None:
        assert interfaces.available("nav2_msgs"), interfaces.missing_text("nav2_msgs")
        from nav2_msgs.action import FollowPath, NavigateToPose
        from rclpy.action import ActionClient

        self.h = h
        self.nav = ActionClient(h.node, NavigateToPose, "navigate_to_pose")
        self.follow = ActionClient(h.node, FollowPath, "follow_path")
        self.NavigateToPose, self.FollowPath = NavigateToPose, FollowPath
        self.feedback: list = []

    def wait(self, timeout: float = 20.0) -> None:
        assert self.h.spin_until(
            lambda: self.nav.server_is_ready() and self.follow.server_is_ready(), timeout
        ), "action servers did not appear"

    def send(self, client, goal):
        fut = client.send_goal_async(goal, feedback_callback=lambda m: self.feedback.append(m))
        assert self.h.spin_until(fut.done, 10.0), "goal not answered"
        handle = fut.result()
        assert handle.accepted
        return handle, handle.get_result_async()

    def nav_goal(self, x: float, y: float, yaw: float = 0.0, frame: str = "odom"):
        from compass_nav.ros import conversions as conv

        g = self.NavigateToPose.Goal()
        g.pose.header.frame_id = frame
        g.pose.pose.position.x, g.pose.pose.position.y = x, y
        g.pose.pose.orientation = conv.quaternion_from_yaw(yaw)
        return self.send(self.nav, g)

    def result(self, fut, timeout: float = 10.0, drive=None):
        end = time.monotonic() + timeout
        while not fut.done() and time.monotonic() < end:
            if drive is not None:
                drive()
            self.h.spin(0.05)
        assert fut.done(), "no result"
        return fut.result()


def test_navigate_to_pose_feedback_preemption_cancel_success(launch, harness):
    from action_msgs.msg import GoalStatus

    launch(NAV, **PARAMS)
    ac = ActionClients(harness)
    ac.wait()
    harness.wait_for_navigator()
    harness.publish_odom()
    _, first = ac.nav_goal(3.0, 0.0)
    for _ in range(4):
        cmd = harness.drive_step()
    assert cmd is not None and cmd.twist.linear.x > 0.05
    assert harness.spin_until(lambda: len(ac.feedback) > 0, 3.0)
    fb = ac.feedback[-1].feedback
    assert fb.distance_remaining == pytest.approx(3.0, abs=0.05)
    assert fb.current_pose.header.frame_id == "odom"
    assert fb.estimated_time_remaining.sec >= 2  # 3 m at <= 1.2 m/s
    # Preemption: a new goal aborts the first, with the reason.
    h2, second = ac.nav_goal(1.0, 2.0)
    res = ac.result(first)
    assert res.status == GoalStatus.STATUS_ABORTED
    assert "preempted" in res.result.error_msg
    harness.drive_step()
    # Cancel: the robot stops, the goal ends canceled.
    cancel = h2.cancel_goal_async()
    assert harness.spin_until(cancel.done, 5.0)
    res = ac.result(second)
    assert res.status == GoalStatus.STATUS_CANCELED
    cmd = harness.drive_step()
    assert cmd is not None and cmd.twist.linear.x == 0.0
    # Success: the robot is at the goal.
    harness.pose = np.array([2.0, 1.0, 0.3])
    harness.publish_odom()
    _, third = ac.nav_goal(2.0, 1.0, 0.3)
    res = ac.result(third, drive=lambda: harness.drive_step(timeout=0.5))
    assert res.status == GoalStatus.STATUS_SUCCEEDED, res.result.error_msg
    assert res.result.error_code == 0
    # A goal in a frame without a transform: aborted with TF_ERROR and the reason.
    _, fourth = ac.nav_goal(1.0, 0.0, frame="nowhere")
    res = ac.result(fourth)
    assert res.status == GoalStatus.STATUS_ABORTED
    assert res.result.error_code == ac.NavigateToPose.Result.TF_ERROR
    assert "'nowhere' cannot be resolved" in res.result.error_msg


def test_follow_path_on_cmd_vel_nav_with_speed_limit(launch, harness):
    from action_msgs.msg import GoalStatus
    from geometry_msgs.msg import PoseStamped, TwistStamped
    from nav2_msgs.msg import SpeedLimit

    from compass_nav.ros import qos

    launch(NAV, **PARAMS)
    ac = ActionClients(harness)
    nav_cmds = []
    harness.node.create_subscription(
        TwistStamped, "cmd_vel_nav", lambda m: nav_cmds.append(m), qos.command()
    )
    limit_pub = harness.node.create_publisher(SpeedLimit, "speed_limit", qos.reliable())
    ac.wait()
    harness.wait_for_navigator()
    assert harness.spin_until(lambda: limit_pub.get_subscription_count() > 0, 5.0)
    limit_pub.publish(SpeedLimit(percentage=True, speed_limit=25.0))  # 0.3 m/s on carter
    harness.publish_odom()
    goal = ac.FollowPath.Goal()
    goal.path.header.frame_id = "odom"
    for x in (0.5, 1.0, 1.5, 2.0):
        p = PoseStamped()
        p.pose.position.x, p.pose.orientation.w = x, 1.0
        goal.path.poses.append(p)
    _, fut = ac.send(ac.follow, goal)
    n_cmd_vel = len(harness.cmds)
    for _ in range(15):
        harness.drive_step(timeout=0.5)
    assert nav_cmds, "no command on cmd_vel_nav"
    speeds = [m.twist.linear.x for m in nav_cmds]
    assert max(speeds) > 0.1 and max(speeds) <= 0.3 + 1e-6, speeds
    assert all(m.twist.linear.x == 0.0 for _, m in harness.cmds[n_cmd_vel:])
    assert harness.spin_until(lambda: any(f.feedback.distance_to_goal > 1.9 for f in ac.feedback))
    harness.pose = np.array([2.0, 0.0, 0.0])
    res = ac.result(fut, drive=lambda: harness.drive_step(timeout=0.5))
    assert res.status == GoalStatus.STATUS_SUCCEEDED, res.result.error_msg
    # An empty path: aborted as INVALID_PATH.
    _, fut = ac.send(ac.follow, ac.FollowPath.Goal())
    res = ac.result(fut)
    assert res.status == GoalStatus.STATUS_ABORTED
    assert res.result.error_code == ac.FollowPath.Result.INVALID_PATH


def test_goals_sent_before_configure_are_kept(launch, harness):
    """Action and topic goals that arrive while the node is unconfigured wait, then run."""
    from lifecycle_msgs.msg import Transition
    from lifecycle_msgs.srv import ChangeState

    launch(NAV, autostart=False, **PARAMS)
    ac = ActionClients(harness)
    ac.wait()  # the servers exist before configure
    assert harness.spin_until(lambda: harness.goal_pub.get_subscription_count() > 0, 10.0)
    harness.publish_goal(3.0, 0.0)  # topic goal first ...
    _, fut = ac.nav_goal(2.0, 0.0)  # ... then the action goal (the newest wins)
    harness.spin(0.3)
    assert not fut.done() and not ac.feedback
    for tid in (Transition.TRANSITION_CONFIGURE, Transition.TRANSITION_ACTIVATE):
        req = ChangeState.Request(transition=Transition(id=tid))
        assert harness.call(ChangeState, "/navigator/change_state", req, 30.0).success
    harness.wait_for_navigator()
    harness.publish_odom()
    assert harness.spin_until(lambda: len(ac.feedback) > 0, 5.0), "queued goal never started"
    cmd = harness.drive_step()
    assert cmd is not None and cmd.twist.linear.x > 0.05
    assert ac.feedback[-1].feedback.distance_remaining == pytest.approx(2.0, abs=0.05)
    harness.pose = np.array([2.0, 0.0, 0.0])
    res = ac.result(fut, drive=lambda: harness.drive_step(timeout=0.5))
    assert res.result.error_code == 0 and res.status == 4  # STATUS_SUCCEEDED


@pytest.mark.slow
def test_map_frame_goal_through_tf_reaches_goal_in_sim_loop(launch, domain_id):
    """The bridge publishes its goal and route in 'map' with a non-identity map -> odom on
    /tf_static; the navigator resolves them through TF and the episode succeeds."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from std_msgs.msg import String

    from compass_nav.ros import qos

    bridge = dict(
        embodiment="carter",
        family="office",
        split="heldout",
        seed=1,
        episodes=1,
        exit_when_done=True,
        realtime_factor=0.0,
        lockstep=True,
        cmd_vel_stamped=True,
        goal_frame="map",
        map_odom_x=4.0,
        map_odom_y=-3.0,
        map_odom_yaw=0.8,
    )
    nav = dict(PARAMS, use_sim_time=True, sync_stamps=True, stale_timeout=0.5)
    launch(NAV, **nav)
    proc = launch(BRIDGE, **bridge)
    ctx = rclpy.Context()
    rclpy.init(context=ctx, domain_id=domain_id)
    node = rclpy.create_node("observer", context=ctx)
    records, statuses = [], []
    node.create_subscription(
        String, "episode_status", lambda m: records.append(json.loads(m.data)), qos.latched(100)
    )
    node.create_subscription(
        String, "goal_status", lambda m: statuses.append(json.loads(m.data)), qos.latched()
    )
    ex = SingleThreadedExecutor(context=ctx)
    ex.add_node(node)
    try:
        end = time.monotonic() + 120.0
        while not records and time.monotonic() < end and proc.poll() is None:
            ex.spin_once(timeout_sec=0.1)
        ex.spin_once(timeout_sec=0.5)
    finally:
        ex.shutdown()
        node.destroy_node()
        rclpy.try_shutdown(context=ctx)
    assert records, f"no episode result; goal_status: {statuses[-3:]}"
    assert not any(s.get("state") == "rejected" for s in statuses), statuses
    assert records[0]["outcome"] == "success", records
