"""The classical teacher: global planner on the inflated grid + a limit-aware local tracker."""

from compass_nav.teacher.policy import TeacherPolicy  # registers make_policy("teacher")
from compass_nav.teacher.teacher import Teacher, TeacherConfig

__all__ = ["Teacher", "TeacherConfig", "TeacherPolicy"]
