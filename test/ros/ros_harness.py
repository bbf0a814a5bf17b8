"""A test-side rclpy node that plays camera, odometry and goal source for a navigator.

Runs in the pytest process on its own context and ROS_DOMAIN_ID; the navigator under test is
a separate process (see conftest ``launch``), so everything crosses real DDS.
"""

from __future__ import annotations

import json
import math
import time

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped, Twist, TwistStamped
from nav_msgs.msg import Odometry, Path
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
from rcl_interfaces.srv import SetParameters
from rclpy.executors import SingleThreadedExecutor
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import String

from compass_nav.ros import conversions as conv
from compass_nav.ros import qos


def encode(rgb: np.ndarray, encoding: str, pad: int = 0) -> tuple[bytes, int]:
    """RGB (H, W, 3) -> (bytes, step) in ``encoding``, each row padded by ``pad`` bytes."""
    px = {
        "rgb8": rgb,
        "bgr8": rgb[..., ::-1],
        "rgba8": np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 255, np.uint8)], 2),
        "bgra8": np.concatenate([rgb[..., ::-1], np.zeros(rgb.shape[:2] + (1,), np.uint8)], 2),
        "mono8": rgb[..., :1],
    }[encoding]
    h, w, c = px.shape
    rows = np.zeros((h, w * c + pad), np.uint8)
    rows[:, : w * c] = px.reshape(h, w * c)
    return rows.tobytes(), w * c + pad


