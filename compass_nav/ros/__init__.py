"""ROS 2 nodes: the navigator (policy -> cmd_vel) and the embedded simulator as a node.

Entry points (setup.py): ``navigator`` -> :mod:`compass_nav.ros.navigator_node`,
``sim_bridge`` -> :mod:`compass_nav.ros.sim_bridge_node`; launch files in ``launch/``.
Node classes only do parameters, QoS, topics and message conversion
(:mod:`~compass_nav.ros.conversions`, :mod:`~compass_nav.ros.params`,
:mod:`~compass_nav.ros.qos`); decisions live in :mod:`~compass_nav.ros.navigator_core` and
the observation geometry in :mod:`~compass_nav.ros.observation`, both testable without ROS.
Importing this package does not import rclpy; processes that start nodes must run inside a
private network namespace (``scripts/netns_run.sh``, checked by
:func:`compass_nav.ros.netns.require_private_network`).
"""
