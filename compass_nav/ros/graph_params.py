"""Parameters of the ROS graph integration: TF, Nav2 actions, the sim bridge's scene topics.

Kept apart from :mod:`compass_nav.ros.params` (which appends these rows) so that the core
parameter table stays as it is; the rows use the same :class:`~compass_nav.ros.params.ParamSpec`.
"""

from __future__ import annotations

__all__ = ["navigator_graph_params", "sim_bridge_graph_params"]


def navigator_graph_params(spec_cls) -> list:
    """The navigator's TF and action parameters (``spec_cls`` = ParamSpec)."""
    return [
        spec_cls(
            "use_tf",
            True,
            "Resolve goal and route frames other than the odometry and robot frames through "
            "/tf and /tf_static (tf2_ros where installed, else the built-in buffer).",
            read_only=True,
        ),
        spec_cls(
            "transform_tolerance",
            0.5,
            "How far a goal's or route's stamp may lie past the newest transform (or before "
            "the oldest kept), s; 0-stamped messages use the newest transform.",
            range=(0.0, 60.0),
        ),
        spec_cls(
            "action_servers",
            True,
            "Serve the Nav2 actions 'navigate_to_pose' (nav2_msgs/action/NavigateToPose) and "
            "'follow_path' (nav2_msgs/action/FollowPath), and subscribe to 'speed_limit' "
            "(nav2_msgs/msg/SpeedLimit).",
            read_only=True,
        ),
        spec_cls(
            "follow_path_cmd_vel_topic",
            "cmd_vel_nav",
            "Topic of the commands while a FollowPath goal runs (Nav2's controller-server "
            "output, smoothed and muxed downstream); '' = the 'cmd_vel' topic.",
            read_only=True,
        ),
        spec_cls(
            "action_feedback_rate_hz",
            5.0,
            "Rate of the actions' feedback messages, Hz.",
            range=(0.5, 50.0),
            read_only=True,
        ),
    ]


def sim_bridge_graph_params(spec_cls) -> list:
    """The sim bridge's TF and scene-visualisation parameters."""
    return [
        spec_cls(
            "publish_tf",
            True,
            "Publish odom -> base_link on /tf (each step) and base_link -> camera on /tf_static.",
            read_only=True,
        ),
        spec_cls(
            "map_frame",
            "map",
            "Frame of the static map (OccupancyGrid) and of the map -> odom transform.",
            read_only=True,
        ),
        spec_cls(
            "publish_map_to_odom",
            True,
            "Publish a static map -> odom on /tf_static (identity unless map_odom_x/y/yaw "
            "say otherwise), so goals in 'map' resolve.",
            read_only=True,
        ),
        spec_cls("map_odom_x", 0.0, "x of odom in map, m.", range=(-1e4, 1e4), read_only=True),
        spec_cls("map_odom_y", 0.0, "y of odom in map, m.", range=(-1e4, 1e4), read_only=True),
        spec_cls(
            "map_odom_yaw", 0.0, "Yaw of odom in map, rad.", range=(-3.2, 3.2), read_only=True
        ),
        spec_cls(
            "goal_frame",
            "",
            "Frame the episode's goal and route are published in: '' = odom_frame, or "
            "map_frame (converted through map -> odom, as a localised robot's goals are).",
            read_only=True,
        ),
        spec_cls(
            "frame_prefix",
            "",
            "Prefix of every frame name the bridge publishes (e.g. 'robot1/'), for several "
            "robots on one TF tree.",
            read_only=True,
        ),
        spec_cls(
            "publish_scene",
            True,
            "Publish the static map ('map', nav_msgs/OccupancyGrid, latched), the footprint "
            "('footprint', geometry_msgs/PolygonStamped) and the obstacles "
            "('scene_markers', visualization_msgs/MarkerArray) for RViz.",
            read_only=True,
        ),
    ]
