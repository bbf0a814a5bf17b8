"""Lifecycle that launch systems notice, and several namespaced navigators side by side.

Real processes over real DDS: a navigator whose autostart configure fails exits with code 1
(``exit_on_configure_failure``), and two navigators in their own namespaces with their own
``frame_prefix`` each answer only their own inputs, with their own frames.
"""

from __future__ import annotations

import json

import pytest
from ros_harness import Harness

from compass_nav.ros import conversions as conv
from compass_nav.ros.sil import node_command

pytestmark = pytest.mark.ros

NAV = "compass_nav.ros.navigator_node"


def test_failed_configure_exits_non_zero(launch):
    proc = launch(NAV, model="/nonexistent/policy.onnx", embodiment="carter")
    assert proc.wait(60) == 1
    log = launch.logs()
    assert "configure failed" in log and "/nonexistent/policy.onnx" in log
    assert "exiting with code 1" in log


def test_unknown_embodiment_exits_non_zero_naming_it(launch):
    proc = launch(NAV, model="scripted:goal_seeker", embodiment="no_such_robot")
    assert proc.wait(60) == 1
    assert "no_such_robot" in launch.logs()


def test_node_command_passes_a_namespace():
    cmd = node_command(NAV, {"model": "x"}, namespace="/r1")
    assert cmd[-2:] == ["-r", "__ns:=/r1"]


@pytest.mark.slow
def test_two_namespaced_navigators_do_not_cross_talk(launch, domain_id):
    params = dict(
        model="scripted:goal_seeker",
        embodiment="carter",
        cmd_vel_stamped=True,
        image_qos="reliable",
        odom_qos="reliable",
        odom_frame="odom",
        base_frame="base_link",
    )
    launch(NAV, _namespace="/r1", frame_prefix="r1/", **params)
    launch(NAV, _namespace="/r2", frame_prefix="r2/", **params)
    r1 = Harness(domain_id, namespace="/r1")
    r2 = Harness(domain_id, namespace="/r2")
    try:
        r1.wait_for_navigator()
        r2.wait_for_navigator()
        # Odometry in the prefixed frames; r1 gets a goal in its own odometry frame.
        r1.publish_odom(frames=("r1/odom", "r1/base_link"))
        r1.publish_goal(3.0, 0.0, frame="r1/odom")
        assert r1.spin_until(lambda: r1.last_status().get("state") == "active", 5.0), r1.status
        moved = None
        for _ in range(5):
            stamp = conv.sec_to_stamp(r1.stamp + 0.1)
            r1.publish_odom(stamp, frames=("r1/odom", "r1/base_link"))
            r1.publish_image(stamp=stamp)
            moved = r1.cmd_for(stamp)
            r2.spin(0.05)
        assert moved is not None and moved.twist.linear.x > 0.05
        assert moved.header.frame_id == "r1/base_link"
        assert r1.last_status()["frame"] == "r1/odom"
        # r2 heard nothing of it: no command and no goal.
        r2.spin(0.5)
        assert not any(m.twist.linear.x != 0.0 for _, m in r2.cmds), r2.cmds
        assert r2.last_status().get("state") in (None, "idle"), r2.status
        # A goal in r1's frame sent to r2 is rejected by r2 (its frames are r2/...).
        r2.publish_odom(frames=("r2/odom", "r2/base_link"))
        r2.publish_goal(2.0, 0.0, frame="r1/odom")
        assert r2.spin_until(lambda: r2.last_status().get("state") == "rejected", 5.0)
        assert "'r1/odom'" in r2.last_status()["reason"]
        assert json.dumps(r1.last_status())  # r1 still fine
        assert r1.last_status()["state"] == "active"
    finally:
        r1.close()
        r2.close()
