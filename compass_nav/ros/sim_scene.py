"""What the sim bridge publishes so that RViz shows the whole scene, and TF.

* ``/tf``: ``odom -> base_link`` with every observation (the odometry pose, its stamp);
* ``/tf_static``: ``base_link -> camera`` (the body's camera mount: forward offset, height,
  pitch; x forward, z up, like the body) and, with ``publish_map_to_odom``, an identity
  ``map -> odom`` (the simulator's world is both);
* ``map`` (nav_msgs/OccupancyGrid, transient-local): the scene's obstacle grid (100 =
  obstacle, 0 = free; 0.1 m cells, origin at the world origin), once per episode;
* ``footprint`` (geometry_msgs/PolygonStamped, in the base frame): the body's rectangle;
* ``scene_markers`` (visualization_msgs/MarkerArray, transient-local): the obstacles as
  cubes extruded to their heights, and the goal as an arrow.

Every frame name carries ``frame_prefix`` (e.g. ``robot1/odom``) for several robots on one TF
tree. The scenes are static (no moving obstacles in the simulator), so the markers change
only with the episode.
"""

from __future__ import annotations

import array
import math
import time

import numpy as np
from geometry_msgs.msg import Point32, PolygonStamped, TransformStamped
from nav_msgs.msg import OccupancyGrid
from rclpy.duration import Duration

from compass_nav.contract.geometry import RESOLUTION
from compass_nav.ros import conversions as conv
from compass_nav.ros import interfaces, qos

__all__ = ["SceneTopics"]


def _tf(parent: str, child: str, stamp, xyz, yaw: float = 0.0, pitch: float = 0.0):
    ts = TransformStamped()
    ts.header.stamp, ts.header.frame_id, ts.child_frame_id = stamp, parent, child
    ts.transform.translation.x, ts.transform.translation.y, ts.transform.translation.z = (
        float(v) for v in xyz
    )
    cy, sy, cp, sp = math.cos(yaw / 2), math.sin(yaw / 2), math.cos(pitch / 2), math.sin(pitch / 2)
    r = ts.transform.rotation
    r.x, r.y, r.z, r.w = -sy * sp, cy * sp, sy * cp, cy * cp
    return ts


