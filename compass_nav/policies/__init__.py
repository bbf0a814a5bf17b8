"""Policies the evaluation harness, the recorders and the ROS runtime can drive.

A policy maps a batched observation (the simulator contract) to a batched action and keeps
any recurrent state inside. The harness calls :meth:`Policy.bind` once with the env (the
teacher needs its privileged view; learned policies ignore it), then :meth:`Policy.act` every
step with ``episode_start`` marking envs whose observation is the first of a new episode
(recurrent state must be reset for those rows).

Registered kinds (``make_policy(spec)``):
    ``teacher``              privileged planner + tracker (registered by
                             :mod:`compass_nav.teacher`, which needs the simulator)
    ``standstill``           always zero velocity
    ``wall``                 full speed straight ahead (drives into walls)
    ``goal_seeker``          follows the route waypoints with no obstacle knowledge
    ``classical``            depth-camera costmap + dynamic-window local planner
                             (:mod:`compass_nav.policies.classical`)
    ``<path>.pt|.onnx|dir``  learned policies (checkpoints, exported models): their loaders
                             are registered by :func:`compass_nav.plugins.register_all`.

The interfaces and the registry live in :mod:`compass_nav.contract.policy`; this package
holds only observation-driven scripted behaviours (numpy, no simulator), so the ROS runtime
can run them.
"""

from compass_nav.contract.policy import (
    Policy,
    check_policy_spec,
    make_policy,
    register_loader,
)
from compass_nav.policies import degraded  # noqa: F401 - registers degraded:/random/depth_seeker
from compass_nav.policies.classical import ClassicalPlanner
from compass_nav.policies.scripted import GoalSeeker, StandStill, WallDriver

__all__ = [
    "ClassicalPlanner",
    "GoalSeeker",
    "Policy",
    "StandStill",
    "WallDriver",
    "check_policy_spec",
    "make_policy",
    "register_loader",
]
