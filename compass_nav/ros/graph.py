"""The navigator's place in a robot's ROS graph: TF lookups and the Nav2 action servers.

:func:`attach` gives a :class:`~compass_nav.ros.navigator_node.Navigator` its TF listener
(:mod:`compass_nav.ros.tf_buffer`) and its action servers (:mod:`compass_nav.ros.actions`),
each only when its parameter asks for it and its message package is available (a clear WARN
otherwise); :func:`to_odom_frame` resolves a goal or route pose given in another frame.
"""

from __future__ import annotations

import numpy as np

from compass_nav.ros import conversions as conv
from compass_nav.ros import interfaces
from compass_nav.ros.tf_buffer import TransformError, apply_to_xyyaw, make_listener

__all__ = ["attach", "to_odom_frame"]


def attach(node):
    """(TF listener or None, NavActions or None) for ``node``, per its parameters."""
    tf = make_listener(node) if node.get_parameter("use_tf").value else None
    actions = None
    if node.get_parameter("action_servers").value:
        if interfaces.available("nav2_msgs"):
            from compass_nav.ros.actions import NavActions

            actions = NavActions(node)
        else:
            node.get_logger().warning(
                f"no navigate_to_pose/follow_path action servers: "
                f"{interfaces.missing_text('nav2_msgs')}"
            )
    return tf, actions


def to_odom_frame(node, frame: str, odom_frame: str, xyyaw, what: str) -> np.ndarray:
    """``xyyaw`` in ``frame`` -> the odometry frame through TF, at the message's stamp.

    Raises :class:`~compass_nav.ros.conversions.InputError` naming the frames and the reason
    (unknown frame, no chain, stale) when the transform cannot be resolved.
    """
    stamp = getattr(node, "_tf_stamp", None)
    t = conv.stamp_to_sec(stamp) if stamp is not None else 0.0
    tolerance = node.get_parameter("transform_tolerance").value
    try:
        tf = node._tf.lookup(odom_frame, frame, t, tolerance)
    except TransformError as exc:
        raise conv.InputError(
            f"{what} frame {frame!r} cannot be resolved to the odometry frame "
            f"{odom_frame!r}: {exc}"
        ) from None
    return apply_to_xyyaw(tf, xyyaw)
