"""Message payloads of a bag -> numpy, for messages deserialised by ``rosbags``.

Same rules as the navigator's own conversions (:mod:`compass_nav.ros.conversions`: encodings,
``step`` padding, depth units, NaN/quaternion checks), written against plain attributes so
that importing a bag needs neither rclpy nor the ROS message packages.
"""

from __future__ import annotations

import math

import numpy as np

from compass_nav.utils.errors import DataError

__all__ = [
    "depth_m",
    "odometry",
    "path_points",
    "pose_xyyaw",
    "rgb",
    "stamp_sec",
    "twist",
]

#: encoding -> channels of the camera images the navigator accepts.
IMAGE_ENCODINGS = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1}


def stamp_sec(stamp) -> float:
    """builtin_interfaces/Time -> seconds."""
    return float(stamp.sec) + float(stamp.nanosec) * 1e-9


def _yaw(q) -> float:
    return math.atan2(2.0 * (q.w * q.z + q.x * q.y), 1.0 - 2.0 * (q.y * q.y + q.z * q.z))


def pose_xyyaw(pose, what: str = "pose") -> np.ndarray:
    """geometry_msgs/Pose -> (x, y, yaw) float64.

    Raises:
        DataError: NaN/inf, or a quaternion whose norm is not 1 (within 0.1).
    """
    p, q = pose.position, pose.orientation
    v = np.array([p.x, p.y, p.z, q.x, q.y, q.z, q.w], np.float64)
    if not np.isfinite(v).all():
        raise DataError(f"{what}: contains NaN or inf")
    norm = float(np.linalg.norm(v[3:]))
    if abs(norm - 1.0) > 0.1:
        raise DataError(f"{what}: orientation quaternion has norm {norm:.3g} (expected 1)")
    return np.array([p.x, p.y, _yaw(q)], np.float64)


def odometry(msg) -> tuple[np.ndarray, np.ndarray]:
    """nav_msgs/Odometry -> (pose (x, y, yaw) in its header frame, body (vx, vy, wz))."""
    pose = pose_xyyaw(msg.pose.pose, "odometry pose")
    t = msg.twist.twist
    v = np.array([t.linear.x, t.linear.y, t.angular.z], np.float64)
    if not np.isfinite(v).all():
        raise DataError("odometry twist: contains NaN or inf")
    return pose, v


def twist(msg) -> np.ndarray:
    """geometry_msgs/Twist or TwistStamped -> (vx, vy, wz); NaN/inf become 0 (as executed)."""
    t = getattr(msg, "twist", msg)
    v = np.array([t.linear.x, t.linear.y, t.angular.z], np.float64)
    return np.where(np.isfinite(v), v, 0.0)


def path_points(msg) -> np.ndarray:
    """nav_msgs/Path -> (M, 2) float64 waypoints in its header frame (non-finite rows kept out)."""
    pts = np.array([[p.pose.position.x, p.pose.position.y] for p in msg.poses], np.float64)
    pts = pts.reshape(-1, 2)
    return pts[np.isfinite(pts).all(1)]


def _rows(msg, channels: int, itemsize: int) -> np.ndarray:
    h, w, step = int(msg.height), int(msg.width), int(msg.step)
    if h < 1 or w < 1:
        raise DataError(f"image size {w}x{h} is empty")
    row = w * channels * itemsize
    if step < row:
        raise DataError(f"image step {step} < width*bytes per pixel = {row}")
    data = np.frombuffer(np.asarray(msg.data, np.uint8).tobytes(), np.uint8)
    if data.size < step * (h - 1) + row:
        raise DataError(f"image data has {data.size} bytes; {w}x{h} {msg.encoding} needs more")
    if data.size < step * h:
        data = np.concatenate([data, np.zeros(step * h - data.size, np.uint8)])
    return data[: step * h].reshape(h, step)


def rgb(msg) -> np.ndarray:
    """sensor_msgs/Image (rgb8, bgr8, rgba8, bgra8, mono8) or CompressedImage -> (H, W, 3)."""
    if hasattr(msg, "format") and not hasattr(msg, "encoding"):
        import cv2

        img = cv2.imdecode(np.asarray(msg.data, np.uint8), cv2.IMREAD_COLOR)
        if img is None:
            raise DataError(f"compressed image ({msg.format!r}) cannot be decoded")
        return np.ascontiguousarray(img[:, :, ::-1])
    enc = str(msg.encoding).lower()
    if enc not in IMAGE_ENCODINGS:
        raise DataError(
            f"image encoding {msg.encoding!r} not supported ({', '.join(IMAGE_ENCODINGS)})"
        )
    c = IMAGE_ENCODINGS[enc]
    rows = _rows(msg, c, 1)
    px = rows[:, : int(msg.width) * c].reshape(rows.shape[0], int(msg.width), c)
    if enc in ("rgb8", "rgba8"):
        return np.ascontiguousarray(px[:, :, :3])
    if enc in ("bgr8", "bgra8"):
        return np.ascontiguousarray(px[:, :, 2::-1])
    return np.repeat(px, 3, axis=2)


def depth_m(msg) -> np.ndarray:
    """Depth image (32FC1 m, NaN/inf = none; 16UC1 mm, 0 = none) -> float32 m, 0 = none."""
    enc = str(msg.encoding).upper()
    if enc not in ("32FC1", "16UC1"):
        raise DataError(f"depth encoding {msg.encoding!r} not supported (32FC1 or 16UC1)")
    size = 4 if enc == "32FC1" else 2
    rows = _rows(msg, 1, size)
    raw = np.ascontiguousarray(rows[:, : int(msg.width) * size])
    dtype = np.dtype(np.float32 if enc == "32FC1" else np.uint16)
    dtype = dtype.newbyteorder(">" if msg.is_bigendian else "<")
    d = raw.view(dtype).reshape(rows.shape[0], int(msg.width)).astype(np.float32)
    if enc == "16UC1":
        return d * np.float32(0.001)
    d[~np.isfinite(d)] = 0.0
    if (d < 0).any():
        raise DataError("depth image: negative depth values")
    return d


def check_frame(msg, role: str) -> None:
    """Check a camera (``role='image'``) or depth frame without decoding its pixels.

    Raises:
        DataError: Unsupported encoding, impossible sizes, or a buffer that is too short.
    """
    if role == "image" and hasattr(msg, "format") and not hasattr(msg, "encoding"):
        if len(msg.data) == 0:
            raise DataError("compressed image: empty data")
        return
    enc = str(msg.encoding)
    if role == "image":
        if enc.lower() not in IMAGE_ENCODINGS:
            raise DataError(f"image encoding {enc!r} not supported ({', '.join(IMAGE_ENCODINGS)})")
        channels, size = IMAGE_ENCODINGS[enc.lower()], 1
    else:
        if enc.upper() not in ("32FC1", "16UC1"):
            raise DataError(f"depth encoding {enc!r} not supported (32FC1 or 16UC1)")
        channels, size = 1, 4 if enc.upper() == "32FC1" else 2
    h, w, step = int(msg.height), int(msg.width), int(msg.step)
    if h < 1 or w < 1:
        raise DataError(f"image size {w}x{h} is empty")
    if step < w * channels * size:
        raise DataError(f"image step {step} < width*bytes per pixel = {w * channels * size}")
    if len(msg.data) < step * (h - 1) + w * channels * size:
        raise DataError(f"image data has {len(msg.data)} bytes; {w}x{h} {enc} needs more")
