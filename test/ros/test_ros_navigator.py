"""The navigator node over real DDS: a separate process, driven by a test-side node.

Each test starts its own navigator (scripted ``goal_seeker`` runtime, carter limits) on its
own ROS_DOMAIN_ID inside the private network namespace; the harness publishes camera,
odometry and goals and records cmd_vel (TwistStamped, stamped with the image that caused it),
goal_status and diagnostics.
"""

from __future__ import annotations

import signal
import time

import pytest
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
from ros_harness import Harness
from sensor_msgs.msg import CompressedImage
from std_srvs.srv import Trigger

from compass_nav.contract.body import get_embodiment

pytestmark = pytest.mark.ros

NAV = "compass_nav.ros.navigator_node"
# Reliable subscriptions to the harness's reliable publishers: each single message counts
# here (best-effort ones, the default, may lose what is sent right after matching; see
# test_ros_inputs.py for them).
PARAMS = dict(
    model="scripted:goal_seeker",
    embodiment="carter",
    cmd_vel_stamped=True,
    stale_timeout=0.3,
    image_qos="reliable",
    odom_qos="reliable",
    # Immediate zeros, answered to every image: these tests check each single stop command
    # (the decelerating, quiet-when-idle defaults are tested in test_ros_output.py).
    smooth_stop=False,
    publish_when_idle=True,
)
CARTER = get_embodiment("carter")


@pytest.fixture
def harness(domain_id):
    h = Harness(domain_id)
    yield h
    h.close()


def start_goal(
    h: Harness, x: float = 3.0, y: float = 0.0, yaw: float = 0.0, frame: str = "odom"
) -> None:
    h.publish_odom()
    h.publish_goal(x, y, yaw, frame)
    assert h.spin_until(
        lambda: h.last_status().get("state") == "active" and h.last_status().get("reason") == "",
        5.0,
    ), h.status


def moving(cmd) -> bool:
    return cmd is not None and cmd.twist.linear.x > 0.05


def is_zero(cmd) -> bool:
    t = cmd.twist
    return t.linear.x == 0.0 and t.linear.y == 0.0 and t.angular.z == 0.0


def zero_after(h: Harness, start: int, timeout: float = 3.0):
    """First zero command published after index ``start`` (None if none came)."""

    def found():
        return next((m for _, m in h.cmds[start:] if is_zero(m)), None)

    h.spin_until(lambda: found() is not None, timeout)
    return found()


def test_every_image_encoding_drives(launch, harness):
    launch(NAV, **PARAMS)
    harness.wait_for_navigator()
    start_goal(harness)
    cases = [
        ("rgb8", 0),
        ("bgr8", 0),
        ("rgba8", 0),
        ("bgra8", 0),
        ("mono8", 0),
        ("rgb8", 7),
        ("bgra8", 5),
        ("mono8", 3),
    ]
    for encoding, pad in cases:
        cmd = harness.drive_step(encoding=encoding, pad=pad)
        assert moving(cmd), f"{encoding} pad {pad}: {cmd} {harness.status} {harness.diag_values()}"
    # A diagnostics message from after these steps: no image was rejected.
    assert harness.spin_until(
        lambda: int(harness.diag_values().get("commands_published", 0)) >= len(cases), 3.0
    )
    assert harness.diag_values()["image_rejected"] == "0"


def test_compressed_images_drive(launch, harness):
    launch(NAV, image_transport="compressed", **PARAMS)
    harness.wait_for_navigator = lambda: None  # it subscribes image/compressed instead
    assert harness.spin_until(lambda: harness.compressed_pub.get_subscription_count() > 0, 30.0)
    start_goal(harness)
    for fmt in ("jpeg", "png", "jpeg"):
        cmd = harness.drive_step(compressed=fmt)
        assert moving(cmd), f"{fmt}: {cmd} {harness.status} {harness.diag_values()}"
    start = len(harness.cmds)
    harness.compressed_pub.publish(CompressedImage(format="jpeg", data=b"not a jpeg"))
    assert zero_after(harness, start) is not None
    assert moving(harness.drive_step(compressed="png"))


