"""Sim bridge + navigator as separate processes over DDS: the bridge's topics and services,
and goals reached on several embodiments (scripted goal_seeker following the bridge's
planned route until the shipped model exists).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import rclpy
from geometry_msgs.msg import PoseStamped, Twist
from nav_msgs.msg import Odometry, Path
from rclpy.executors import SingleThreadedExecutor
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import String
from std_srvs.srv import Trigger

from compass_nav.ros import conversions as conv
from compass_nav.ros import qos
from compass_nav.ros.sil import SilConfig, run_sim_in_the_loop, success_line, summary_table

pytestmark = pytest.mark.ros

BODIES = ("carter", "omnibase", "spot", "h1", "scout")  # wheeled, holonomic, legged, held out


def test_bridge_topics_and_services(launch, domain_id):
    launch(
        "compass_nav.ros.sim_bridge_node",
        embodiment="spot",
        family="office",
        wait_for_navigator=False,
        realtime_factor=5.0,
        image_width=48,
        image_height=32,
    )
    ctx = rclpy.Context()
    rclpy.init(context=ctx, domain_id=domain_id)
    node = rclpy.create_node("probe", context=ctx)
    got: dict[str, list] = {
        k: [] for k in ("goal", "route", "image", "depth", "info", "odom", "clock", "episode")
    }
    subs = [
        (PoseStamped, "goal_pose", "goal", qos.latched()),
        (Path, "route", "route", qos.latched()),
        (Image, "image", "image", qos.sensor()),
        (Image, "depth", "depth", qos.sensor()),
        (CameraInfo, "camera_info", "info", qos.sensor()),
        (Odometry, "odom", "odom", qos.sensor()),
        (Clock, "/clock", "clock", qos.sensor()),
        (String, "episode_status", "episode", qos.latched(100)),
    ]
    for typ, topic, key, profile in subs:
        node.create_subscription(typ, topic, lambda m, k=key: got[k].append(m), profile)
    cmd_pub = node.create_publisher(Twist, "cmd_vel", qos.command())
    ex = SingleThreadedExecutor(context=ctx)
    ex.add_node(node)

    def spin_until(pred, timeout=20.0):
        import time

        end = time.monotonic() + timeout
        while time.monotonic() < end and not pred():
            ex.spin_once(timeout_sec=0.02)
        return pred()

    def call(name):
        client = node.create_client(Trigger, name)
        assert client.wait_for_service(timeout_sec=20.0), name
        fut = client.call_async(Trigger.Request())
        assert spin_until(fut.done, 10.0)
        return fut.result()

    try:
        assert spin_until(
            lambda: (
                all(len(got[k]) >= 3 for k in ("image", "depth", "odom", "clock", "info"))
                and got["goal"]
                and got["route"]
            )
        )
        img, depth, info = got["image"][-1], got["depth"][-1], got["info"][-1]
        assert (img.encoding, img.width, img.height) == ("rgb8", 48, 32)
        assert conv.image_to_rgb(img).shape == (32, 48, 3)
        assert depth.encoding == "32FC1" and conv.depth_to_metres(depth).max() > 0
        assert info.k[2] == 24.0 and info.header.stamp == img.header.stamp
        t = [conv.stamp_to_sec(c.clock) for c in got["clock"][-3:]]
        np.testing.assert_allclose(np.diff(t), 0.1, atol=1e-6)  # 10 Hz of simulated time
        goal, route = got["goal"][-1], conv.path_to_points(got["route"][-1])
        assert goal.header.frame_id == "odom" == got["odom"][-1].header.frame_id
        assert got["odom"][-1].child_frame_id == "base_link"
        g = (goal.pose.position.x, goal.pose.position.y)
        assert math.dist(route[-1], g) < 1e-6  # the plan ends at the goal
        # A forward command moves the body (odometry twist in the body frame).
        for _ in range(10):
            cmd_pub.publish(conv.twist_msg(np.array([0.5, 0.0, 0.0]), stamped=False))
            ex.spin_once(timeout_sec=0.05)
        assert spin_until(lambda: got["odom"][-1].twist.twist.linear.x > 0.1, 5.0)
        # Reset: the episode is reported and a new goal arrives.
        n_goals = len(got["goal"])
        assert call("/sim_bridge/reset").success
        assert spin_until(lambda: got["episode"] and len(got["goal"]) > n_goals)
        record = json.loads(got["episode"][-1].data)
        assert record["outcome"] == "reset" and record["embodiment"] == "spot"
        assert record["family"] == "office"
        n_goals = len(got["goal"])
        assert call("/sim_bridge/publish_goal").success
        assert spin_until(lambda: len(got["goal"]) > n_goals)
    finally:
        ex.shutdown()
        node.destroy_node()
        rclpy.try_shutdown(context=ctx)


def _sil(domain_id: int, log_dir, embodiments: tuple[str, ...], episodes: int, **kw):
    """Sim-in-the-loop episodes on held-out scenes, node logs in ``log_dir``."""
    cfg = SilConfig(
        embodiments=embodiments,
        episodes=episodes,
        split="heldout",
        domain_id=domain_id,
        log_dir=str(log_dir),
        timeout_s=90.0,
        **kw,
    )
    return run_sim_in_the_loop(cfg, progress=False)


@pytest.mark.slow
def test_reaches_goals_on_each_embodiment(domain_id, tmp_path):
    records = _sil(domain_id, tmp_path, BODIES, 2, model="scripted:goal_seeker", family="office")
    table = summary_table(records)
    logs = "\n".join(f"--- {p.name}\n{p.read_text()}" for p in sorted(tmp_path.glob("*.log")))
    assert len(records) == 2 * len(BODIES), table
    failed = [r for r in records if r["outcome"] != "success"]
    assert not failed, f"{table}\n{failed}\n{logs}"


@pytest.mark.slow
def test_shipped_model_drives_over_dds(domain_id, tmp_path):
    """model '' = models/default.onnx: RGB + depth over DDS, a carter episode reaches its goal
    (the shipped IL base; 5/5 of these episodes succeeded when this test was written)."""
    records = _sil(domain_id, tmp_path, ("carter",), 1, model="", family="warehouse")
    log = (tmp_path / "carter_navigator.log").read_text()
    assert "model onnx:default.onnx" in log and "rgb depth odom" in log, log
    assert records[0]["outcome"] == "success", f"{records}\n{log}"


@pytest.mark.slow
def test_lockstep_runs_are_reproducible(domain_id, tmp_path):
    """Two lockstep runs of the same episodes drive identically over DDS: each observation is
    answered by a command stamped with it (stale or extra commands are dropped), the
    navigator waits for the odometry and depth of the image's stamp, and a new goal is in
    before its episode's first image. g1 is the body whose episodes varied run to run before
    (first divergence: a step that paired an image with the previous step's odometry)."""
    runs = []
    for k in range(2):
        log_dir = tmp_path / f"run{k}"
        records = _sil(domain_id, log_dir, ("g1",), 3, model="", family="warehouse")
        assert len(records) == 3, (log_dir / "g1_sim_bridge.log").read_text()
        runs.append(
            [(r["outcome"], r["steps"], r["path_length"], r["final_distance"]) for r in records]
        )
    assert runs[0] == runs[1]


def test_success_line_counts_the_successes():
    records = [{"outcome": "success"}, {"outcome": "collision"}, {"outcome": "success"}]
    assert success_line(records) == "episodes=3 success=2 success_rate=0.667"
