"""Argument checks the episode-running commands do before they write anything.

Used by the recorders (:mod:`compass_nav.data.recorder`), the world-model pool and the demo:
a typo in a policy spec, a scene family or a body name is refused before any output folder
is created.
"""

from __future__ import annotations

from collections.abc import Iterable

from compass_nav.contract.body import get_embodiment
from compass_nav.contract.policy import check_policy_spec
from compass_nav.sim.scenes import list_families
from compass_nav.utils.errors import ConfigError


def check_names(
    policies: Iterable[str] = (), families: Iterable[str] = (), embodiments: Iterable[str] = ()
) -> None:
    """Refuse unknown policy specs, scene families or bodies (a typo) before any writing.

    Raises:
        ConfigError: Naming the unknown value and listing the known ones.
    """
    known = list_families()
    for fam in families:
        if fam not in known:
            raise ConfigError(f"unknown scene family {fam!r}; known families: {', '.join(known)}")
    for body in embodiments:
        get_embodiment(body)
    for spec in policies:
        check_policy_spec(spec)
