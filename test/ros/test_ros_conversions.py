"""Message <-> numpy conversions (no DDS: messages are built and read in-process)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from nav_msgs.msg import Path
from ros_harness import encode
from sensor_msgs.msg import CompressedImage, Image

from compass_nav.ros import conversions as conv

RGB = np.random.default_rng(1).integers(0, 256, (12, 16, 3), np.uint8)


def image(enc: str, pad: int = 0, **override) -> Image:
    data, step = encode(RGB, enc, pad)
    msg = Image(height=12, width=16, encoding=enc, step=step)
    msg.data = data
    for k, v in override.items():
        setattr(msg, k, v)
    return msg


@pytest.mark.parametrize("encoding", ["rgb8", "bgr8", "rgba8", "bgra8"])
@pytest.mark.parametrize("pad", [0, 5])
def test_colour_encodings_give_rgb(encoding, pad):
    out = conv.image_to_rgb(image(encoding, pad))
    assert out.dtype == np.uint8 and out.shape == (12, 16, 3)
    np.testing.assert_array_equal(out, RGB)


def test_mono8_repeats_the_channel():
    out = conv.image_to_rgb(image("mono8", 3))
    np.testing.assert_array_equal(out, np.repeat(RGB[..., :1], 3, axis=2))


@pytest.mark.parametrize(
    "override, words",
    [
        (dict(encoding="yuv422"), "not supported"),
        (dict(data=b"\x00" * 20), "needs"),
        (dict(width=4, height=4), "outside"),
        (dict(step=10), "step"),
        (dict(height=0), "outside"),
    ],
)
def test_bad_images_raise_input_error(override, words):
    with pytest.raises(conv.InputError, match=words):
        conv.image_to_rgb(image("rgb8", **override))


def test_rgb_msg_round_trip():
    msg = conv.rgb_to_msg(RGB, conv.sec_to_stamp(3.25), "cam")
    assert (msg.encoding, msg.step, msg.header.frame_id) == ("rgb8", 48, "cam")
    assert conv.stamp_to_sec(msg.header.stamp) == pytest.approx(3.25)
    np.testing.assert_array_equal(conv.image_to_rgb(msg), RGB)


def test_compressed_png_round_trip_and_garbage():
    import cv2

    ok, buf = cv2.imencode(".png", RGB[..., ::-1])
    assert ok
    out = conv.compressed_to_rgb(CompressedImage(format="png", data=buf.tobytes()))
    np.testing.assert_array_equal(out, RGB)
    with pytest.raises(conv.InputError, match="cannot decode"):
        conv.compressed_to_rgb(CompressedImage(format="jpeg", data=b"garbage"))
    with pytest.raises(conv.InputError, match="empty"):
        conv.compressed_to_rgb(CompressedImage(format="jpeg"))


def test_depth_encodings_and_no_return():
    d = np.array([[0.0, 1.5], [2.25, 19.0]] * 4, np.float32).repeat(4, 1)  # 8 x 8
    msg = conv.depth_to_msg(d, conv.sec_to_stamp(1.0), "cam")
    assert np.isinf(np.frombuffer(msg.data, "<f4")[0])  # REP-118: +inf = no return
    np.testing.assert_allclose(conv.depth_to_metres(msg), d)  # ... and back to 0
    mm = Image(height=8, width=8, encoding="16UC1", step=16)
    mm.data = (d * 1000).astype("<u2").tobytes()
    np.testing.assert_allclose(conv.depth_to_metres(mm), d, atol=1e-6)
    big = Image(height=8, width=8, encoding="32FC1", step=32, is_bigendian=1)
    big.data = d.astype(">f4").tobytes()
    np.testing.assert_allclose(conv.depth_to_metres(big), d)
    nan = d.copy()
    nan[0, 0] = np.nan
    msg.data = nan.astype("<f4").tobytes()
    assert conv.depth_to_metres(msg)[0, 0] == 0.0
    msg.data = (-d).astype("<f4").tobytes()
    with pytest.raises(conv.InputError, match="negative"):
        conv.depth_to_metres(msg)
    with pytest.raises(conv.InputError, match="not supported"):
        conv.depth_to_metres(image("rgb8"))


def test_odometry_round_trip_and_rejection():
    msg = conv.odometry_msg(
        np.array([1.0, -2.0, 2.5]),
        np.array([0.3, 0.1, -0.4]),
        conv.sec_to_stamp(0.5),
        "odom",
        "base_link",
    )
    pose, speed = conv.odometry_to_arrays(msg)
    np.testing.assert_allclose(pose, [1.0, -2.0, 2.5])
    np.testing.assert_allclose(speed, [0.3, 0.1, -0.4])
    msg.twist.twist.angular.z = math.inf
    with pytest.raises(conv.InputError, match="twist"):
        conv.odometry_to_arrays(msg)
    msg.twist.twist.angular.z = 0.0
    msg.pose.pose.position.y = math.nan
    with pytest.raises(conv.InputError, match="NaN"):
        conv.odometry_to_arrays(msg)
    msg.pose.pose.position.y = 0.0
    msg.pose.pose.orientation.w = 0.0
    msg.pose.pose.orientation.z = 0.0
    with pytest.raises(conv.InputError, match="quaternion"):
        conv.odometry_to_arrays(msg)


def test_path_round_trip_and_camera_info():
    pts = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]])
    msg = conv.path_msg(pts, conv.sec_to_stamp(2.0), "odom")
    np.testing.assert_allclose(conv.path_to_points(msg), pts)
    yaws = [conv.yaw_from_quaternion(p.pose.orientation) for p in msg.poses]
    np.testing.assert_allclose(yaws, [0.0, math.pi / 2, math.pi / 2], atol=1e-9)
    with pytest.raises(conv.InputError, match="empty"):
        conv.path_to_points(Path())
    info = conv.camera_info(64, 48, math.radians(90), conv.sec_to_stamp(0.0), "cam")
    assert info.k[0] == pytest.approx(32.0) and info.k[2] == 32.0 and info.k[5] == 24.0


def test_twist_messages():
    cmd = np.array([0.5, 0.0, -0.2])
    t = conv.twist_msg(cmd, stamped=False)
    assert (t.linear.x, t.angular.z) == (0.5, -0.2)
    ts = conv.twist_msg(cmd, stamped=True, stamp=conv.sec_to_stamp(7.5), frame_id="base")
    assert ts.header.frame_id == "base" and ts.twist.linear.x == 0.5
    assert conv.stamp_to_sec(ts.header.stamp) == pytest.approx(7.5)
