"""The navigator's command output over real DDS: decelerating stops, silence while idle, and
the safety layer fed by a LaserScan (the default depth source is covered in the sim loop,
test_ros_safety.py)."""

from __future__ import annotations

import math

import pytest
from ros_harness import Harness
from sensor_msgs.msg import LaserScan
from std_srvs.srv import Trigger

from compass_nav.contract.body import get_embodiment
from compass_nav.ros import qos

pytestmark = pytest.mark.ros

NAV = "compass_nav.ros.navigator_node"
CARTER = get_embodiment("carter")
PARAMS = dict(
    model="scripted:goal_seeker",
    embodiment="carter",
    cmd_vel_stamped=True,
    image_qos="reliable",
    odom_qos="reliable",
)


@pytest.fixture
def harness(domain_id):
    h = Harness(domain_id)
    yield h
    h.close()


def start(h: Harness) -> None:
    h.wait_for_navigator()
    h.publish_odom()
    h.publish_goal(5.0, 0.0)
    assert h.spin_until(lambda: h.last_status().get("state") == "active", 5.0), h.status


def test_cancel_decelerates_within_the_limit_then_goes_quiet(launch, harness):
    launch(NAV, **PARAMS)
    start(harness)
    for _ in range(6):
        cmd = harness.drive_step()
    top = cmd.twist.linear.x
    assert top > 0.5, top
    assert harness.call(Trigger, "/navigator/cancel", Trigger.Request()).success
    # Keep the sensors flowing: the ramp goes on with each image, then one zero, then quiet.
    speeds = []
    for _ in range(12):
        harness.tick()
        harness.spin(0.1)
    start_idx = next(i for i, (_, m) in enumerate(harness.cmds) if m.twist.linear.x == top)
    speeds = [m.twist.linear.x for _, m in harness.cmds[start_idx:]]
    steps = [a - b for a, b in zip(speeds, speeds[1:], strict=False)]
    assert max(steps) <= CARTER.max_ax / 10.0 + 1e-6, speeds  # never faster than the body
    assert speeds[-1] == 0.0 and speeds.count(0.0) == 1, speeds  # one final zero
    assert len(speeds) >= 1 + math.ceil(top / (CARTER.max_ax / 10.0)), speeds  # it ramped
    n = len(harness.cmds)
    for _ in range(5):
        harness.tick()
        harness.spin(0.1)
    assert len(harness.cmds) == n, "commands while idle"


def test_laser_scan_obstacle_stops_forward_motion_but_not_turning(launch, harness):
    launch(NAV, safety_sources="scan", **PARAMS)
    scan_pub = harness.node.create_publisher(LaserScan, "scan", qos.sensor())
    assert harness.spin_until(lambda: scan_pub.get_subscription_count() > 0, 30.0)
    start(harness)

    def scan(obstacle_x: float | None) -> None:
        msg = LaserScan(angle_min=-0.5, angle_max=0.5, angle_increment=0.1)
        msg.range_min, msg.range_max = 0.05, 10.0
        r = math.inf if obstacle_x is None else obstacle_x
        msg.ranges = [r] * 11
        msg.header.frame_id = "base_link"
        scan_pub.publish(msg)

    for _ in range(5):
        scan(None)
        cmd = harness.drive_step()
    assert cmd.twist.linear.x > 0.3
    # An obstacle 0.1 m ahead of the front edge: inside the 0.2 m stop zone.
    for _ in range(3):
        scan(0.35 + 0.1)
        harness.spin(0.05)
        cmd = harness.drive_step()
    assert cmd.twist.linear.x == 0.0
    # The goal lies to the left: turning away is allowed while translation is held.
    harness.publish_goal(0.0, 5.0)
    for _ in range(3):
        scan(0.35 + 0.1)
        cmd = harness.drive_step()
    assert cmd.twist.linear.x == 0.0 and cmd.twist.angular.z > 0.1
    assert harness.spin_until(
        lambda: int(harness.diag_values().get("safety_interventions", 0)) > 0, 3.0
    )
    values = harness.diag_values()
    assert "stop: obstacle" in values["safety_last_intervention"], values
    # The nearest scan point in the corridor: the ±0.5 rad rays, 0.45 cos(0.5) - 0.35 m.
    assert float(values["clearance_front_m"]) == pytest.approx(
        0.45 * math.cos(0.5) - 0.35, abs=0.01
    )