def test_bad_inputs_stop_safely_and_node_recovers(launch, harness):
    proc = launch(NAV, **PARAMS)
    harness.wait_for_navigator()
    start_goal(harness)
    assert moving(harness.drive_step())
    bad_images = {
        "short buffer": dict(data=b"\x01" * 10),
        "unknown encoding": dict(encoding="yuv422"),
        "tiny image": dict(width=4, height=4),
        "step < row": dict(step=10),
    }
    for what, kw in bad_images.items():
        start = len(harness.cmds)
        harness.publish_odom()
        harness.publish_image(**kw)
        assert zero_after(harness, start) is not None, f"{what}: no zero command"
        assert harness.spin_until(
            lambda: "bad image" in harness.last_status().get("reason", ""), 3.0
        ), f"{what}: {harness.status[-1]}"
        assert moving(harness.drive_step()), f"after {what}: not driving again"
    # NaN odometry.
    start = len(harness.cmds)
    harness.publish_odom(nan=True)
    assert zero_after(harness, start) is not None
    assert harness.spin_until(lambda: "bad odom" in harness.last_status().get("reason", ""))
    assert moving(harness.drive_step())
    # A goal in a frame the node cannot resolve: rejected, zero, no guess.
    harness.publish_goal(2.0, 1.0, 0.0, frame="map")
    assert harness.spin_until(lambda: harness.last_status().get("state") == "rejected")
    assert "'map'" in harness.last_status()["reason"]
    cmd = harness.drive_step()
    assert cmd is not None and is_zero(cmd)
    # A NaN goal is rejected too.
    harness.publish_goal(float("nan"), 0.0)
    assert harness.spin_until(lambda: "NaN" in harness.last_status().get("reason", ""))
    # The node is still alive and takes a valid goal, also in the robot frame.
    start_goal(harness, 2.0, 0.0, 0.0, frame="base_link")
    assert moving(harness.drive_step())
    assert proc.poll() is None
    assert harness.spin_until(lambda: int(harness.diag_values().get("image_rejected", 0)) >= 4)
    assert int(harness.diag_values()["odom_rejected"]) >= 1


@pytest.mark.slow
def test_stale_inputs_give_zero_velocity_within_timeout(launch, harness):
    launch(NAV, **PARAMS)
    harness.wait_for_navigator()
    start_goal(harness)
    for stale_topic in ("image", "odom"):
        for _ in range(3):
            assert moving(harness.drive_step())
        start, t_last = len(harness.cmds), time.monotonic()
        end = t_last + 1.0
        while time.monotonic() < end:  # keep the other input flowing at 20 Hz
            if stale_topic == "image":
                harness.publish_odom()
            else:
                harness.publish_image(stamp=harness.next_stamp())
            harness.spin(0.05)
        zero = next(((t, m) for t, m in harness.cmds[start:] if is_zero(m)), None)
        assert zero is not None, f"{stale_topic} stopped: no zero command"
        delay = zero[0] - t_last
        # stale_timeout 0.3 s + one watchdog period (0.1 s) + slack for a loaded machine.
        assert 0.2 < delay < 0.9, f"{stale_topic}: zero after {delay:.3f} s"
        assert f"{stale_topic} stale" in harness.diag_values().get(
            "stop_reason", ""
        ) or f"{stale_topic} stale" in harness.last_status().get("reason", "")
        for _ in range(3):  # fresh inputs: drives again
            harness.spin(0.02)
            cmd = harness.drive_step()
        assert moving(cmd)


def test_goal_reached_cancel_and_new_goal(launch, harness):
    launch(NAV, **PARAMS)
    harness.wait_for_navigator()
    # Goal within tolerance and heading: reached at once, zero command.
    start_goal(harness, 0.2, 0.0, 0.05)
    cmd = harness.drive_step()
    assert cmd is not None and is_zero(cmd)
    assert harness.spin_until(lambda: harness.last_status().get("state") == "reached")
    # A new goal: drives; cancel: stops and says so.
    start_goal(harness, 3.0, 1.0)
    assert moving(harness.drive_step())
    res = harness.call(Trigger, "/navigator/cancel", Trigger.Request())
    assert res.success
    assert harness.spin_until(lambda: harness.last_status().get("state") == "cancelled")
    assert is_zero(harness.drive_step())
    assert not harness.call(Trigger, "/navigator/cancel", Trigger.Request()).success


def test_parameter_validation_and_limits(launch, harness):
    launch(NAV, **PARAMS)
    harness.wait_for_navigator()
    rejected = {
        "max_vx": 5.0,  # beyond carter's 1.2 m/s
        "min_vx": -2.0,  # beyond carter's reverse limit
        "goal_tolerance": -1.0,  # outside the declared range
        "control_rate_hz": 5000.0,  # outside the declared range
        "stale_timeout": 0.0,
        "image_qos": "best_effort",  # read-only after start-up
        "trigger": "timer",  # read-only
    }
    for name, value in rejected.items():
        (res,) = harness.set_params("navigator", **{name: value})
        assert not res.successful, f"{name}={value!r} was accepted"
        assert res.reason, f"{name}: no reason given"
    (res,) = harness.set_params("navigator", max_vx=1)  # wrong type (integer)
    assert not res.successful
    (res,) = harness.set_params("navigator", max_vx=5.0)
    assert "carter" in res.reason
    (res,) = harness.set_params("navigator", max_vx=0.3)
    assert res.successful, res.reason
    start_goal(harness)
    vx = []
    for _ in range(12):
        cmd = harness.drive_step()
        assert cmd is not None
        vx.append(cmd.twist.linear.x)
        assert abs(cmd.twist.angular.z) <= CARTER.max_wz + 1e-6
        assert cmd.twist.linear.y == 0.0  # non-holonomic body
    assert max(vx) == pytest.approx(0.3, abs=1e-6)
    steps = [b - a for a, b in zip([0.0] + vx, vx, strict=False)]
    assert max(steps) <= CARTER.max_ax / 10.0 + 1e-6  # acceleration limit at 10 Hz


