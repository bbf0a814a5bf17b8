"""The navigator's camera and odometry inputs as real drivers publish them, over real DDS.

Best-effort (SensorDataQoS) publishers must drive the navigator with its default QoS, and a
needed input that never arrives must be reported (diagnostics ERROR naming the topic) while
the robot is held at zero velocity.
"""

from __future__ import annotations

import pytest
from diagnostic_msgs.msg import DiagnosticStatus
from nav_msgs.msg import Odometry
from ros_harness import Harness
from sensor_msgs.msg import Image

from compass_nav.ros import qos

pytestmark = pytest.mark.ros

NAV = "compass_nav.ros.navigator_node"


@pytest.fixture
def harness(domain_id):
    h = Harness(domain_id)
    yield h
    h.close()


def best_effort_sensors(h: Harness) -> None:
    """Replace the harness's camera and odometry publishers with best-effort ones."""
    n = h.node
    n.destroy_publisher(h.image_pub)
    n.destroy_publisher(h.odom_pub)
    h.image_pub = n.create_publisher(Image, "image", qos.sensor("best_effort"))
    h.odom_pub = n.create_publisher(Odometry, "odom", qos.sensor("best_effort"))


def test_best_effort_camera_and_odometry_drive_the_navigator(launch, harness):
    launch(NAV, model="scripted:goal_seeker", embodiment="carter", cmd_vel_stamped=True)
    best_effort_sensors(harness)
    harness.wait_for_navigator()
    harness.publish_goal(3.0, 0.0)
    # Best-effort: what is sent before the navigator's reader has matched ours is lost, so
    # keep publishing, as a driver does, until the commands move the robot.
    moved = False
    for _ in range(40):
        cmd = harness.drive_step(timeout=0.5)
        if cmd is not None and cmd.twist.linear.x > 0.05:
            moved = True
            break
    assert moved, harness.status
    start = harness.diag
    assert harness.spin_until(lambda: harness.diag is not start, 5.0)
    values = harness.diag_values()
    assert values["odom_age_s"] != "never" and values["image_age_s"] != "never", values
    assert values["missing_inputs"] == "", values


def test_reliable_odom_qos_does_not_match_a_best_effort_publisher(launch, harness):
    launch(NAV, model="scripted:goal_seeker", embodiment="carter", odom_qos="reliable")
    best_effort_sensors(harness)
    # The camera (default best_effort) matches; the reliable odometry subscription does not.
    assert harness.spin_until(lambda: harness.image_pub.get_subscription_count() > 0, 30.0)
    harness.spin(1.0)
    assert harness.odom_pub.get_subscription_count() == 0


def test_missing_depth_is_an_error_naming_the_topic(launch, harness):
    """The shipped model reads RGB and depth: odometry, RGB and a goal but no depth."""
    launch(NAV, model="", embodiment="carter", cmd_vel_stamped=True)
    harness.wait_for_navigator(timeout=60.0)
    harness.publish_odom()
    harness.publish_goal(3.0, 0.0)

    def depth_missing() -> bool:
        harness.tick()
        values = harness.diag_values()
        return values.get("level") == DiagnosticStatus.ERROR and "/depth" in values.get(
            "missing_inputs", ""
        )

    assert harness.spin_until(depth_missing, 15.0), harness.diag_values()
    values = harness.diag_values()
    assert "no message on /depth" in values["message"] and "needs depth" in values["message"]
    assert "/image" not in values["missing_inputs"] and "/odom" not in values["missing_inputs"]
    for _ in range(3):
        harness.drive_step(timeout=0.3)
    # Held at zero: one final zero, then quiet (publish_when_idle false), never a motion.
    assert harness.cmds, "no zero command at all"
    assert all(m.twist.linear.x == 0.0 and m.twist.angular.z == 0.0 for _, m in harness.cmds)
