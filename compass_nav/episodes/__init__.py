"""The episode runner: one loop for every stage that drives a policy through whole episodes.

Layering: above :mod:`compass_nav.sim` and the policy interface, below data, evaluation and
the training stages (it imports none of them). See :mod:`compass_nav.episodes.runner`.
"""

from compass_nav.episodes.names import check_names
from compass_nav.episodes.runner import (
    CellQueue,
    Episode,
    EpisodeHook,
    EpisodeRunner,
    OpenQuota,
    Quota,
    SlotQuota,
)

__all__ = [
    "CellQueue",
    "Episode",
    "EpisodeHook",
    "EpisodeRunner",
    "OpenQuota",
    "Quota",
    "SlotQuota",
    "check_names",
]