def test_bad_model_reports_error_and_keeps_running(launch, harness):
    proc = launch(
        NAV, model="/nonexistent/policy.onnx", embodiment="carter", exit_on_configure_failure=False
    )
    assert harness.spin_until(lambda: harness.diag_values().get("level") is not None, 30.0)
    values = harness.diag_values()
    assert values["level"] == b"\x02", values  # ERROR
    assert "/nonexistent/policy.onnx" in values["message"]
    assert proc.poll() is None


@pytest.mark.slow
def test_lifecycle_and_zero_command_on_shutdown(launch, harness):
    proc = launch(NAV, autostart=False, **PARAMS)

    def state() -> str:
        return harness.call(
            GetState, "/navigator/get_state", GetState.Request(), 30.0
        ).current_state.label

    def change(tid: int) -> bool:
        return harness.call(
            ChangeState,
            "/navigator/change_state",
            ChangeState.Request(transition=Transition(id=tid)),
        ).success

    assert state() == "unconfigured"
    assert change(Transition.TRANSITION_CONFIGURE)
    assert state() == "inactive"
    harness.wait_for_navigator()
    start_goal(harness)
    stamp = harness.tick()
    assert harness.cmd_for(stamp, timeout=0.5) is None  # inactive: no commands
    assert change(Transition.TRANSITION_ACTIVATE)
    assert state() == "active"
    for _ in range(3):
        cmd = harness.drive_step()
    assert moving(cmd)
    start = len(harness.cmds)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(10) == 0
    assert zero_after(harness, start, 2.0) is not None, "no zero command at shutdown"


@pytest.mark.slow
def test_timer_trigger_and_route_topic(launch, harness):
    from compass_nav.ros import conversions as conv

    launch(
        NAV,
        trigger="timer",
        control_rate_hz=20.0,
        **{k: v for k, v in PARAMS.items() if k != "stale_timeout"},
    )
    harness.wait_for_navigator()
    start_goal(harness, 3.0, 0.0)
    harness.route_pub.publish(
        conv.path_msg([[0.0, 0.0], [1.5, 1.0], [3.0, 0.0]], conv.sec_to_stamp(0.0), "odom")
    )
    start, t0 = len(harness.cmds), time.monotonic()
    while time.monotonic() - t0 < 1.5:  # inputs at 5 Hz; commands come from the 20 Hz timer
        harness.tick()
        harness.spin(0.2)
    n = len(harness.cmds) - start
    assert 20 <= n <= 40, f"{n} commands in 1.5 s at 20 Hz"
    assert moving(harness.cmds[-1][1])
    assert harness.spin_until(lambda: harness.diag_values().get("route") == "planned route")
    # A plan that does not end at the goal is not used.
    harness.route_pub.publish(
        conv.path_msg([[0.0, 0.0], [0.0, 4.0]], conv.sec_to_stamp(0.0), "odom")
    )
    for _ in range(30):  # keep inputs fresh so the timer keeps stepping
        harness.tick()
        harness.spin(0.1)
        if "route ignored" in harness.diag_values().get("route", ""):
            break
    assert "route ignored" in harness.diag_values()["route"], harness.diag_values()


@pytest.mark.slow
def test_sync_stamps_pairs_each_image_with_its_odometry(launch, harness):
    """sync_stamps (lockstep simulators): an image waits for the odometry of its own stamp;
    a rejected odometry of that stamp answers it with a stop; nothing else is published
    with a non-zero stamp (the wall-clock watchdog is off)."""
    from compass_nav.ros import conversions as conv

    launch(NAV, **PARAMS, sync_stamps=True)
    harness.wait_for_navigator()
    start_goal(harness)
    # Image first: no answer until the odometry carrying its stamp arrives.
    stamp = conv.sec_to_stamp(harness.stamp + 0.1)
    harness.publish_image(stamp=stamp)
    assert harness.cmd_for(stamp, timeout=0.5) is None
    harness.publish_odom(stamp)
    assert moving(harness.cmd_for(stamp))  # not stale: the odometry came 0.5 s later
    # Odometry of an older stamp does not complete a newer image's step.
    stamp = conv.sec_to_stamp(harness.stamp + 0.1)
    harness.publish_image(stamp=stamp)
    harness.publish_odom(conv.sec_to_stamp(harness.stamp - 0.05))
    assert harness.cmd_for(stamp, timeout=0.5) is None
    harness.publish_odom(stamp)
    assert moving(harness.cmd_for(stamp))
    # NaN odometry of the image's stamp: the answer is a stop, with that stamp.
    stamp = conv.sec_to_stamp(harness.stamp + 0.1)
    harness.publish_image(stamp=stamp)
    harness.publish_odom(stamp, nan=True)
    cmd = harness.cmd_for(stamp)
    assert cmd is not None and is_zero(cmd)
    assert moving(harness.drive_step())
    # Inputs stop: no watchdog command takes a sensor stamp.
    answered = {(m.header.stamp.sec, m.header.stamp.nanosec) for _, m in harness.cmds}
    start = len(harness.cmds)
    harness.spin_until(lambda: False, 1.0)
    for _, m in harness.cmds[start:]:
        t = (m.header.stamp.sec, m.header.stamp.nanosec)
        assert t == (0, 0) or t in answered, t
