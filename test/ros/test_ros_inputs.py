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
    # Held at zero: never a motion (the single zero of an idle navigator may have gone out
    # before this harness matched; with publish_when_idle false nothing repeats it).
    assert all(m.twist.linear.x == 0.0 and m.twist.angular.z == 0.0 for _, m in harness.cmds)


@pytest.fixture(scope="module")
def rgb_only_onnx(tmp_path_factory):
    """A small untrained X-Mobility model with use_depth=False, exported to ONNX."""
    import dataclasses

    import torch

    from compass_nav.export.onnx_export import export_onnx
    from compass_nav.il.runner import model_payload
    from compass_nav.models.xmobility import XMobility, preset
    from compass_nav.runtime.sources import load_exportable
    from compass_nav.utils.atomic import atomic_save_torch

    out = tmp_path_factory.mktemp("rgb_only")
    torch.manual_seed(0)
    model = XMobility(dataclasses.replace(preset("debug"), use_depth=False))
    atomic_save_torch(model_payload(model, step=0), out / "model.pt")
    path = out / "rgb_only.onnx"
    export_onnx(load_exportable(out / "model.pt"), path, command="test rgb_only_onnx")
    return path


@pytest.mark.slow
def test_rgb_only_model_drives_with_only_an_rgb_camera(launch, harness, rgb_only_onnx):
    """No depth publisher at all: the model declares no depth input, so the navigator
    subscribes RGB and odometry only, reports nothing missing and commands motion."""
    from compass_nav.runtime.onnx_runtime import read_onnx_metadata

    meta = read_onnx_metadata(rgb_only_onnx)
    assert meta.spec.uses_rgb and not meta.spec.uses_depth
    assert "depth" not in [t.name for t in meta.inputs]
    launch(
        NAV,
        model=str(rgb_only_onnx),
        embodiment="carter",
        cmd_vel_stamped=True,
        image_qos="reliable",
        odom_qos="reliable",
    )
    harness.wait_for_navigator(timeout=60.0)
    harness.publish_odom()
    harness.publish_goal(3.0, 0.0)
    assert harness.spin_until(lambda: harness.last_status().get("state") == "active", 10.0)
    cmds = [harness.drive_step() for _ in range(5)]
    assert all(c is not None for c in cmds), harness.status
    assert any(abs(c.twist.linear.x) > 1e-3 or abs(c.twist.angular.z) > 1e-3 for c in cmds)
    assert harness.spin_until(lambda: harness.diag_values().get("missing_inputs") == "", 5.0)
    assert "inputs rgb odom" in launch.logs()
    # The default safety source (depth) never published: said once, loudly, with the topic.
    assert harness.spin_until(
        lambda: "safety source depth: no message on /depth" in launch.logs(), 5.0
    )
    assert harness.diag_values()["safety_sources_silent"] == "depth"
