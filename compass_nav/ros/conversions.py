"""ROS 2 message <-> numpy conversions for the navigator and the sim bridge (no ML here).

Used by :mod:`compass_nav.ros.navigator_node` (messages in, observation arrays out) and
:mod:`compass_nav.ros.sim_bridge_node` (simulator arrays out as messages). Everything that
can reject an input raises :class:`InputError` with a one-line reason that the nodes log and
report in diagnostics; nothing here keeps state.

Conventions: REP-103 frames (x forward, y left, z up, yaw counter-clockwise), REP-118 depth
images (``32FC1`` metres with NaN/inf for no return, ``16UC1`` millimetres with 0 for no
return). Inside the package a depth pixel with no return is 0, as the simulator renders it.
"""

from __future__ import annotations

import math

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import PoseStamped, Quaternion, Twist, TwistStamped
from nav_msgs.msg import Odometry, Path
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

__all__ = [
    "IMAGE_ENCODINGS",
    "InputError",
    "camera_info",
    "compressed_to_rgb",
    "depth_to_metres",
    "depth_to_msg",
    "image_to_rgb",
    "odometry_msg",
    "odometry_to_arrays",
    "path_msg",
    "path_to_points",
    "pose_to_xyyaw",
    "quaternion_from_yaw",
    "rgb_to_msg",
    "stamp_to_sec",
    "sec_to_stamp",
    "twist_msg",
    "yaw_from_quaternion",
]

#: Colour encodings the navigator accepts: channels per pixel and how to reach RGB.
IMAGE_ENCODINGS: dict[str, int] = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1}

#: Images outside this size range are rejected (garbage headers, not cameras).
MIN_SIDE, MAX_SIDE = 8, 8192


class InputError(ValueError):
    """An input message that cannot be used; ``str(err)`` is the reason shown to users."""


def stamp_to_sec(stamp: Time) -> float:
    """builtin_interfaces/Time -> seconds (float)."""
    return stamp.sec + stamp.nanosec * 1e-9


def sec_to_stamp(t: float) -> Time:
    """Seconds -> builtin_interfaces/Time (t >= 0)."""
    sec = math.floor(t)
    nanosec = min(int(round((t - sec) * 1e9)), 999_999_999)
    return Time(sec=int(sec), nanosec=nanosec)


def yaw_from_quaternion(q: Quaternion) -> float:
    """Yaw (rotation about z) of a quaternion, rad; roll and pitch are ignored."""
    return math.atan2(2.0 * (q.w * q.z + q.x * q.y), 1.0 - 2.0 * (q.y * q.y + q.z * q.z))


def quaternion_from_yaw(yaw: float) -> Quaternion:
    """A pure-yaw quaternion."""
    return Quaternion(x=0.0, y=0.0, z=math.sin(0.5 * yaw), w=math.cos(0.5 * yaw))


def _check_quaternion(q: Quaternion, what: str) -> None:
    norm = math.sqrt(q.x * q.x + q.y * q.y + q.z * q.z + q.w * q.w)
    if not math.isfinite(norm) or abs(norm - 1.0) > 0.1:
        raise InputError(f"{what}: orientation quaternion has norm {norm:.3g} (expected 1)")


def pose_to_xyyaw(pose, what: str = "pose") -> np.ndarray:
    """geometry_msgs/Pose -> (x, y, yaw) float64, rejecting NaN/inf and bad quaternions."""
    v = np.array(
        [
            pose.position.x,
            pose.position.y,
            pose.position.z,
            pose.orientation.x,
            pose.orientation.y,
            pose.orientation.z,
            pose.orientation.w,
        ]
    )
    if not np.isfinite(v).all():
        raise InputError(f"{what}: contains NaN or inf")
    _check_quaternion(pose.orientation, what)
    return np.array([pose.position.x, pose.position.y, yaw_from_quaternion(pose.orientation)])


def odometry_to_arrays(msg: Odometry) -> tuple[np.ndarray, np.ndarray]:
    """nav_msgs/Odometry -> (pose (x, y, yaw) in the header frame, speed (vx, vy, wz)).

    The twist of an Odometry message is expressed in ``child_frame_id`` (the body), which is
    exactly the ``speed`` observation: signed body-frame velocities.

    Raises:
        InputError: NaN/inf anywhere in pose or twist, or a non-unit quaternion.
    """
    pose = pose_to_xyyaw(msg.pose.pose, "odometry pose")
    t = msg.twist.twist
    speed = np.array([t.linear.x, t.linear.y, t.angular.z])
    if not np.isfinite(speed).all() or not math.isfinite(t.linear.z + t.angular.x + t.angular.y):
        raise InputError("odometry twist: contains NaN or inf")
    return pose, speed