class Harness:
    """Publishers for the navigator's inputs and recorders for its outputs."""

    def __init__(self, domain_id: int, stamped: bool = True, namespace: str = "") -> None:
        self.ctx = rclpy.Context()
        rclpy.init(context=self.ctx, domain_id=domain_id)
        self.node = rclpy.create_node("harness", context=self.ctx, namespace=namespace)
        n = self.node
        self.image_pub = n.create_publisher(Image, "image", qos.sensor())
        self.compressed_pub = n.create_publisher(CompressedImage, "image/compressed", qos.sensor())
        self.odom_pub = n.create_publisher(Odometry, "odom", qos.sensor())
        self.goal_pub = n.create_publisher(PoseStamped, "goal_pose", qos.reliable())
        self.route_pub = n.create_publisher(Path, "route", qos.reliable())
        self.cmds: list[tuple[float, object]] = []
        self.status: list[dict] = []
        self.diag: DiagnosticArray | None = None
        n.create_subscription(
            TwistStamped if stamped else Twist,
            "cmd_vel",
            lambda m: self.cmds.append((time.monotonic(), m)),
            qos.command(),
        )
        n.create_subscription(
            String, "goal_status", lambda m: self.status.append(json.loads(m.data)), qos.latched()
        )
        n.create_subscription(DiagnosticArray, "diagnostics", self._on_diag, qos.reliable())
        self.executor = SingleThreadedExecutor(context=self.ctx)
        self.executor.add_node(n)
        self.stamp = 100.0
        self.pose = np.zeros(3)
        self.speed = np.zeros(3)

    def _on_diag(self, msg: DiagnosticArray) -> None:
        self.diag = msg

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.ctx)

    # ------------------------------------------------------------------ spinning
    def spin(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.executor.spin_once(timeout_sec=0.01)

    def spin_until(self, pred, timeout: float = 5.0) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if pred():
                return True
            self.executor.spin_once(timeout_sec=0.01)
        return bool(pred())

    def wait_for_navigator(self, timeout: float = 30.0) -> None:
        """Until the navigator's subscriptions match ours (it is configured)."""
        ok = self.spin_until(
            lambda: (
                self.image_pub.get_subscription_count() > 0
                and self.odom_pub.get_subscription_count() > 0
                and self.goal_pub.get_subscription_count() > 0
            ),
            timeout,
        )
        assert ok, "navigator did not come up (no subscriptions on image/odom/goal_pose)"

    def diag_values(self) -> dict[str, str]:
        if self.diag is None:
            return {}
        st = self.diag.status[0]
        return {"level": st.level, "message": st.message, **{kv.key: kv.value for kv in st.values}}

    # ------------------------------------------------------------------ inputs
    def next_stamp(self):
        self.stamp += 0.1
        return conv.sec_to_stamp(self.stamp)

    def publish_odom(
        self, stamp=None, nan: bool = False, frames: tuple[str, str] = ("odom", "base_link")
    ) -> None:
        msg = conv.odometry_msg(
            self.pose, self.speed, stamp or conv.sec_to_stamp(self.stamp), *frames
        )
        if nan:
            msg.pose.pose.position.x = math.nan
        self.odom_pub.publish(msg)

    def publish_image(
        self,
        encoding: str = "rgb8",
        width: int = 32,
        height: int = 24,
        pad: int = 0,
        stamp=None,
        data: bytes | None = None,
        step: int | None = None,
    ):
        stamp = stamp or self.next_stamp()
        rgb = np.random.default_rng(0).integers(0, 255, (height, width, 3), np.uint8)
        payload, row = encode(rgb, encoding if encoding in conv.IMAGE_ENCODINGS else "rgb8", pad)
        msg = Image(
            height=height, width=width, encoding=encoding, step=row if step is None else step
        )
        msg.header.stamp, msg.header.frame_id = stamp, "camera"
        msg.data = payload if data is None else data
        self.image_pub.publish(msg)
        return stamp

    def publish_compressed(self, fmt: str = "jpeg", stamp=None):
        import cv2

        stamp = stamp or self.next_stamp()
        rgb = np.random.default_rng(0).integers(0, 255, (24, 32, 3), np.uint8)
        ok, buf = cv2.imencode(".jpg" if fmt == "jpeg" else ".png", rgb[..., ::-1])
        assert ok
        msg = CompressedImage(format=fmt)
        msg.header.stamp = stamp
        msg.data = buf.tobytes()
        self.compressed_pub.publish(msg)
        return stamp

    def publish_goal(self, x: float, y: float, yaw: float = 0.0, frame: str = "odom") -> None:
        msg = PoseStamped()
        msg.header.frame_id = frame
        msg.pose.position.x, msg.pose.position.y = x, y
        msg.pose.orientation = conv.quaternion_from_yaw(yaw)
        self.goal_pub.publish(msg)

    def tick(self, compressed: str = "", **image_kw):
        """One control period's inputs: odometry then an image; returns the image stamp.

        ``compressed`` = 'jpeg' or 'png' sends a CompressedImage instead of an Image.
        """
        stamp = conv.sec_to_stamp(self.stamp + 0.1)
        self.publish_odom(stamp)
        if compressed:
            return self.publish_compressed(compressed, stamp=stamp)
        return self.publish_image(stamp=stamp, **image_kw)

    def advance(self, stamp) -> None:
        self.stamp = conv.stamp_to_sec(stamp)

    # ------------------------------------------------------------------ outputs
    def cmd_for(self, stamp, timeout: float = 3.0):
        """The command stamped with ``stamp`` (TwistStamped), or None."""
        t = (stamp.sec, stamp.nanosec)

        def find():
            for _, m in self.cmds:
                if (m.header.stamp.sec, m.header.stamp.nanosec) == t:
                    return m
            return None

        self.spin_until(lambda: find() is not None, timeout)
        self.advance(stamp)
        return find()

    def drive_step(self, timeout: float = 3.0, **image_kw):
        """Publish one tick and return the command answering it (or None)."""
        stamp = self.tick(**image_kw)
        return self.cmd_for(stamp, timeout)

    def next_cmd(self, timeout: float = 3.0):
        """The next command published after now (any stamp), or None."""
        start = len(self.cmds)
        self.spin_until(lambda: len(self.cmds) > start, timeout)
        return self.cmds[start][1] if len(self.cmds) > start else None

    def last_status(self) -> dict:
        return self.status[-1] if self.status else {}

    # ------------------------------------------------------------------ services
    def call(self, srv_type, name: str, request, timeout: float = 10.0):
        client = self.node.create_client(srv_type, name)
        try:
            assert client.wait_for_service(timeout_sec=timeout), f"service {name} missing"
            future = client.call_async(request)
            self.spin_until(future.done, timeout)
            assert future.done(), f"service {name} did not answer"
            return future.result()
        finally:
            self.node.destroy_client(client)

    def set_params(self, node: str, **values):
        """Set parameters through ``/<node>/set_parameters``; returns the results."""
        params = []
        for k, v in values.items():
            pv = ParameterValue()
            if isinstance(v, bool):
                pv.type, pv.bool_value = ParameterType.PARAMETER_BOOL, v
            elif isinstance(v, float):
                pv.type, pv.double_value = ParameterType.PARAMETER_DOUBLE, v
            elif isinstance(v, int):
                pv.type, pv.integer_value = ParameterType.PARAMETER_INTEGER, v
            else:
                pv.type, pv.string_value = ParameterType.PARAMETER_STRING, v
            params.append(Parameter(name=k, value=pv))
        res = self.call(
            SetParameters, f"/{node}/set_parameters", SetParameters.Request(parameters=params)
        )
        return res.results
