"""Transforms between frames: a small time-aware buffer fed by ``/tf`` and ``/tf_static``.

Goals and routes may come in any frame that has a chain of transforms to the odometry frame
(``map`` from a localiser, a sensor frame, ...). Where ``tf2_ros`` is installed (a ROS 2
install), :func:`make_listener` uses its ``Buffer`` and ``TransformListener``; elsewhere (the
PyPI wheels have no tf2) it uses :class:`TransformBuffer` here, fed by :class:`TfListener`
from ``/tf`` and ``/tf_static`` (``tf2_msgs/TFMessage``, built by
``scripts/build_interfaces.sh`` when absent).

:class:`TransformBuffer` keeps, per child frame, its parent and the recent samples (static
ones forever). A lookup walks both frames up to their common ancestor; each dynamic edge is
interpolated between the samples around the requested time (linear translation, spherical
rotation), or the newest sample is used when the time is at most ``tolerance`` past it. Time
0 means "the newest available", as in tf2. Anything else raises :class:`TransformError` with
a message that names the frames and what is missing or how stale it is.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field

import numpy as np

from compass_nav.utils.errors import CompassNavError

__all__ = [
    "TransformBuffer",
    "TransformError",
    "apply_to_xyyaw",
    "make_listener",
]

CACHE_S = 10.0  # dynamic samples kept per frame, seconds


class TransformError(CompassNavError):
    """A transform cannot be resolved: unknown frame, no chain, or no data for that time."""


def _qmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ax, ay, az, aw = a
    bx, by, bz, bw = b
    return np.array(
        [
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
            aw * bw - ax * bx - ay * by - az * bz,
        ]
    )


def _qconj(q: np.ndarray) -> np.ndarray:
    return np.array([-q[0], -q[1], -q[2], q[3]])


def _qrot(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    return _qmul(_qmul(q, np.array([v[0], v[1], v[2], 0.0])), _qconj(q))[:3]


def _slerp(a: np.ndarray, b: np.ndarray, s: float) -> np.ndarray:
    d = float(np.dot(a, b))
    if d < 0.0:
        b, d = -b, -d
    if d > 0.9995:
        q = a + s * (b - a)
    else:
        th = math.acos(min(d, 1.0))
        q = (math.sin((1 - s) * th) * a + math.sin(s * th) * b) / math.sin(th)
    return q / np.linalg.norm(q)


@dataclass
class Transform:
    """A rigid transform: ``p_parent = rotation * p_child + translation`` (xyzw quaternion)."""

    translation: np.ndarray
    rotation: np.ndarray

    @staticmethod
    def identity() -> Transform:
        return Transform(np.zeros(3), np.array([0.0, 0.0, 0.0, 1.0]))

    def __mul__(self, other: Transform) -> Transform:
        return Transform(
            self.translation + _qrot(self.rotation, other.translation),
            _qmul(self.rotation, other.rotation),
        )

    def inverse(self) -> Transform:
        qi = _qconj(self.rotation)
        return Transform(-_qrot(qi, self.translation), qi)

    @property
    def yaw(self) -> float:
        x, y, z, w = self.rotation
        return math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


@dataclass
class _Edge:
    parent: str
    static: bool
    times: list[float] = field(default_factory=list)
    samples: list[Transform] = field(default_factory=list)


def apply_to_xyyaw(tf: Transform, xyyaw) -> np.ndarray:
    """Transform a planar pose (x, y, yaw) with ``tf`` (z of the result is dropped)."""
    x, y, yaw = (float(v) for v in xyyaw)
    p = tf.translation + _qrot(tf.rotation, np.array([x, y, 0.0]))
    q = _qmul(tf.rotation, np.array([0.0, 0.0, math.sin(yaw / 2), math.cos(yaw / 2)]))
    return np.array([p[0], p[1], Transform(p, q).yaw])


class TransformBuffer:
    """Frames and their recent transforms (see the module docstring)."""

    def __init__(self, cache_s: float = CACHE_S) -> None:
        self.cache_s = cache_s
        self._edges: dict[str, _Edge] = {}

    def frames(self) -> list[str]:
        """Every frame named so far, sorted."""
        names = set(self._edges) | {e.parent for e in self._edges.values()}
        return sorted(names)

    def set_transform(
        self, parent: str, child: str, t: float, translation, rotation, static: bool = False
    ) -> None:
        """Add a sample of ``parent -> child`` at time ``t`` (seconds)."""
        parent, child = parent.lstrip("/"), child.lstrip("/")
        if not parent or not child or parent == child:
            raise TransformError(f"invalid transform {parent!r} -> {child!r}")
        q = np.asarray(rotation, np.float64)
        n = float(np.linalg.norm(q))
        if not math.isfinite(n) or abs(n - 1.0) > 1e-3:
            raise TransformError(f"transform {parent!r} -> {child!r}: quaternion not unit")
        tr = np.asarray(translation, np.float64)
        if not np.all(np.isfinite(tr)):
            raise TransformError(f"transform {parent!r} -> {child!r}: non-finite translation")
        edge = self._edges.get(child)
        if edge is None or edge.parent != parent or edge.static != static:
            edge = self._edges[child] = _Edge(parent, static)
        sample = Transform(tr, q / n)
        if static:
            edge.times, edge.samples = [t], [sample]
            return
        i = bisect.bisect_right(edge.times, t)
        if i > 0 and edge.times[i - 1] == t:
            edge.samples[i - 1] = sample
        else:
            edge.times.insert(i, t)
            edge.samples.insert(i, sample)
        cut = bisect.bisect_left(edge.times, edge.times[-1] - self.cache_s)
        del edge.times[:cut], edge.samples[:cut]

    def _chain(self, frame: str) -> list[str]:
        chain = [frame]
        while chain[-1] in self._edges:
            chain.append(self._edges[chain[-1]].parent)
            if len(chain) > 100:
                raise TransformError(f"frame {frame!r}: its parents form a loop")
        return chain

    def _edge_at(self, child: str, t: float, tolerance: float) -> Transform:
        edge = self._edges[child]
        if edge.static:
            return edge.samples[0]
        times = edge.times
        if t <= 0.0:  # "newest available"
            return edge.samples[-1]
        if t >= times[-1]:
            if t - times[-1] <= tolerance:
                return edge.samples[-1]
            raise TransformError(
                f"transform {edge.parent!r} -> {child!r} is stale: newest at "
                f"{times[-1]:.3f} s, {t - times[-1]:.3f} s before the requested "
                f"{t:.3f} s (tolerance {tolerance:g} s)"
            )
        if t < times[0]:
            if times[0] - t <= tolerance:
                return edge.samples[0]
            raise TransformError(
                f"transform {edge.parent!r} -> {child!r} at {t:.3f} s is older than the "
                f"oldest kept ({times[0]:.3f} s)"
            )
        i = bisect.bisect_right(times, t)
        t0, t1 = times[i - 1], times[i]
        a, b = edge.samples[i - 1], edge.samples[i]
        s = (t - t0) / (t1 - t0)
        return Transform(
            a.translation + s * (b.translation - a.translation),
            _slerp(a.rotation, b.rotation, s),
        )

    def lookup(
        self, target: str, source: str, t: float = 0.0, tolerance: float = 0.5
    ) -> Transform:
        """The transform taking points in ``source`` to ``target`` at time ``t`` (0 = newest)."""
        target, source = target.lstrip("/"), source.lstrip("/")
        if target == source:
            return Transform.identity()
        known = self.frames()
        for name in (source, target):
            if name not in known:
                raise TransformError(
                    f"no transform from {source!r} to {target!r}: frame {name!r} is unknown "
                    f"(frames on /tf and /tf_static: {', '.join(known) or 'none yet'})"
                )
        up_s, up_t = self._chain(source), self._chain(target)
        common = next((f for f in up_s if f in up_t), None)
        if common is None:
            raise TransformError(
                f"no transform from {source!r} to {target!r}: they are not connected "
                f"({source!r} leads up to {up_s[-1]!r}, {target!r} to {up_t[-1]!r})"
            )
        src_to_common = Transform.identity()
        for child in up_s[: up_s.index(common)]:
            src_to_common = self._edge_at(child, t, tolerance) * src_to_common
        tgt_to_common = Transform.identity()
        for child in up_t[: up_t.index(common)]:
            tgt_to_common = self._edge_at(child, t, tolerance) * tgt_to_common
        return tgt_to_common.inverse() * src_to_common

    def add_message(self, msg, static: bool) -> list[str]:
        """Add every transform of a ``tf2_msgs/TFMessage``; the reasons of those refused."""
        errors = []
        for ts in msg.transforms:
            tr, rot = ts.transform.translation, ts.transform.rotation
            t = ts.header.stamp.sec + ts.header.stamp.nanosec * 1e-9
            try:
                self.set_transform(
                    ts.header.frame_id,
                    ts.child_frame_id,
                    t,
                    (tr.x, tr.y, tr.z),
                    (rot.x, rot.y, rot.z, rot.w),
                    static,
                )
            except TransformError as exc:
                errors.append(str(exc))
        return errors


class TfListener:
    """:class:`TransformBuffer` fed from ``/tf`` and ``/tf_static`` by an rclpy node."""

    backend = "compass_nav"

    def __init__(self, node) -> None:
        from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
        from tf2_msgs.msg import TFMessage

        self.buffer = TransformBuffer()
        self._node = node
        dyn = QoSProfile(
            history=HistoryPolicy.KEEP_LAST, depth=100, reliability=ReliabilityPolicy.RELIABLE
        )
        static = QoSProfile(
            history=HistoryPolicy.KEEP_LAST,
            depth=100,
            reliability=ReliabilityPolicy.RELIABLE,
            durability=DurabilityPolicy.TRANSIENT_LOCAL,
        )
        self.subs = [
            node.create_subscription(TFMessage, "/tf", lambda m: self._on(m, False), dyn),
            node.create_subscription(TFMessage, "/tf_static", lambda m: self._on(m, True), static),
        ]

    def _on(self, msg, static: bool) -> None:
        for err in self.buffer.add_message(msg, static):
            self._node.get_logger().warning(f"ignored a transform: {err}", throttle_duration_sec=5)

    def lookup(self, target: str, source: str, t: float, tolerance: float) -> Transform:
        return self.buffer.lookup(target, source, t, tolerance)


class Tf2RosListener:
    """The same interface over ``tf2_ros`` (used where a ROS 2 install provides it)."""

    backend = "tf2_ros"

    def __init__(self, node) -> None:
        import tf2_ros

        self._tf2 = tf2_ros
        self.buffer = tf2_ros.Buffer()
        self._listener = tf2_ros.TransformListener(self.buffer, node)

    def lookup(self, target: str, source: str, t: float, tolerance: float) -> Transform:
        from rclpy.time import Time

        stamp = Time(nanoseconds=int(max(t, 0.0) * 1e9))
        try:
            ts = self.buffer.lookup_transform(target, source, stamp)
        except self._tf2.ExtrapolationException:
            if t <= 0.0:
                raise TransformError(f"no transform from {source!r} to {target!r}") from None
            try:  # nearest within the tolerance: the newest, if recent enough
                ts = self.buffer.lookup_transform(target, source, Time())
            except self._tf2.TransformException as exc:
                raise TransformError(str(exc)) from None
            newest = ts.header.stamp.sec + ts.header.stamp.nanosec * 1e-9
            if abs(t - newest) > tolerance:
                raise TransformError(
                    f"transform {target!r} -> {source!r} is stale: newest at {newest:.3f} s, "
                    f"requested {t:.3f} s (tolerance {tolerance:g} s)"
                ) from None
        except self._tf2.TransformException as exc:
            raise TransformError(f"no transform from {source!r} to {target!r}: {exc}") from None
        tr, rot = ts.transform.translation, ts.transform.rotation
        return Transform(np.array([tr.x, tr.y, tr.z]), np.array([rot.x, rot.y, rot.z, rot.w]))


def make_listener(node):
    """A TF listener for ``node``: tf2_ros where installed, else :class:`TfListener`.

    None (with the reason logged) when neither tf2_ros nor tf2_msgs is available.
    """
    try:
        import tf2_ros  # noqa: F401
    except ImportError:
        pass
    else:
        return Tf2RosListener(node)
    from compass_nav.ros import interfaces

    if not interfaces.available("tf2_msgs"):
        node.get_logger().warning(
            f"no TF: {interfaces.missing_text('tf2_msgs')}; goals and routes must be given "
            "in the odometry or the robot frame"
        )
        return None
    return TfListener(node)
