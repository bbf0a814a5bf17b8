"""Scene families: procedurally generated worlds, one module per family, found by a registry.

A family is a module in this package that decorates its generator with
:func:`register_family`. A generator maps ``(seed, layout)`` to a :class:`Scene`: an occupancy
grid with obstacle heights and materials plus randomised appearance (palette, textures,
lighting, camera noise). Scenes are pure data; the renderer and the physics read the arrays.
``layout`` is the scenario suite's layout (:mod:`compass_nav.sim.suites`): ``v1`` draws the
original rooms, ``v2`` larger ones with narrow doors and gaps.

Families are split too: a family registered with ``heldout=True`` (:func:`heldout_families`)
is for evaluation only; no training stage may sample it (:meth:`EpisodeSpec.check_trainable
<compass_nav.sim.config.EpisodeSpec.check_trainable>` refuses it), so a policy meets its
structure and look for the first time when it is evaluated. :func:`training_families` are
the others (training and validation).

Seeds below :data:`HELDOUT_SEED_OFFSET` are for training; evaluation uses seeds at or above
it, so evaluation scenes are never seen in training. Seeds from
:data:`VALIDATION_SEED_OFFSET` up are a third set, for choosing settings (e.g. comparing
training runs) without looking at the held-out seeds that the reported figures use.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable

from compass_nav.sim.scenes.base import GRID_CELLS, RESOLUTION, Scene, SceneBuilder
from compass_nav.utils.errors import ConfigError

HELDOUT_SEED_OFFSET = 1_000_000
VALIDATION_SEED_OFFSET = 2_000_000
#: Scene-seed offset of each split.
SPLIT_SEED_OFFSETS = {
    "train": 0,
    "heldout": HELDOUT_SEED_OFFSET,
    "validation": VALIDATION_SEED_OFFSET,
}

#: Scene layouts a generator accepts (see :mod:`compass_nav.sim.suites`).
LAYOUTS = ("v1", "v2")

_FAMILIES: dict[str, Callable[[int, str], Scene]] = {}
_HELDOUT: set[str] = set()


def register_family(name: str, heldout: bool = False) -> Callable:
    """Decorator registering ``fn(seed, layout="v1") -> Scene`` as a scene family's generator.

    Args:
        name: Family name.
        heldout: True for a family no training stage may sample (evaluation only).
    """

    def deco(fn: Callable[[int, str], Scene]) -> Callable[[int, str], Scene]:
        if name in _FAMILIES:
            raise ValueError(f"scene family {name!r} registered twice")
        _FAMILIES[name] = fn
        if heldout:
            _HELDOUT.add(name)
        return fn

    return deco


def _discover() -> None:
    if _FAMILIES:
        return
    for info in pkgutil.iter_modules(__path__):
        if info.name != "base" and not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")


def list_families() -> list[str]:
    """Names of the registered scene families."""
    _discover()
    return sorted(_FAMILIES)


def heldout_families() -> list[str]:
    """Families for evaluation only: never sampled by a training stage."""
    _discover()
    return sorted(_HELDOUT)


def training_families() -> list[str]:
    """Families training and validation may use (every family but the held-out ones)."""
    _discover()
    return sorted(set(_FAMILIES) - _HELDOUT)


def check_training_families(field: str, families) -> None:
    """Refuse a held-out family where episodes are trained on.

    Raises:
        ConfigError: Naming ``field``, the held-out family and the families allowed.
    """
    held = set(heldout_families())
    for fam in families:
        if fam in held:
            raise ConfigError(
                f"{field}: {fam!r} is a held-out scene family (evaluation only, never "
                f"trained on); training families: {', '.join(training_families())}"
            )


def generate_scene(family: str, seed: int, layout: str = "v1") -> Scene:
    """Generate the scene of ``family`` for ``seed`` in ``layout`` (deterministic).

    Raises:
        ConfigError: for an unknown family, listing the known ones, or an unknown layout.
    """
    _discover()
    if family not in _FAMILIES:
        raise ConfigError(
            f"unknown scene family {family!r}; known families: {', '.join(sorted(_FAMILIES))}"
        )
    if layout not in LAYOUTS:
        raise ConfigError(f"unknown scene layout {layout!r}; known: {', '.join(LAYOUTS)}")
    return _FAMILIES[family](int(seed), layout)


__all__ = [
    "GRID_CELLS",
    "HELDOUT_SEED_OFFSET",
    "LAYOUTS",
    "SPLIT_SEED_OFFSETS",
    "VALIDATION_SEED_OFFSET",
    "RESOLUTION",
    "Scene",
    "SceneBuilder",
    "check_training_families",
    "generate_scene",
    "heldout_families",
    "list_families",
    "register_family",
    "training_families",
]
