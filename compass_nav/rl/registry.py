"""The policy-registry entry for specialist/generalist files (torch-free import).

:func:`matches` accepts ``specialist.pt`` / ``generalist.pt`` files and run folders holding
one; :func:`load` imports :mod:`compass_nav.rl.agent` (and torch) only when such a policy is
actually loaded. :func:`compass_nav.plugins.register_all` registers the pair, and spawned
worker processes inherit it (:func:`compass_nav.contract.policy.registry_snapshot`).
"""

from __future__ import annotations

from pathlib import Path

from compass_nav.contract.policy import Policy
from compass_nav.utils.errors import ModelError

__all__ = ["ARTIFACT_FILES", "load", "matches"]

#: File names of the final artefacts of this stage (see :mod:`compass_nav.rl.artifact`).
ARTIFACT_FILES = ("specialist.pt", "generalist.pt")


def matches(spec: str) -> bool:
    """True for a specialist/generalist file, or a run folder that holds one."""
    p = Path(spec)
    if p.is_file():
        return p.name in ARTIFACT_FILES
    return p.is_dir() and any((p / n).is_file() for n in ARTIFACT_FILES)


def load(spec: str, **kwargs) -> Policy:
    """The residual agent of a specialist/generalist file or run folder."""
    # Here, not at the top: the loader imports torch, which most processes never need.
    from compass_nav.rl.agent import load_agent

    unknown = set(kwargs) - {"stochastic"}
    if unknown:
        raise ModelError(
            f"{spec}: residual policies take only 'stochastic', got {sorted(unknown)}"
        )
    return load_agent(spec, **kwargs)
