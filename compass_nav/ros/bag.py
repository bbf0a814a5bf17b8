"""Runs you can replay: record every topic of a ROS 2 graph to a rosbag2 MCAP, feed one back.

:class:`BagRecorder` subscribes (serialized, no deserialisation) to every topic it discovers
on its domain and writes each message as it arrives into a rosbag2 bag with MCAP storage,
written with the ``rosbags`` library (pure Python; ``rosbag2_py`` has no wheel on PyPI), so
``ros2 bag info/play`` and Foxglove read it. Message definitions come from ``rosbags``'s
Kilted type store; a topic of a type it does not know is skipped with a warning.
:func:`replay` reads a bag and publishes its camera, depth, odometry, goal and route messages
(or the topics asked for) with their recorded timing, scaled by ``rate``, to a running
navigator. Used by ``compass-nav ros sil --record`` and ``compass-nav demo --mode ros
--record`` (:mod:`compass_nav.ros.sil`, which runs ``python -m compass_nav.ros.bag record``
beside the nodes) and by ``compass-nav ros replay`` (:mod:`compass_nav.ros.cli`).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import threading
import time
from pathlib import Path

__all__ = ["REPLAY_TOPICS", "TIMINGS", "BagRecorder", "bag_summary", "main", "replay"]

#: Topics :func:`replay` feeds back by default (absolute names as recorded at the root).
REPLAY_TOPICS: tuple[str, ...] = (
    "/image",
    "/image/compressed",
    "/depth",
    "/camera_info",
    "/odom",
    "/goal_pose",
    "/route",
    "/scan",
    "/points",
    "/tf",
    "/tf_static",
)
#: Replayed latched (transient-local), as tf2 listeners subscribe to them.
_LATCHED = ("/tf_static",)
#: Topics the recorder never subscribes to (DDS/ROS internals, not the run).
_SKIP = ("/parameter_events", "/rosout")


def _message_class(type_name: str):
    """``sensor_msgs/msg/Image`` -> the Python message class.

    Interface packages built at set-up where PyPI lacks them (``tf2_msgs``, ``nav2_msgs``:
    :mod:`compass_nav.ros.interfaces`) are made importable and their libraries loaded first.
    """
    from compass_nav.ros import interfaces

    pkg, kind, name = type_name.split("/")
    if pkg in interfaces.REQUIRED:
        interfaces.available(pkg)
    return getattr(importlib.import_module(f"{pkg}.{kind}"), name)


def _typestore():
    from rosbags.typesys import Stores, get_typestore

    return get_typestore(Stores.ROS2_KILTED)


def _recording_qos(node, topic: str):
    """Reliable/transient-local when every publisher is (so latched goals are kept)."""
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

    infos = node.get_publishers_info_by_topic(topic)
    reliable = bool(infos) and all(
        i.qos_profile.reliability == ReliabilityPolicy.RELIABLE for i in infos
    )
    latched = bool(infos) and all(
        i.qos_profile.durability == DurabilityPolicy.TRANSIENT_LOCAL for i in infos
    )
    return QoSProfile(
        depth=100,
        reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT,
        durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE,
    )


class BagRecorder:
    """Records every discovered topic on ``domain_id`` into an MCAP rosbag2 at ``path``.

    Args:
        path: Bag folder to create (must not exist; rosbag2 writes ``metadata.yaml`` and the
            ``.mcap`` file inside).
        domain_id: ROS_DOMAIN_ID (None = the environment's).
        discover_period: Seconds between topic discoveries.
        log: Where warnings go (default stderr).
    """

    def __init__(
        self,
        path: str | Path,
        domain_id: int | None = None,
        discover_period: float = 0.2,
        log=None,
    ) -> None:
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        from rosbags.rosbag2 import StoragePlugin, Writer

        self.path = Path(path)
        if self.path.exists():
            raise FileExistsError(f"bag {self.path} already exists: choose a new folder")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._log = log or (lambda text: print(text, file=sys.stderr, flush=True))
        self._store = _typestore()
        self._writer = Writer(self.path, version=9, storage_plugin=StoragePlugin.MCAP)
        self._writer.open()
        self._lock = threading.Lock()
        self._conns: dict[str, object] = {}
        self._skipped: set[str] = set()
        self.counts: dict[str, int] = {}
        self._ctx = rclpy.Context()
        kwargs = {} if domain_id is None else {"domain_id": domain_id}
        rclpy.init(context=self._ctx, **kwargs)
        self._node = rclpy.create_node(
            "bag_recorder", context=self._ctx, start_parameter_services=False
        )
        self._node.create_timer(discover_period, self._discover)
        self._executor = SingleThreadedExecutor(context=self._ctx)
        self._executor.add_node(self._node)
        self._closed = False

    def _discover(self) -> None:
        for topic, types in self._node.get_topic_names_and_types():
            if topic in self._conns or topic in self._skipped or topic in _SKIP:
                continue
            if topic.endswith(("/parameter_events", "/rosout")) or "/_action/" in topic:
                continue
            if not self._node.get_publishers_info_by_topic(topic):
                continue  # subscribe once a publisher shows its QoS (latched or not)
            type_name = types[0]
            try:
                cls = _message_class(type_name)
                # Subscribed first: a type rmw cannot load is skipped, never half-recorded.
                self._node.create_subscription(
                    cls,
                    topic,
                    lambda data, t=topic: self._write(t, data),
                    _recording_qos(self._node, topic),
                    raw=True,
                )
                with self._lock:
                    self._conns[topic] = self._writer.add_connection(
                        topic, type_name, typestore=self._store
                    )
                    self.counts[topic] = 0
            except Exception as exc:  # noqa: BLE001 - one odd topic must not end a recording
                self._skipped.add(topic)
                self._log(f"bag: not recording {topic} ({type_name}): {type(exc).__name__}: {exc}")

    def _write(self, topic: str, data: bytes) -> None:
        with self._lock:
            if self._closed or topic not in self._conns:
                return
            self._writer.write(self._conns[topic], time.time_ns(), data)
            self.counts[topic] += 1

    def spin_once(self, timeout: float = 0.05) -> None:
        """Discover and record for up to ``timeout`` seconds."""
        self._executor.spin_once(timeout_sec=timeout)

    def spin_until(self, stop: threading.Event) -> None:
        """Record until ``stop`` is set."""
        while not stop.is_set():
            self.spin_once(0.05)

    def close(self) -> dict[str, int]:
        """Stop recording and finish the bag; returns the message count per topic."""
        import rclpy

        with self._lock:
            if not self._closed:
                self._closed = True
                self._writer.close()
        self._executor.shutdown()
        self._node.destroy_node()
        rclpy.try_shutdown(context=self._ctx)
        return dict(self.counts)


def bag_summary(path: str | Path) -> dict[str, tuple[str, int]]:
    """``{topic: (type, message count)}`` of a rosbag2 folder."""
    from rosbags.rosbag2 import Reader

    with Reader(Path(path)) as reader:
        return {c.topic: (c.msgtype, c.msgcount) for c in reader.connections}


#: How :func:`replay` paces messages.
TIMINGS: tuple[str, ...] = ("bag", "stamps")


def replay(
    path: str | Path,
    rate: float = 1.0,
    topics: tuple[str, ...] | None = None,
    domain_id: int | None = None,
    wait_s: float = 10.0,
    timing: str = "bag",
    log=print,
) -> dict[str, int]:
    """Publish a bag's messages with their recorded timing (scaled by ``rate``).

    Args:
        path: rosbag2 folder (MCAP or sqlite3).
        rate: Playback speed factor (2.0 = twice as fast).
        timing: 'bag' paces by the bag's (receive) times, like ``ros2 bag play``; 'stamps'
            paces by the messages' header stamps (a message without a header goes with the
            previous one): the right choice for a lockstep sim-in-the-loop bag, whose
            receive times follow how fast the machine stepped, not the simulated 10 Hz.
        topics: Topics to publish (default: those of :data:`REPLAY_TOPICS` in the bag).
        domain_id: ROS_DOMAIN_ID (None = the environment's).
        wait_s: Wait up to this long for a subscriber on each camera/odometry/goal topic before
            starting (a goal sent before the navigator listens would be lost).
        log: Progress lines go here.

    Returns:
        Messages published per topic.

    Raises:
        FileNotFoundError: no bag at ``path``.
        ValueError: a bad rate, or none of the topics is in the bag.
    """
    import rclpy
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
    from rosbags.rosbag2 import Reader

    if not rate > 0:
        raise ValueError(f"rate={rate}: must be > 0")
    if timing not in TIMINGS:
        raise ValueError(f"timing={timing!r}: must be one of {', '.join(TIMINGS)}")
    path = Path(path)
    if not (path / "metadata.yaml").is_file():
        raise FileNotFoundError(f"{path} is not a rosbag2 folder (no metadata.yaml)")
    with Reader(path) as reader:
        have = {c.topic: c for c in reader.connections}
        chosen = [t for t in (topics or REPLAY_TOPICS) if t in have]
        if not chosen:
            raise ValueError(
                f"{path}: none of {', '.join(topics or REPLAY_TOPICS)} is in the bag (it has "
                f"{', '.join(sorted(have))})"
            )
        ctx = rclpy.Context()
        kwargs = {} if domain_id is None else {"domain_id": domain_id}
        rclpy.init(context=ctx, **kwargs)
        node = rclpy.create_node("bag_replay", context=ctx, start_parameter_services=False)

        def qos(topic: str) -> QoSProfile:
            durability = (
                DurabilityPolicy.TRANSIENT_LOCAL
                if topic in _LATCHED
                else DurabilityPolicy.VOLATILE
            )
            return QoSProfile(
                depth=10, reliability=ReliabilityPolicy.RELIABLE, durability=durability
            )

        pubs = {
            t: node.create_publisher(_message_class(have[t].msgtype), t, qos(t)) for t in chosen
        }
        counts = dict.fromkeys(chosen, 0)
        try:
            end = time.monotonic() + wait_s
            while time.monotonic() < end and not all(
                p.get_subscription_count() > 0 for p in pubs.values() if _needed(p.topic_name)
            ):
                time.sleep(0.05)
            log(f"replaying {', '.join(chosen)} from {path} at {rate:g}x")
            start_wall, start_bag = time.monotonic(), None
            conns = [have[t] for t in chosen]
            store = _typestore() if timing == "stamps" else None
            last = None
            for conn, stamp, data in reader.messages(connections=conns):
                if store is not None:
                    stamp = last = _header_ns(store, data, conn.msgtype, last)
                    if stamp is None:
                        stamp = 0
                if start_bag is None:
                    start_bag = stamp
                due = start_wall + (stamp - start_bag) * 1e-9 / rate
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                pubs[conn.topic].publish(bytes(data))
                counts[conn.topic] += 1
        finally:
            node.destroy_node()
            rclpy.try_shutdown(context=ctx)
    return counts


def _header_ns(store, data, msgtype: str, last: int | None) -> int | None:
    """A message's header stamp in ns (``last`` when it has no header)."""
    msg = store.deserialize_cdr(bytes(data), msgtype)
    header = getattr(msg, "header", None)
    if header is None:
        return last
    return header.stamp.sec * 1_000_000_000 + header.stamp.nanosec


def _needed(topic: str) -> bool:
    return topic.rsplit("/", 1)[-1] in ("image", "compressed", "odom", "goal_pose")


def main(argv: list[str] | None = None) -> int:
    """``python -m compass_nav.ros.bag record --out BAG``: record until SIGINT/SIGTERM."""
    import signal

    p = argparse.ArgumentParser(prog="python -m compass_nav.ros.bag")
    sub = p.add_subparsers(dest="verb", required=True)
    rec = sub.add_parser("record", help="record every topic of this ROS_DOMAIN_ID")
    rec.add_argument("--out", required=True, help="bag folder to create")
    args = p.parse_args(argv)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    recorder = BagRecorder(args.out)
    print(f"recording to {args.out}", flush=True)
    try:
        recorder.spin_until(stop)
    finally:
        counts = recorder.close()
    for topic, n in sorted(counts.items()):
        print(f"{topic}: {n}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
