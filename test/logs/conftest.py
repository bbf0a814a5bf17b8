"""Fixtures for the log tests: small rosbag2 files with real serialised ROS 2 messages.

The bags look like what a recorder beside the navigator and the sim bridge writes: camera,
depth and odometry stamped alike at the control rate, commands received shortly after each
frame (plain Twist, no header), a goal and a route at each episode start, and the bridge's
``episode_status`` JSON after each episode.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

TS = get_typestore(Stores.ROS2_KILTED)
M = TS.types

Time = M["builtin_interfaces/msg/Time"]
Header = M["std_msgs/msg/Header"]


def header(t: float, frame: str) -> object:
    sec = math.floor(t)
    return Header(stamp=Time(sec=int(sec), nanosec=int(round((t - sec) * 1e9))), frame_id=frame)


def quat(yaw: float):
    return M["geometry_msgs/msg/Quaternion"](
        x=0.0, y=0.0, z=math.sin(yaw / 2), w=math.cos(yaw / 2)
    )


def pose(x: float, y: float, yaw: float):
    return M["geometry_msgs/msg/Pose"](
        position=M["geometry_msgs/msg/Point"](x=x, y=y, z=0.0), orientation=quat(yaw)
    )


def vec(x=0.0, y=0.0, z=0.0):
    return M["geometry_msgs/msg/Vector3"](x=float(x), y=float(y), z=float(z))


def image_msg(t: float, rgb: np.ndarray):
    h, w = rgb.shape[:2]
    return M["sensor_msgs/msg/Image"](
        header=header(t, "camera"),
        height=h,
        width=w,
        encoding="rgb8",
        is_bigendian=0,
        step=w * 3,
        data=np.ascontiguousarray(rgb, np.uint8).reshape(-1),
    )


def compressed_msg(t: float, rgb: np.ndarray, garbage: bool = False):
    import cv2

    ok, png = cv2.imencode(".png", np.ascontiguousarray(rgb[:, :, ::-1]))
    assert ok
    data = np.frombuffer(b"not an image" if garbage else png.tobytes(), np.uint8).copy()
    return M["sensor_msgs/msg/CompressedImage"](
        header=header(t, "camera"), format="png", data=data
    )


def depth_msg(t: float, depth: np.ndarray):
    h, w = depth.shape
    d = np.where(depth > 0, depth, np.inf).astype("<f4")
    return M["sensor_msgs/msg/Image"](
        header=header(t, "camera"),
        height=h,
        width=w,
        encoding="32FC1",
        is_bigendian=0,
        step=w * 4,
        data=np.frombuffer(d.tobytes(), np.uint8).copy(),
    )


def odom_msg(t: float, p, v):
    cov = np.zeros(36)
    return M["nav_msgs/msg/Odometry"](
        header=header(t, "odom"),
        child_frame_id="base_link",
        pose=M["geometry_msgs/msg/PoseWithCovariance"](pose=pose(*p), covariance=cov),
        twist=M["geometry_msgs/msg/TwistWithCovariance"](
            twist=M["geometry_msgs/msg/Twist"](linear=vec(v[0], v[1]), angular=vec(z=v[2])),
            covariance=cov,
        ),
    )


def twist_msg(v):
    return M["geometry_msgs/msg/Twist"](linear=vec(v[0], v[1]), angular=vec(z=v[2]))


def goal_msg(t: float, g, frame: str = "odom"):
    return M["geometry_msgs/msg/PoseStamped"](header=header(t, frame), pose=pose(*g))


def path_msg(t: float, pts):
    return M["nav_msgs/msg/Path"](
        header=header(t, "odom"),
        poses=[
            M["geometry_msgs/msg/PoseStamped"](header=header(t, "odom"), pose=pose(x, y, 0.0))
            for x, y in pts
        ],
    )


def string_msg(text: str):
    return M["std_msgs/msg/String"](data=text)


TYPES = {
    "/image": "sensor_msgs/msg/Image",
    "/depth": "sensor_msgs/msg/Image",
    "/odom": "nav_msgs/msg/Odometry",
    "/cmd_vel": "geometry_msgs/msg/Twist",
    "/goal_pose": "geometry_msgs/msg/PoseStamped",
    "/route": "nav_msgs/msg/Path",
    "/episode_status": "std_msgs/msg/String",
    "/goal_status": "std_msgs/msg/String",
}


def frame_for(k: int, size: int = 16) -> np.ndarray:
    """A frame that encodes its own step number (pixel [0, 0, 0] = k % 256)."""
    img = np.full((size, size, 3), 40, np.uint8)
    img[0, 0, 0] = k % 256
    img[:, :, 1] = np.arange(size, dtype=np.uint8)[None, :] * 8
    return img


def write_nav_bag(
    path: Path,
    episodes=((12, "success"), (8, "collision")),
    hz: float = 10.0,
    skip_topics=(),
    gap_steps=(),
    storage: StoragePlugin = StoragePlugin.MCAP,
    time_offset: float = 100.0,
    wall_scale: float = 0.3,
    odom_offset: float = 0.0,
    depth_offset: float = 0.0,
    compressed: bool = False,
    bad_frames=(),
    encoding: str = "rgb8",
    hfov_deg: float | None = None,
    goal_in_robot_frame: bool = False,
    frozen_stamps: bool = False,
) -> dict:
    """Write a bag of ``episodes`` ((steps, outcome), ...) driven at constant commands.

    ``odom_offset``: odometry stamped this much after the frames (an unsynchronised clock).
    ``compressed``: camera frames as PNG CompressedImage on ``/image/compressed``;
    ``bad_frames``: global frame numbers written broken (garbage PNG, or the ``encoding``
    given for raw frames).
    ``frozen_stamps``: every camera frame stamped zero (a broken driver).
    ``goal_in_robot_frame``: goals in ``base_link`` (relative to the pose at the goal).
    The navigator's ``goal_status`` says ``active`` at each goal and ``reached`` after a
    successful episode.
    ``hfov_deg``: also write a ``/camera_info`` with this field of view.
    ``gap_steps``: global frame numbers whose image/depth/odom are not written (a gap).
    Receive times run ``wall_scale`` times as fast as the sensor clock (a lockstep run), so
    the importer must map them. Returns what was written, for the assertions.
    """
    dt = 1.0 / hz
    out = {"steps": [], "cmds": [], "goals": [], "poses": []}
    types = dict(TYPES)
    if hfov_deg is not None:
        types["/camera_info"] = "sensor_msgs/msg/CameraInfo"
    if compressed:
        del types["/image"]
        types["/image/compressed"] = "sensor_msgs/msg/CompressedImage"
    with Writer(path, version=9, storage_plugin=storage) as w:
        conns = {
            t: w.add_connection(t, ty, typestore=TS)
            for t, ty in types.items()
            if t not in skip_topics
        }

        def put(topic, msg, recv):
            if topic in conns:
                data = TS.serialize_cdr(msg, types[topic])
                w.write(conns[topic], int(recv * 1e9), data)

        t = time_offset
        k = 0
        if hfov_deg is not None:
            f = 8.0 / math.tan(math.radians(hfov_deg) / 2)
            info = M["sensor_msgs/msg/CameraInfo"](
                header=header(t, "camera"), height=16, width=16, distortion_model="plumb_bob",
                d=np.zeros(5), k=np.array([f, 0, 8, 0, f, 8, 0, 0, 1.0]),
                r=np.eye(3).reshape(-1), p=np.array([f, 0, 8, 0, 0, f, 8, 0, 0, 0, 1.0, 0]),
                binning_x=0, binning_y=0,
                roi=M["sensor_msgs/msg/RegionOfInterest"](
                    x_offset=0, y_offset=0, height=0, width=0, do_rectify=False
                ),
            )  # fmt: skip
            put("/camera_info", info, 999.0)
        p = np.array([1.0, 2.0, 0.3])
        for steps, outcome in episodes:
            g = (p[0] + 3.0, p[1] + 1.0, 0.5)
            recv0 = lambda s: 1000.0 + (s - time_offset) * wall_scale  # noqa: E731
            if goal_in_robot_frame:
                c, s_ = math.cos(p[2]), math.sin(p[2])
                dx, dy = g[0] - p[0], g[1] - p[1]
                rel = (c * dx + s_ * dy, -s_ * dx + c * dy, g[2] - p[2])
                put("/goal_pose", goal_msg(t, rel, "base_link"), recv0(t) + 0.001)
            else:
                put("/goal_pose", goal_msg(t, g), recv0(t) + 0.001)
            active = json.dumps({"state": "active", "goal_id": len(out["goals"]) + 1})
            put("/goal_status", string_msg(active), recv0(t) + 0.0015)
            route = [(p[0], p[1]), (p[0] + 1.5, p[1] + 0.2), (g[0], g[1])]
            put("/route", path_msg(t, route), recv0(t) + 0.002)
            out["goals"].append(g)
            v = np.array([0.5, 0.0, 0.2])
            for s in range(steps):
                if k not in gap_steps:
                    put("/odom", odom_msg(t + odom_offset, p, v), recv0(t) + 0.003)
                    put(
                        "/depth",
                        depth_msg(t + depth_offset, np.full((16, 16), 2.0 + 0.01 * k)),
                        recv0(t) + 0.004,
                    )
                    if compressed:
                        msg = compressed_msg(t, frame_for(k), garbage=k in bad_frames)
                        put("/image/compressed", msg, recv0(t) + 0.005)
                    else:
                        msg = image_msg(0.0 if frozen_stamps else t, frame_for(k))
                        if k in bad_frames:
                            msg.encoding = encoding
                        put("/image", msg, recv0(t) + 0.005)
                cmd = (0.05 * s, 0.0, 0.01 * k)
                put("/cmd_vel", twist_msg(cmd), recv0(t) + 0.5 * dt * wall_scale)
                out["steps"].append(t)
                out["cmds"].append(cmd)
                out["poses"].append(p.copy())
                # integrate the body (midpoint rule)
                mid = p[2] + 0.5 * v[2] * dt
                p = p + np.array([math.cos(mid) * v[0] * dt, math.sin(mid) * v[0] * dt, v[2] * dt])
                t += dt
                k += 1
            status = json.dumps({"episode": len(out["goals"]), "outcome": outcome, "steps": steps})
            put("/episode_status", string_msg(status), recv0(t - dt) + 0.8 * dt * wall_scale)
            if outcome == "success":
                reached = json.dumps({"state": "reached", "goal_id": len(out["goals"])})
                put("/goal_status", string_msg(reached), recv0(t - dt) + 0.7 * dt * wall_scale)
    return out


@pytest.fixture
def make_bag():
    """``write_nav_bag`` (a fixture: test modules cannot import each other here)."""
    return write_nav_bag