def _pixel_rows(msg: Image, channels: int, itemsize: int) -> np.ndarray:
    """View ``msg.data`` as (height, step) bytes after checking every size field."""
    h, w, step = int(msg.height), int(msg.width), int(msg.step)
    if not (MIN_SIDE <= h <= MAX_SIDE and MIN_SIDE <= w <= MAX_SIDE):
        raise InputError(f"image size {w}x{h} outside [{MIN_SIDE}, {MAX_SIDE}] pixels")
    row = w * channels * itemsize
    if step < row:
        raise InputError(f"image step {step} < width*bytes per pixel = {row}")
    data = np.frombuffer(msg.data, np.uint8)
    if data.size < step * (h - 1) + row:
        raise InputError(
            f"image data has {data.size} bytes; {w}x{h} {msg.encoding} with step {step} "
            f"needs {step * h}"
        )
    if data.size < step * h:  # tolerate a short last row's padding only
        data = np.concatenate([data, np.zeros(step * h - data.size, np.uint8)])
    return data[: step * h].reshape(h, step)


def image_to_rgb(msg: Image) -> np.ndarray:
    """sensor_msgs/Image (rgb8, bgr8, rgba8, bgra8, mono8) -> RGB uint8 (H, W, 3).

    Honours ``step`` (row padding); alpha is dropped; mono8 is repeated into three channels.

    Raises:
        InputError: unknown encoding, impossible sizes or a buffer that is too short.
    """
    enc = msg.encoding.lower()
    if enc not in IMAGE_ENCODINGS:
        raise InputError(
            f"image encoding {msg.encoding!r} not supported "
            f"(supported: {', '.join(IMAGE_ENCODINGS)})"
        )
    c = IMAGE_ENCODINGS[enc]
    rows = _pixel_rows(msg, c, 1)
    h, w = rows.shape[0], int(msg.width)
    px = rows[:, : w * c].reshape(h, w, c)
    if enc == "rgb8":
        return np.ascontiguousarray(px)
    if enc == "rgba8":
        return np.ascontiguousarray(px[:, :, :3])
    if enc in ("bgr8", "bgra8"):
        return np.ascontiguousarray(px[:, :, 2::-1])
    return np.repeat(px, 3, axis=2)


def compressed_to_rgb(msg: CompressedImage) -> np.ndarray:
    """sensor_msgs/CompressedImage (JPEG/PNG) -> RGB uint8 (H, W, 3) via OpenCV."""
    import cv2

    buf = np.frombuffer(msg.data, np.uint8)
    if buf.size == 0:
        raise InputError("compressed image: empty data")
    img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if img is None:
        raise InputError(
            f"compressed image: cannot decode {buf.size} bytes (format {msg.format!r})"
        )
    h, w = img.shape[:2]
    if not (MIN_SIDE <= h <= MAX_SIDE and MIN_SIDE <= w <= MAX_SIDE):
        raise InputError(f"image size {w}x{h} outside [{MIN_SIDE}, {MAX_SIDE}] pixels")
    return np.ascontiguousarray(img[:, :, ::-1])


def depth_to_metres(msg: Image) -> np.ndarray:
    """Depth image (32FC1 metres or 16UC1 millimetres) -> float32 metres (H, W), 0 = none.

    Raises:
        InputError: other encodings, impossible sizes, a short buffer, or negative depths.
    """
    enc = msg.encoding.upper()
    if enc not in ("32FC1", "16UC1"):
        raise InputError(f"depth encoding {msg.encoding!r} not supported (32FC1 or 16UC1)")
    itemsize = 4 if enc == "32FC1" else 2
    rows = _pixel_rows(msg, 1, itemsize)
    h, w = rows.shape[0], int(msg.width)
    raw = np.ascontiguousarray(rows[:, : w * itemsize])
    dtype = np.dtype(np.float32 if enc == "32FC1" else np.uint16)
    dtype = dtype.newbyteorder(">" if msg.is_bigendian else "<")
    depth = raw.view(dtype).reshape(h, w).astype(np.float32)
    if enc == "16UC1":
        return depth * np.float32(0.001)
    depth[~np.isfinite(depth)] = 0.0
    if (depth < 0).any():
        raise InputError("depth image: negative depth values")
    return depth


