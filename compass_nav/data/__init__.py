"""Demonstrations: recording episodes of a policy to disk and reading them back for training.

Wiring: ``compass-nav teacher demos`` (:mod:`compass_nav.teacher.cli`) calls
:func:`record_episodes` with the planner teacher; the imitation-learning trainer reads the
folder with :class:`DemoDataset` / :class:`SequenceDataset`; later stages record their own
policies (with per-step extras) through the same writer. The on-disk format lives in
:mod:`compass_nav.data.format` and is documented in ``docs/DATASET.md``.

:class:`DemoDataset` and :class:`SequenceDataset` import torch, so they are loaded on first
access: recording needs no torch.
"""

from __future__ import annotations

from typing import Any

from compass_nav.data import dataset
from compass_nav.data.format import FORMAT_NAME, FORMAT_VERSION
from compass_nav.data.recorder import RecordResult, record_episodes
from compass_nav.data.routes import mapless_route
from compass_nav.data.summary import format_summary, summarize_attrs

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "DemoDataset",
    "RecordResult",
    "SequenceDataset",
    "format_summary",
    "mapless_route",
    "record_episodes",
    "summarize_attrs",
]


def __getattr__(name: str) -> Any:
    if name in ("DemoDataset", "SequenceDataset", "SEQUENCE_KEYS"):
        return getattr(dataset, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
