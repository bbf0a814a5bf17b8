"""X-Mobility-style world-model policy: configuration, modeling and processing.

Files follow one-folder-per-policy: :mod:`.configuration` (sizes, presets, loss weights),
:mod:`.modeling` (the network and its narrow API), :mod:`.processing` (every normalisation
and action scaling, torch ops only so export can trace it). Trained by
:mod:`compass_nav.il.runner`; loaded as a policy by :mod:`compass_nav.models.checkpoint_policy`.
"""

from compass_nav.models.xmobility.configuration import (
    PRESETS,
    LossWeights,
    XMobilityConfig,
    preset,
)
from compass_nav.models.xmobility.modeling import RSSMState, XMobility, count_parameters

__all__ = [
    "PRESETS",
    "LossWeights",
    "RSSMState",
    "XMobility",
    "XMobilityConfig",
    "count_parameters",
    "preset",
]
