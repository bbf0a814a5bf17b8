"""The navigator's observation geometry: :mod:`compass_nav.contract.observation`.

It lives in the contract layer, so that readers of robot logs (:mod:`compass_nav.logs`)
assemble observations with the very same code; this module keeps the navigator's imports.
"""

from __future__ import annotations

from compass_nav.contract.observation import (
    build_observation,
    goal_in_robot_frame,
    planned_route,
    robot_to_world,
    straight_route,
    trim_route,
)

__all__ = [
    "build_observation",
    "goal_in_robot_frame",
    "planned_route",
    "robot_to_world",
    "straight_route",
    "trim_route",
]