class SceneTopics:
    """TF, map, footprint and markers of one sim bridge (see the module docstring)."""

    def __init__(self, node, frames: dict[str, str]) -> None:
        self.node = node
        self.frames = frames
        p = node.get_parameter
        self.publish_tf = p("publish_tf").value
        self.map_to_odom = p("publish_map_to_odom").value
        self.map_odom = tuple(p(f"map_odom_{k}").value for k in ("x", "y", "yaw"))
        goal_frame = p("goal_frame").value
        if goal_frame not in ("", p("odom_frame").value, p("map_frame").value):
            raise ValueError(
                f"goal_frame={goal_frame!r}: must be '', odom_frame or map_frame "
                f"({p('odom_frame').value!r} or {p('map_frame').value!r})"
            )
        self.goal_in_map = goal_frame == p("map_frame").value != p("odom_frame").value
        self.scene = p("publish_scene").value
        self.TFMessage = None
        if self.publish_tf or self.map_to_odom:
            if interfaces.available("tf2_msgs"):
                from tf2_msgs.msg import TFMessage

                self.TFMessage = TFMessage
                self.tf_pub = node.create_publisher(TFMessage, "/tf", qos.reliable(100))
                self.static_pub = node.create_publisher(TFMessage, "/tf_static", qos.latched(1))
            else:
                node.get_logger().warning(
                    f"no TF published: {interfaces.missing_text('tf2_msgs')}"
                )
        self.markers = None
        if self.scene:
            self.map_pub = node.create_publisher(OccupancyGrid, "map", qos.latched(1))
            self.footprint_pub = node.create_publisher(PolygonStamped, "footprint", qos.latched(1))
            try:
                from visualization_msgs.msg import Marker, MarkerArray
            except ImportError:
                node.get_logger().warning(
                    "no scene_markers: visualization_msgs is not installed "
                    "(pip install ros-kilted-visualization-msgs)"
                )
            else:
                self.markers = (Marker, MarkerArray)
                self.marker_pub = node.create_publisher(
                    MarkerArray, "scene_markers", qos.latched(1)
                )

    def publish_static(self, body, stamp) -> None:
        """The static transforms (once: /tf_static is latched and holds the last message)."""
        if self.TFMessage is None:
            return
        f = self.frames
        tfs = []
        if self.publish_tf:
            tfs.append(
                _tf(
                    f["base"],
                    f["camera"],
                    stamp,
                    (body.camera_x, 0.0, body.camera_height),
                    pitch=body.camera_pitch,
                )
            )
        if self.map_to_odom:
            x, y, yaw = self.map_odom
            tfs.append(_tf(f["map"], f["odom"], stamp, (x, y, 0.0), yaw))
        if tfs:
            self.static_pub.publish(self.TFMessage(transforms=tfs))

    def wait_static_delivered(self, timeout_s: float) -> None:
        """Block until the latched /tf_static has reached its subscribers (at most ``timeout_s``).

        For goals in the map frame, before the first one in lockstep: a navigator that gets a
        goal in ``map`` before the map -> odom transform rejects it (the frame is unknown).
        """
        if self.TFMessage is None or not (self.map_to_odom and self.goal_in_map):
            return
        end = time.monotonic() + timeout_s
        while self.static_pub.get_subscription_count() == 0 and time.monotonic() < end:
            time.sleep(0.01)
        self.static_pub.wait_for_all_acked(Duration(seconds=max(end - time.monotonic(), 0.1)))

    def goal_frame(self, points: np.ndarray) -> tuple[str, np.ndarray]:
        """(frame, points): odometry-frame rows (N, 2) or (N, 3) in ``goal_frame``.

        In the map frame they are converted with map -> odom.
        """
        if not self.goal_in_map:
            return self.frames["odom"], points
        x, y, yaw = self.map_odom
        c, s = math.cos(yaw), math.sin(yaw)
        out = np.array(points, np.float64)
        out[:, 0] = x + c * points[:, 0] - s * points[:, 1]
        out[:, 1] = y + s * points[:, 0] + c * points[:, 1]
        if out.shape[1] > 2:
            out[:, 2] = (points[:, 2] + yaw + math.pi) % (2 * math.pi) - math.pi
        return self.frames["map"], out

    def publish_pose(self, pose, stamp) -> None:
        """``odom -> base_link`` at ``stamp`` (each observation)."""
        if self.TFMessage is None or not self.publish_tf:
            return
        ts = _tf(self.frames["odom"], self.frames["base"], stamp, (pose[0], pose[1], 0.0), pose[2])
        self.tf_pub.publish(self.TFMessage(transforms=[ts]))

    def publish_episode(self, env, body, stamp) -> None:
        """Map, footprint and markers of the current episode (env 0 of ``env``)."""
        if not self.scene:
            return
        f = self.frames
        height = env.height[0]
        g = OccupancyGrid()
        g.header.stamp, g.header.frame_id = stamp, f["map"]
        g.info.map_load_time = stamp
        g.info.resolution = float(RESOLUTION)
        g.info.height, g.info.width = (int(n) for n in height.shape)
        g.info.origin.orientation.w = 1.0
        g.data = array.array("b", np.where(height > 0, 100, 0).astype(np.int8).ravel().tobytes())
        self.map_pub.publish(g)
        fp = PolygonStamped()
        fp.header.stamp, fp.header.frame_id = stamp, f["base"]
        hx, hy = body.length / 2, body.width / 2
        fp.polygon.points = [
            Point32(x=float(x), y=float(y), z=0.0)
            for x, y in ((hx, hy), (-hx, hy), (-hx, -hy), (hx, -hy))
        ]
        self.footprint_pub.publish(fp)
        if self.markers is not None:
            self.marker_pub.publish(self._marker_array(height, env.goal[0], stamp))

    def _marker_array(self, height: np.ndarray, goal, stamp):
        Marker, MarkerArray = self.markers
        out = MarkerArray()
        clear = Marker(action=Marker.DELETEALL)
        clear.header.frame_id = self.frames["map"]
        out.markers.append(clear)
        levels = np.round(height[height > 0] / 0.1) * 0.1
        for k, level in enumerate(np.unique(levels)):
            ii, jj = np.nonzero(np.abs(height - level) < 0.05 + 1e-6)
            m = Marker(ns="obstacles", id=k, type=Marker.CUBE_LIST, action=Marker.ADD)
            m.header.stamp, m.header.frame_id = stamp, self.frames["map"]
            m.pose.orientation.w = 1.0
            m.scale.x = m.scale.y = float(RESOLUTION)
            m.scale.z = float(level)
            shade = float(min(1.0, 0.3 + 0.25 * level))
            m.color.r, m.color.g, m.color.b, m.color.a = shade, shade, 0.6, 1.0
            m.points = [
                conv_point((j + 0.5) * RESOLUTION, (i + 0.5) * RESOLUTION, level / 2)
                for i, j in zip(ii.tolist(), jj.tolist(), strict=True)
            ]
            out.markers.append(m)
        arrow = Marker(ns="goal", id=0, type=Marker.ARROW, action=Marker.ADD)
        arrow.header.stamp, arrow.header.frame_id = stamp, self.frames["odom"]
        arrow.pose.position.x, arrow.pose.position.y = float(goal[0]), float(goal[1])
        arrow.pose.orientation = conv.quaternion_from_yaw(float(goal[2]))
        arrow.scale.x, arrow.scale.y, arrow.scale.z = 0.6, 0.1, 0.1
        arrow.color.g, arrow.color.a = 1.0, 1.0
        out.markers.append(arrow)
        return out


def conv_point(x: float, y: float, z: float):
    from geometry_msgs.msg import Point

    return Point(x=float(x), y=float(y), z=float(z))
