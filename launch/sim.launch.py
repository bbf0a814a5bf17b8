"""Sim-in-the-loop: the embedded simulator as a ROS 2 node driving the navigator.

    ros2 launch compass_nav sim.launch.py embodiment:=h1 family:=office episodes:=5

The sim bridge publishes camera, depth, odometry, /clock, one goal (and global plan) per
episode, and reports each outcome on ``episode_status``; the navigator (``robot.launch.py``'s
node, here on simulation time) drives it. The episode sequence is the goal sequence: it is
fixed by ``seed``. With ``shutdown_when_done`` the launch ends after ``episodes`` episodes.
Every argument is described (``--show-args``). Run it inside a private network namespace on
machines where DDS must not reach the network.
"""

from launch.actions import EmitEvent, RegisterEventHandler
from launch.conditions import IfCondition
from launch.event_handlers import OnProcessExit
from launch.events import Shutdown
from launch.launch_description import LaunchDescription

from compass_nav.ros.launch_args import compass_node, declare, shared_file, typed

ARGUMENTS = [
    (
        "model",
        "",
        "Navigator policy: .onnx/.pt/run folder or scripted:<name>; '' = the "
        "shipped default model.",
    ),
    ("embodiment", "carter", "Simulated and controlled body (registered name or YAML path)."),
    ("family", "warehouse", "Scene family: warehouse, office or hall."),
    ("split", "heldout", "Scene seeds: 'heldout' (never trained on) or 'train'."),
    ("seed", "0", "Seed of the episode (goal) sequence."),
    ("episodes", "5", "Episodes to run; 0 = endless."),
    ("shutdown_when_done", "true", "End the launch after the last episode."),
    (
        "realtime_factor",
        "1.0",
        "Simulated seconds per wall second (0 = as fast as the "
        "navigator answers; needs lockstep).",
    ),
    (
        "lockstep",
        "false",
        "Step the simulator only after each command (or a timeout); both "
        "nodes then use stamped commands, so each observation is paired with its own answer.",
    ),
    ("image_width", "64", "Simulated camera width, pixels."),
    ("image_height", "64", "Simulated camera height, pixels."),
    (
        "route_mode",
        "planned",
        "'planned' publishes a global plan on 'route'; 'mapless' "
        "leaves the navigator to drive straight at the goal.",
    ),
    ("use_sim_time", "true", "Navigator on simulation time (/clock from the bridge)."),
    ("namespace", "", "Namespace for both nodes and their topics."),
    ("sim_params_file", shared_file("sim_params.yaml"), "Sim bridge parameter YAML."),
    ("nav_params_file", shared_file("navigator_params.yaml"), "Navigator parameter YAML."),
    ("log_level", "info", "Logging level of both nodes."),
]


def generate_launch_description() -> LaunchDescription:
    """Sim bridge + navigator, and a shutdown when the bridge has run its episodes."""
    args, cfg = declare(ARGUMENTS)
    bridge = compass_node(
        "sim_bridge",
        cfg,
        cfg["sim_params_file"],
        typed(
            cfg,
            embodiment=str,
            family=str,
            split=str,
            seed=int,
            episodes=int,
            exit_when_done=("shutdown_when_done", bool),
            realtime_factor=float,
            lockstep=bool,
            cmd_vel_stamped=("lockstep", bool),
            image_width=int,
            image_height=int,
            route_mode=str,
        ),
    )
    navigator = compass_node(
        "navigator",
        cfg,
        cfg["nav_params_file"],
        {
            **typed(
                cfg,
                model=str,
                embodiment=str,
                use_sim_time=bool,
                cmd_vel_stamped=("lockstep", bool),
                sync_stamps=("lockstep", bool),
            ),
            # The bridge publishes reliable: lockstep must not lose an observation.
            "image_qos": "reliable",
            "odom_qos": "reliable",
        },
    )
    done = RegisterEventHandler(
        OnProcessExit(
            target_action=bridge, on_exit=[EmitEvent(event=Shutdown(reason="sim bridge finished"))]
        ),
        condition=IfCondition(cfg["shutdown_when_done"]),
    )
    return LaunchDescription([*args, bridge, navigator, done])
