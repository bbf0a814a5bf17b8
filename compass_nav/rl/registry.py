"""Registers specialist/generalist files with the policy registry (torch-free import).

Importing this module adds a :func:`compass_nav.policies.register_loader` entry matching
``specialist.pt`` / ``generalist.pt`` files and run folders holding one; the entry imports
:mod:`compass_nav.rl.loader` (and torch) only when such a policy is actually loaded. The
policy registry imports this module with the model and runtime loaders, so every process
(command line, evaluation workers, the world-model pool) can load specialists and
generalists by path.
"""

from __future__ import annotations

from pathlib import Path

from compass_nav.policies.base import Policy, register_loader

__all__ = ["ARTIFACT_FILES", "matches"]

#: File names of the final artefacts of this stage (see :mod:`compass_nav.rl.artifact`).
ARTIFACT_FILES = ("specialist.pt", "generalist.pt")


def matches(spec: str) -> bool:
    """True for a specialist/generalist file, or a run folder that holds one."""
    p = Path(spec)
    if p.is_file():
        return p.name in ARTIFACT_FILES
    return p.is_dir() and any((p / n).is_file() for n in ARTIFACT_FILES)


def _load(spec: str, **kwargs) -> Policy:
    from compass_nav.rl.loader import load_agent
    from compass_nav.utils.errors import ModelError

    unknown = set(kwargs) - {"stochastic"}
    if unknown:
        raise ModelError(
            f"{spec}: residual policies take only 'stochastic', got {sorted(unknown)}"
        )
    return load_agent(spec, **kwargs)


register_loader(matches, _load)
