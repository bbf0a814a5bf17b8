"""rosbag2 import: real MCAP/sqlite3 bags written with rosbags, resampled and cut into episodes."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from rosbags.rosbag2 import StoragePlugin

from compass_nav.cli import main
from compass_nav.contract.body import get_embodiment
from compass_nav.contract.observation import goal_in_robot_frame, robot_to_world
from compass_nav.logs import LogDataset, read_log_meta
from compass_nav.logs.bag import BagImportConfig, BagTopics, import_bag, read_bag_episodes
from compass_nav.utils.errors import ConfigError, DataError


@pytest.mark.parametrize("storage", [StoragePlugin.MCAP, StoragePlugin.SQLITE3])
def test_import_round_trip(tmp_path, make_bag, storage):
    written = make_bag(tmp_path / "bag", storage=storage)
    summary = import_bag(tmp_path / "bag", "carter", tmp_path / "logs", progress=False)
    assert summary["episodes"] == 2 and summary["written"] == [0, 1]
    assert summary["outcomes"] == {"success": 1, "collision": 1}
    c = summary["counts"]
    assert c["steps"] == 20 and c["image_held"] == 0 and c["odom_exact"] == 20
    assert c["cmd_vel_superseded"] == 0 and c["cmd_vel_not_used"] == 0
    ds = LogDataset(tmp_path / "logs")
    assert len(ds) == 2
    first, second = ds[0], ds[1]
    assert (first.length, second.length) == (12, 8)
    assert first.outcome == "success" and second.outcome == "collision"
    assert "episode_status" in first.attrs["outcome_source"]
    assert first.attrs["origin"]["reported_steps"] == 12 and not summary["step_count_mismatches"]
    # step t holds frame t (encoded in pixel [0, 0, 0]) and the command received after it
    assert first.rgb[:, 0, 0, 0].tolist() == list(range(12))
    assert second.rgb[:, 0, 0, 0].tolist() == list(range(12, 20))
    np.testing.assert_allclose(first.action, np.array(written["cmds"][:12]), atol=1e-6)
    np.testing.assert_allclose(second.action, np.array(written["cmds"][12:]), atol=1e-6)
    np.testing.assert_allclose(first.odom_pose, np.array(written["poses"][:12]), atol=1e-9)
    np.testing.assert_allclose(first.odom_twist, np.tile([0.5, 0.0, 0.2], (12, 1)), atol=1e-6)
    np.testing.assert_allclose(first.goal, written["goals"][0])
    np.testing.assert_allclose(np.diff(first.stamp), 0.1, atol=1e-9)
    np.testing.assert_allclose(first.depth[:, 0, 0], 2.0 + 0.01 * np.arange(12), atol=1e-6)
    assert first.route_index.tolist() == [0] * 12
    np.testing.assert_allclose(first.routes[0][-1], written["goals"][0][:2])
    assert first.attrs["source"] == "rosbag2" and first.attrs["robot"] == "carter"
    meta = read_log_meta(tmp_path / "logs")
    assert meta["counts"]["episodes"] == 2 and meta["imports"][0]["source"] == "rosbag2"


def test_camera_faster_than_control_rate_is_decimated_and_counted(tmp_path, make_bag):
    make_bag(tmp_path / "bag", episodes=((20, "timeout"),), hz=20.0)
    eps, summary = read_bag_episodes(tmp_path / "bag", "carter", BagImportConfig())
    (ep,) = eps
    assert ep.length == 10 and ep.outcome == "timeout"
    assert ep.rgb[:, 0, 0, 0].tolist() == list(range(0, 20, 2))
    # every other frame unused, and the commands between ticks superseded: counted
    assert summary["counts"]["image_not_used"] == 10
    assert summary["counts"]["cmd_vel_superseded"] == 10
    # the command in effect at tick t is the last one received before tick t + 1
    assert ep.action[:, 0].tolist() == pytest.approx([0.05 * s for s in range(1, 20, 2)])


def test_short_gap_is_bridged_and_counted(tmp_path, make_bag):
    make_bag(tmp_path / "bag", episodes=((12, "success"),), gap_steps=(5,))
    (ep,), summary = read_bag_episodes(tmp_path / "bag", "carter")
    assert ep.length == 12
    assert ep.rgb[:, 0, 0, 0].tolist() == [0, 1, 2, 3, 4, 4, 6, 7, 8, 9, 10, 11]
    # a held step repeats the previous observation whole: its frame, depth and odometry
    assert ep.attrs["import_counts"]["image_held"] == 1
    assert summary["counts"]["image_held"] == 1 and summary["counts"]["odom_exact"] == 12
    np.testing.assert_array_equal(ep.odom_pose[5], ep.odom_pose[4])
    np.testing.assert_array_equal(ep.depth[5], ep.depth[4])
    assert ep.stamp[5] - ep.stamp[4] == pytest.approx(0.1)  # the tick still advances


def test_frames_missing_at_an_episode_start_are_reported(tmp_path, make_bag):
    make_bag(tmp_path / "bag", episodes=((12, "success"),), gap_steps=(0, 1))
    (ep,), summary = read_bag_episodes(tmp_path / "bag", "carter")
    assert ep.length == 10 and ep.rgb[0, 0, 0, 0] == 2
    assert summary["step_count_mismatches"] == [
        "episode 0: the simulator reported 12 steps, 10 cut"
    ]


def test_odometry_on_its_own_clock_is_interpolated_and_counted(tmp_path, make_bag):
    make_bag(tmp_path / "bag", episodes=((10, "success"),), odom_offset=0.02)
    (ep,), summary = read_bag_episodes(tmp_path / "bag", "carter")
    c = ep.attrs["import_counts"]
    assert (c["odom_exact"], c["odom_interpolated"], c["odom_nearest"]) == (0, 9, 1)
    # odometry stamped 0.02 s late: the pose at the frame lies 20 % back towards the previous
    x = ep.odom_pose[1:, 0]
    assert np.all(np.diff(x) > 0)
    with pytest.raises(DataError, match="no odometry around the frame"):
        read_bag_episodes(tmp_path / "bag", "carter", BagImportConfig(sync_tolerance=0.01))


def test_missing_topic_and_gap_are_listed_together(tmp_path, make_bag):
    make_bag(
        tmp_path / "bag",
        episodes=((20, "success"),),
        skip_topics=("/cmd_vel",),
        gap_steps=tuple(range(5, 12)),
    )
    with pytest.raises(DataError) as err:
        import_bag(tmp_path / "bag", "no_such_body", tmp_path / "logs", progress=False)
    text = str(err.value)
    assert "/cmd_vel (cmd_vel, geometry_msgs/msg/Twist or geometry_msgs/msg/TwistStamped)" in text
    assert "is missing; the bag has: /depth" in text
    assert "/image: gap of 0.800 s" in text
    assert "unknown embodiment 'no_such_body'" in text
    assert "3 problem(s)" in text
    assert not (tmp_path / "logs").exists()  # nothing written


def test_wrong_types_are_listed(tmp_path, make_bag):
    make_bag(tmp_path / "bag", episodes=((10, "success"),))
    topics = BagTopics(depth="odom", route="image")
    with pytest.raises(DataError) as err:
        read_bag_episodes(tmp_path / "bag", "carter", BagImportConfig(topics=topics))
    text = str(err.value)
    assert "/odom (depth) has type nav_msgs/msg/Odometry, expected sensor_msgs/msg/Image" in text
    assert "/image (route) has type sensor_msgs/msg/Image, expected nav_msgs/msg/Path" in text


def test_odometry_on_another_clock_is_an_error(tmp_path, make_bag):
    make_bag(tmp_path / "bag", episodes=((10, "success"),), odom_offset=-5.0)
    with pytest.raises(DataError) as err:
        read_bag_episodes(tmp_path / "bag", "carter")
    text = str(err.value)
    assert "/odom: stamps differ from /image's by a median of -4.99" in text
    assert "/odom: no odometry around the frame at t=100.000" in text  # and what it causes


def test_unsynchronised_depth_is_an_error(tmp_path, make_bag):
    make_bag(tmp_path / "bag", episodes=((10, "success"),), depth_offset=0.06)
    with pytest.raises(
        DataError, match=r"/depth and /image are not synchronised: no depth within 0.025 s"
    ):
        read_bag_episodes(tmp_path / "bag", "carter")


def test_navigator_goal_status_ends_episodes_without_the_bridge(tmp_path, make_bag):
    make_bag(tmp_path / "bag", skip_topics=("/episode_status",))
    eps, _ = read_bag_episodes(tmp_path / "bag", "carter")
    assert [e.outcome for e in eps] == ["success", "unknown"]
    assert eps[0].attrs["outcome_source"] == "navigator goal_status 'reached'"
    assert [e.length for e in eps] == [12, 8]


def test_goal_in_the_robot_frame_is_converted_with_odometry(tmp_path, make_bag):
    # the navigator's rule: a robot-frame goal is converted once, with the odometry pose at
    # its reception (the first odometry when none came yet); the log holds what it used
    written = make_bag(tmp_path / "bag", goal_in_robot_frame=True)
    first, second = read_bag_episodes(tmp_path / "bag", "carter")[0]
    np.testing.assert_allclose(first.goal, written["goals"][0], atol=1e-9)
    at_goal, received_with = written["poses"][12], written["poses"][11]
    rel = goal_in_robot_frame(at_goal, np.asarray(written["goals"][1]))
    np.testing.assert_allclose(second.goal, robot_to_world(received_with, rel), atol=1e-6)


def test_without_status_topics_outcomes_come_from_goals_and_timeout(tmp_path, make_bag):
    make_bag(tmp_path / "bag", skip_topics=("/episode_status", "/goal_status"))
    eps, summary = read_bag_episodes(tmp_path / "bag", "carter")
    assert [e.outcome for e in eps] == ["aborted", "unknown"]
    assert "new goal" in eps[0].attrs["outcome_source"]
    eps, _ = read_bag_episodes(tmp_path / "bag", "carter", BagImportConfig(timeout=0.5))
    assert [e.outcome for e in eps] == ["timeout", "timeout"]
    assert [e.length for e in eps] == [5, 5]


def test_compressed_frames(tmp_path, make_bag):
    make_bag(tmp_path / "bag", episodes=((6, "success"),), compressed=True)
    cfg = BagImportConfig(topics=BagTopics(image="image/compressed"))
    (ep,), _ = read_bag_episodes(tmp_path / "bag", "carter", cfg)
    assert ep.rgb.shape == (6, 16, 16, 3) and ep.rgb[:, 0, 0, 0].tolist() == list(range(6))


def test_unusable_frames_are_counted_in_the_error(tmp_path, make_bag):
    make_bag(
        tmp_path / "bag", episodes=((10, "success"),), bad_frames=(3, 4, 7), encoding="yuv422"
    )
    with pytest.raises(DataError, match=r"/image: 3 frame\(s\) unusable, first at t=100.300: "
                       r"image encoding 'yuv422' not supported"):  # fmt: skip
        read_bag_episodes(tmp_path / "bag", "carter")


def test_a_frame_that_fails_to_decode_late_leaves_nothing_behind(tmp_path, make_bag):
    # a PNG that does not decode passes the first pass (pixels are decoded only when an
    # episode is written); the import then removes what it wrote, keeping earlier imports
    make_bag(tmp_path / "good", episodes=((5, "success"),))
    import_bag(tmp_path / "good", "carter", tmp_path / "logs", progress=False)
    make_bag(tmp_path / "bag", episodes=((5, "success"), (5, "success")), compressed=True,
             bad_frames=(7,))  # fmt: skip
    cfg = BagImportConfig(topics=BagTopics(image="image/compressed"))
    with pytest.raises(DataError, match="cannot be decoded"):
        import_bag(tmp_path / "bag", "carter", tmp_path / "logs", cfg, progress=False)
    ds = LogDataset(tmp_path / "logs")
    assert len(ds) == 1 and read_log_meta(tmp_path / "logs")["counts"]["episodes"] == 1


def test_camera_info_is_checked_against_the_body(tmp_path, make_bag):
    carter = get_embodiment("carter")
    make_bag(tmp_path / "ok", episodes=((4, "success"),), hfov_deg=carter.camera_hfov_deg)
    assert read_bag_episodes(tmp_path / "ok", "carter")[1]["episodes"] == 1
    make_bag(tmp_path / "bad", episodes=((4, "success"),), hfov_deg=60.0)
    with pytest.raises(DataError, match=r"field of view is 60.0 deg .* but body 'carter' says"):
        read_bag_episodes(tmp_path / "bad", "carter")


def test_commands_beyond_the_body_limits_point_at_a_wrong_body(tmp_path, make_bag):
    # the bag's commands reach vx 0.55 m/s; a slow body cannot send them (its yaw-rate limit
    # stays within the body envelope, above the bag's 0.11 rad/s)
    make_bag(tmp_path / "bag", episodes=((12, "success"),))
    slow = dataclasses.replace(get_embodiment("carter"), name="slow", max_vx=0.3, max_wz=0.2)
    with pytest.raises(DataError) as err:
        read_bag_episodes(tmp_path / "bag", slow)
    text = str(err.value)
    assert "5 command(s) with vx in [0, 0.55] beyond the limits [-0.3, 0.3] of body 'slow'" in text
    assert "with wz" not in text


def test_frames_whose_stamps_do_not_advance(tmp_path, make_bag):
    make_bag(tmp_path / "bag", episodes=((5, "success"),), frozen_stamps=True)
    with pytest.raises(DataError, match=r"/image: 4 frame\(s\) stamped no later than"):
        read_bag_episodes(tmp_path / "bag", "carter")


def test_config_validation_names_the_field():
    with pytest.raises(ConfigError, match="max_gap=0.01"):
        BagImportConfig(max_gap=0.01)
    with pytest.raises(ConfigError, match="split='x'"):
        BagImportConfig(split="x")


def test_not_a_bag(tmp_path):
    (tmp_path / "junk").write_text("hello")
    with pytest.raises(DataError, match="cannot be read as rosbag2"):
        read_bag_episodes(tmp_path / "junk", "carter")


def test_cli_import_bag_info_and_errors(tmp_path, make_bag, capsys):
    make_bag(tmp_path / "bag")
    out = tmp_path / "logs"
    assert main(["logs", "import-bag", str(tmp_path / "bag"), "--body", "carter", "--out",
                 str(out), "--quiet", "--json", "--split", "validation"]) == 0  # fmt: skip
    summary = json.loads(capsys.readouterr().out)
    assert summary["episodes"] == 2
    assert main(["logs", "info", str(out), "--check", "--quiet", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["checked"] == 2 and info["by_split"] == {"validation": 2}
    rc = main(["logs", "import-bag", str(tmp_path / "bag"), "--body", "carter", "--out",
               str(tmp_path / "o2"), "--odom-topic", "/robot/odom", "--quiet"])  # fmt: skip
    assert rc == 2
    assert "topic /robot/odom (odom, nav_msgs/msg/Odometry) is missing" in capsys.readouterr().err
