"""Scene families: procedurally generated worlds, one module per family, found by a registry.

A family is a module in this package that decorates its generator with
:func:`register_family`. A generator maps ``(seed, rng)`` to a :class:`Scene`: an occupancy
grid with obstacle heights and materials plus randomised appearance (palette, textures,
lighting, camera noise). Scenes are pure data; the renderer and the physics read the arrays.

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

_FAMILIES: dict[str, Callable[[int], Scene]] = {}


def register_family(name: str) -> Callable:
    """Decorator registering ``fn(seed) -> Scene`` as the generator of a scene family."""

    def deco(fn: Callable[[int], Scene]) -> Callable[[int], Scene]:
        if name in _FAMILIES:
            raise ValueError(f"scene family {name!r} registered twice")
        _FAMILIES[name] = fn
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


def generate_scene(family: str, seed: int) -> Scene:
    """Generate the scene of ``family`` for ``seed`` (deterministic).

    Raises:
        ConfigError: for an unknown family, listing the known ones.
    """
    _discover()
    if family not in _FAMILIES:
        raise ConfigError(
            f"unknown scene family {family!r}; known families: {', '.join(sorted(_FAMILIES))}"
        )
    return _FAMILIES[family](int(seed))


__all__ = [
    "GRID_CELLS",
    "HELDOUT_SEED_OFFSET",
    "SPLIT_SEED_OFFSETS",
    "VALIDATION_SEED_OFFSET",
    "RESOLUTION",
    "Scene",
    "SceneBuilder",
    "generate_scene",
    "list_families",
    "register_family",
]