def rgb_to_msg(rgb: np.ndarray, stamp: Time, frame_id: str) -> Image:
    """RGB uint8 (H, W, 3) -> sensor_msgs/Image rgb8 (``tobytes``: assigning lists is slow)."""
    h, w = rgb.shape[:2]
    msg = Image(height=h, width=w, encoding="rgb8", is_bigendian=0, step=w * 3)
    msg.header.stamp, msg.header.frame_id = stamp, frame_id
    msg.data = np.ascontiguousarray(rgb, np.uint8).tobytes()
    return msg


def depth_to_msg(depth: np.ndarray, stamp: Time, frame_id: str) -> Image:
    """Depth float32 metres (H, W), 0 = no return -> sensor_msgs/Image 32FC1 (+inf = none)."""
    h, w = depth.shape
    d = np.where(depth > 0, depth, np.inf).astype("<f4")
    msg = Image(height=h, width=w, encoding="32FC1", is_bigendian=0, step=w * 4)
    msg.header.stamp, msg.header.frame_id = stamp, frame_id
    msg.data = d.tobytes()
    return msg


def camera_info(
    width: int, height: int, hfov_rad: float, stamp: Time, frame_id: str
) -> CameraInfo:
    """Pinhole CameraInfo with square pixels and no distortion (the simulator's camera)."""
    f = 0.5 * width / math.tan(0.5 * hfov_rad)
    cx, cy = 0.5 * width, 0.5 * height
    msg = CameraInfo(width=width, height=height, distortion_model="plumb_bob")
    msg.header.stamp, msg.header.frame_id = stamp, frame_id
    msg.d = [0.0] * 5
    msg.k = [f, 0.0, cx, 0.0, f, cy, 0.0, 0.0, 1.0]
    msg.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    msg.p = [f, 0.0, cx, 0.0, 0.0, f, cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    return msg


def odometry_msg(
    pose: np.ndarray, speed: np.ndarray, stamp: Time, frame_id: str, child_frame_id: str
) -> Odometry:
    """(x, y, yaw) in ``frame_id`` and body twist (vx, vy, wz) -> nav_msgs/Odometry."""
    msg = Odometry()
    msg.header.stamp, msg.header.frame_id = stamp, frame_id
    msg.child_frame_id = child_frame_id
    msg.pose.pose.position.x, msg.pose.pose.position.y = float(pose[0]), float(pose[1])
    msg.pose.pose.orientation = quaternion_from_yaw(float(pose[2]))
    msg.twist.twist.linear.x, msg.twist.twist.linear.y = float(speed[0]), float(speed[1])
    msg.twist.twist.angular.z = float(speed[2])
    return msg


def twist_msg(
    cmd: np.ndarray, stamped: bool, stamp: Time | None = None, frame_id: str = ""
) -> Twist | TwistStamped:
    """Command (vx, vy, wz) -> geometry_msgs/Twist, or TwistStamped with stamp and frame."""
    t = Twist()
    t.linear.x, t.linear.y, t.angular.z = float(cmd[0]), float(cmd[1]), float(cmd[2])
    if not stamped:
        return t
    msg = TwistStamped(twist=t)
    if stamp is not None:
        msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    return msg


def path_msg(points: np.ndarray, stamp: Time, frame_id: str) -> Path:
    """(P, 2) points -> nav_msgs/Path; each pose faces the next point (the last keeps it)."""
    msg = Path()
    msg.header.stamp, msg.header.frame_id = stamp, frame_id
    pts = np.asarray(points, np.float64).reshape(-1, 2)
    yaw = 0.0
    for i, (x, y) in enumerate(pts):
        if i + 1 < len(pts):
            dx, dy = pts[i + 1] - pts[i]
            if dx * dx + dy * dy > 1e-12:
                yaw = math.atan2(dy, dx)
        ps = PoseStamped()
        ps.header = msg.header
        ps.pose.position.x, ps.pose.position.y = float(x), float(y)
        ps.pose.orientation = quaternion_from_yaw(yaw)
        msg.poses.append(ps)
    return msg


def path_to_points(msg: Path) -> np.ndarray:
    """nav_msgs/Path -> (M, 2) float64 positions in the path's header frame.

    Raises:
        InputError: an empty path or NaN/inf positions.
    """
    if not msg.poses:
        raise InputError("route: empty path")
    pts = np.array([(p.pose.position.x, p.pose.position.y) for p in msg.poses], np.float64)
    if not np.isfinite(pts).all():
        raise InputError("route: contains NaN or inf")
    return pts
