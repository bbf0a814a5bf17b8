"""The episode runner: one loop for every stage that drives a policy through whole episodes.

Layering: above :mod:`compass_nav.sim` and the policy interface, below data, evaluation and
the training stages (it imports none of them). See :mod:`compass_nav.episodes.runner`.
"""

from compass_nav.episodes import runner
from compass_nav.episodes.names import check_names
from compass_nav.episodes.runner import *  # noqa: F403 (re-exports the names runner.__all__ lists)

__all__ = [*runner.__all__, "check_names"]
