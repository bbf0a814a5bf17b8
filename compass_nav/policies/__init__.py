"""Policies the evaluation harness, the recorders and the ROS runtime can drive.

A policy maps a batched observation (the simulator contract) to a batched action and keeps
any recurrent state inside. The harness calls :meth:`Policy.bind` once with the env (the
teacher needs its privileged view; learned policies ignore it), then :meth:`Policy.act` every
step with ``episode_start`` marking envs whose observation is the first of a new episode
(recurrent state must be reset for those rows).

Registered kinds (``make_policy(spec)``):
    ``teacher``              privileged planner + tracker
    ``standstill``           always zero velocity
    ``wall``                 full speed straight ahead (drives into walls)
    ``goal_seeker``          follows the route waypoints with no obstacle knowledge
    ``<path>.pt|.onnx|dir``  learned policies (checkpoints, exported models), added by the
                             model/export stages through :func:`register_loader`.
"""

from compass_nav.policies import degraded  # noqa: F401 - registers degraded:/random/depth_seeker
from compass_nav.policies.base import (
    Policy,
    check_names,
    check_policy_spec,
    make_policy,
    register_loader,
)
from compass_nav.policies.scripted import GoalSeeker, StandStill, TeacherPolicy, WallDriver

__all__ = [
    "GoalSeeker",
    "Policy",
    "StandStill",
    "TeacherPolicy",
    "WallDriver",
    "check_names",
    "check_policy_spec",
    "make_policy",
    "register_loader",
]
