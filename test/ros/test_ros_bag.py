"""Runs you can replay: a sim-in-the-loop run recorded to a rosbag2 MCAP over real DDS, read
back with rosbags, and fed to a fresh navigator that answers it with commands."""

from __future__ import annotations

import threading

import pytest
from ros_harness import Harness

from compass_nav.ros.bag import bag_summary, replay
from compass_nav.ros.sil import SilConfig, run_sim_in_the_loop

pytestmark = pytest.mark.ros

STEPS = 30


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    out = tmp_path_factory.mktemp("bags")
    cfg = SilConfig(
        embodiments=("carter",),
        episodes=1,
        model="scripted:goal_seeker",
        family="office",
        domain_id=150,
        timeout_s=90.0,
        log_dir=str(out / "logs"),
        record=str(out / "bags"),
        bridge_params={"max_episode_steps": STEPS},
    )
    (record,) = run_sim_in_the_loop(cfg, progress=False)
    return out / "bags" / "carter", record


@pytest.mark.slow
def test_sil_run_is_recorded_with_every_topic(recorded):
    bag, record = recorded
    assert record["outcome"] in ("timeout", "success"), record
    assert (bag / "metadata.yaml").is_file() and list(bag.glob("*.mcap"))
    topics = bag_summary(bag)
    types = {
        "/image": "sensor_msgs/msg/Image",
        "/depth": "sensor_msgs/msg/Image",
        "/odom": "nav_msgs/msg/Odometry",
        "/clock": "rosgraph_msgs/msg/Clock",
        "/cmd_vel": "geometry_msgs/msg/TwistStamped",
        "/goal_pose": "geometry_msgs/msg/PoseStamped",
        "/route": "nav_msgs/msg/Path",
        "/episode_status": "std_msgs/msg/String",
        "/goal_status": "std_msgs/msg/String",
    }
    for topic, typ in types.items():
        assert topic in topics, sorted(topics)
        assert topics[topic][0] == typ
    # The sim bridge's scene for RViz/Foxglove: the map, and TF where tf2_msgs exists.
    assert topics["/map"][1] == 1
    from compass_nav.ros import interfaces

    if interfaces.available("tf2_msgs"):
        assert topics["/tf"][1] == record["steps"] and topics["/tf_static"][1] >= 1
    steps = record["steps"]
    for topic in ("/image", "/depth", "/odom", "/clock"):  # one per simulated step
        assert topics[topic][1] == steps, (topic, topics[topic], steps)
    # One answer per observation plus the final zero at shutdown.
    assert steps <= topics["/cmd_vel"][1] <= steps + 2, topics["/cmd_vel"]
    assert topics["/goal_pose"][1] == 1 and topics["/episode_status"][1] == 1


@pytest.mark.slow
def test_replay_feeds_a_running_navigator(recorded, launch, domain_id):
    bag, _ = recorded
    launch(
        "compass_nav.ros.navigator_node",
        model="scripted:goal_seeker",
        embodiment="carter",
        cmd_vel_stamped=True,
    )
    h = Harness(domain_id)
    try:
        h.wait_for_navigator()
        result: dict = {}
        thread = threading.Thread(
            target=lambda: result.update(
                replay(bag, rate=2.0, domain_id=domain_id, timing="stamps", log=print)
            )
        )
        thread.start()
        while thread.is_alive():
            h.spin(0.05)
        thread.join()
        h.spin(0.5)
        assert result["/image"] == STEPS and result["/odom"] == STEPS, result
        assert result["/goal_pose"] == 1
        moving = [m for _, m in h.cmds if m.twist.linear.x > 0.05]
        assert len(moving) >= STEPS // 2, (len(h.cmds), h.status)
    finally:
        h.close()


@pytest.mark.slow
def test_replay_errors_name_the_problem(tmp_path, recorded):
    with pytest.raises(FileNotFoundError, match="metadata.yaml"):
        replay(tmp_path)
    with pytest.raises(ValueError, match="rate"):
        replay(recorded[0], rate=0.0)
    with pytest.raises(ValueError, match="timing"):
        replay(recorded[0], timing="wall")
    with pytest.raises(ValueError, match="/nothing"):
        replay(recorded[0], topics=("/nothing",))


def test_recording_never_overwrites_a_bag(tmp_path, private_network):
    from compass_nav.utils.errors import ConfigError

    (tmp_path / "bags" / "carter").mkdir(parents=True)
    cfg = SilConfig(embodiments=("carter",), record=str(tmp_path / "bags"))
    with pytest.raises(ConfigError, match="already exist"):
        run_sim_in_the_loop(cfg, progress=False)


@pytest.mark.slow
def test_recorded_run_imports_as_a_robot_log(recorded):
    """The bag is a robot log: the log importer cuts it into the episode the bridge ran, one
    step per simulated step, every odometry exact to its image."""
    from compass_nav.logs.bag import read_bag_episodes

    bag, record = recorded
    episodes, summary = read_bag_episodes(bag, "carter")
    assert len(episodes) == 1
    counts = summary["counts"]
    assert counts["steps"] == record["steps"] and counts["odom_exact"] == record["steps"]
