"""The privileged planner teacher as a registered scripted policy (``make_policy("teacher")``).

Imported (and so registered) by :mod:`compass_nav.teacher`; the recorders and the evaluation
harness reach it through the policy registry by name.
"""

from __future__ import annotations

from compass_nav.contract.policy import Policy, register_scripted
from compass_nav.teacher.teacher import Teacher, TeacherConfig


@register_scripted("teacher")
class TeacherPolicy(Policy):
    """The privileged planner teacher (needs the simulator)."""

    name = "teacher"

    def __init__(self, **teacher_kwargs) -> None:
        self._kwargs = teacher_kwargs
        self._teacher = None

    def bind(self, env) -> None:
        cfg = TeacherConfig(**self._kwargs) if self._kwargs else None
        self._teacher = Teacher(env, cfg)

    def act(self, obs, episode_start):
        if self._teacher is None:
            raise RuntimeError("TeacherPolicy.bind(env) must be called before act()")
        return self._teacher.act()
