"""Robot logs: one dataset format for what a robot's log holds, importers into it, start states.

The offline evaluator is trained and run on logged episodes only: camera frames, odometry,
commands, the goal, the route and the body. This package owns that format
(:mod:`compass_nav.logs.format`), the importers from rosbag2 files (:mod:`compass_nav.logs.bag`)
and from simulator rollouts (:mod:`compass_nav.logs.sim`), and the start bank that lets a
policy that was never run start in imagination (:mod:`compass_nav.logs.startbank`). The
model-free frame predictors on these logs are the world model's baselines
(:mod:`compass_nav.worldmodel.baselines`). Command line: ``compass-nav logs``
(:mod:`compass_nav.logs.cli`); format and rules: ``docs/LOGS.md``.
"""

from __future__ import annotations

from compass_nav.logs.format import (
    FORMAT_NAME,
    FORMAT_VERSION,
    OUTCOMES,
    LogDataset,
    LogEpisode,
    LogWriter,
    body_key,
    read_log_meta,
)

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "OUTCOMES",
    "LogDataset",
    "LogEpisode",
    "LogWriter",
    "body_key",
    "read_log_meta",
]
