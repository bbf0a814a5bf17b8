"""What the launch files share: described arguments, typed parameters, the node's defaults.

Imported by ``launch/robot.launch.py`` and ``launch/sim.launch.py`` (installed with the
package, so ``ros2 launch`` finds it); needs ROS 2's launch tools (launch, launch_ros), which
nothing else in the package imports.
"""

from __future__ import annotations

from typing import Any

from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

__all__ = ["Argument", "compass_node", "declare", "shared_file", "typed"]

#: ``(name, default, description)`` of one launch argument.
Argument = tuple[str, Any, str]


def shared_file(name: str) -> PathJoinSubstitution:
    """A file installed next to the launch files (``share/compass_nav/launch/<name>``)."""
    return PathJoinSubstitution([FindPackageShare("compass_nav"), "launch", name])


def declare(
    arguments: list[Argument],
) -> tuple[list[DeclareLaunchArgument], dict[str, LaunchConfiguration]]:
    """Declare every argument with its description; returns the actions and their values."""
    actions = [
        DeclareLaunchArgument(name, default_value=default, description=text)
        for name, default, text in arguments
    ]
    return actions, {name: LaunchConfiguration(name) for name, _, _ in arguments}


def typed(cfg: dict[str, LaunchConfiguration], **params: type | tuple[str, type]) -> dict:
    """Node parameters from launch arguments, each with its type.

    ``typed(cfg, seed=int, exit_when_done=("shutdown_when_done", bool))``: a parameter takes
    the argument of its own name, or the one named in its ``(argument, type)`` pair.
    """
    values = {}
    for name, spec in params.items():
        argument, value_type = spec if isinstance(spec, tuple) else (name, spec)
        values[name] = ParameterValue(cfg[argument], value_type=value_type)
    return values


def compass_node(
    executable: str,
    cfg: dict[str, LaunchConfiguration],
    params_file: Any,
    params: dict,
    **kwargs: Any,
) -> Node:
    """A compass_nav node in ``cfg["namespace"]`` at ``cfg["log_level"]``, printing to screen.

    Parameters come from ``params_file``, then ``params``; ``kwargs`` (``name``,
    ``remappings``) go to ``Node``; the node is named after its executable by default.
    """
    kwargs.setdefault("name", executable)
    return Node(
        package="compass_nav",
        executable=executable,
        namespace=cfg["namespace"],
        output="screen",
        emulate_tty=True,
        parameters=[params_file, params],
        arguments=["--ros-args", "--log-level", cfg["log_level"]],
        **kwargs,
    )
