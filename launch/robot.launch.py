"""Deploy the navigator on a robot: camera + odometry + goal in, cmd_vel out.

    ros2 launch compass_nav robot.launch.py embodiment:=spot model:=/path/policy.onnx \
        image_topic:=/camera/color/image_raw odom_topic:=/odom cmd_vel_topic:=/cmd_vel

Every argument is described (``ros2 launch compass_nav robot.launch.py --show-args``).
Parameters come from ``params_file`` (default: ``navigator_params.yaml`` next to this file);
``model``, ``embodiment`` and ``use_sim_time`` given here override it. Needs ROS 2's launch
tools (launch, launch_ros); the compass_nav package itself never imports this file.
"""

from launch.launch_description import LaunchDescription

from compass_nav.ros.launch_args import compass_node, declare, shared_file, typed

ARGUMENTS = [
    (
        "model",
        "",
        "Policy to run: exported .onnx, checkpoint .pt, run folder, or "
        "scripted:<name>; '' = the shipped default model.",
    ),
    (
        "embodiment",
        "carter",
        "Robot body: registered embodiment name or path of an "
        "embodiment YAML file (descriptor and default velocity/acceleration limits).",
    ),
    (
        "params_file",
        shared_file("navigator_params.yaml"),
        "Navigator parameter YAML (tolerances, timeouts, QoS, frames, limits).",
    ),
    ("namespace", "", "Namespace for the node and its relative topics (one per robot)."),
    (
        "frame_prefix",
        "",
        "Prefix of the frames the node names itself (e.g. 'robot1/'), for several robots.",
    ),
    ("node_name", "navigator", "Name of the navigator node."),
    ("use_sim_time", "false", "Use /clock (simulation time) for stamps and the timer."),
    ("image_topic", "image", "Camera image (sensor_msgs/Image) topic to remap 'image' to."),
    (
        "compressed_image_topic",
        "image/compressed",
        "CompressedImage topic (used when image_transport is 'compressed').",
    ),
    ("depth_topic", "depth", "Depth image topic (only read when the model uses depth)."),
    ("odom_topic", "odom", "nav_msgs/Odometry topic."),
    ("goal_topic", "goal_pose", "geometry_msgs/PoseStamped goal topic."),
    ("route_topic", "route", "Optional nav_msgs/Path global plan topic."),
    ("cmd_vel_topic", "cmd_vel", "Velocity command output topic."),
    ("scan_topic", "scan", "sensor_msgs/LaserScan for the safety layer (safety_sources)."),
    ("points_topic", "points", "sensor_msgs/PointCloud2 for the safety layer (safety_sources)."),
    ("log_level", "info", "Logging level of the node (debug, info, warn, error)."),
]


def generate_launch_description() -> LaunchDescription:
    """The navigator node with remaps and parameters from the arguments above."""
    args, cfg = declare(ARGUMENTS)
    navigator = compass_node(
        "navigator",
        cfg,
        cfg["params_file"],
        typed(cfg, model=str, embodiment=str, use_sim_time=bool, frame_prefix=str),
        name=cfg["node_name"],
        remappings=[
            ("image", cfg["image_topic"]),
            ("image/compressed", cfg["compressed_image_topic"]),
            ("depth", cfg["depth_topic"]),
            ("odom", cfg["odom_topic"]),
            ("goal_pose", cfg["goal_topic"]),
            ("route", cfg["route_topic"]),
            ("cmd_vel", cfg["cmd_vel_topic"]),
            ("scan", cfg["scan_topic"]),
            ("points", cfg["points_topic"]),
        ],
    )
    return LaunchDescription([*args, navigator])
