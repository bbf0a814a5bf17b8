"""The policy interface and the registry that turns a spec string into a policy."""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable

import numpy as np

from compass_nav.utils.errors import ConfigError


class Policy(abc.ABC):
    """Batched, possibly recurrent policy over the simulator's observation contract."""

    name: str = "policy"

    def bind(self, env) -> None:  # noqa: B027 - optional hook
        """Called once before rollouts with the env the policy will drive."""

    @abc.abstractmethod
    def act(self, obs: dict[str, np.ndarray], episode_start: np.ndarray) -> np.ndarray:
        """Return actions (N, 3) float32 (vx, vy, wz) for the batch.

        Args:
            obs: batched observation dict (``rgb``, ``depth``, ``speed``, ``route``, ``goal``,
                ``embodiment``).
            episode_start: (N,) bool, True where ``obs`` is the first of a new episode.
        """


_LOADERS: list[tuple[Callable[[str], bool], Callable[..., Policy]]] = []
_SCRIPTED: dict[str, Callable[..., Policy]] = {}


def register_scripted(name: str) -> Callable:
    """Decorator registering a scripted policy class under ``name``."""

    def deco(cls):
        _SCRIPTED[name] = cls
        return cls

    return deco


def register_loader(matches: Callable[[str], bool], load: Callable[..., Policy]) -> None:
    """Register a loader for learned policies: ``matches(spec)`` -> ``load(spec, **kw)``."""
    _LOADERS.append((matches, load))


def _import_loaders() -> None:
    # Stages that provide learned policies register their loaders on import.
    import importlib

    for mod in (
        "compass_nav.models.loader",
        "compass_nav.rl.registry",
        "compass_nav.runtime.loader",
    ):
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name != mod:
                raise


def make_policy(spec: str, **kwargs) -> Policy:
    """Build a policy from a spec: a scripted name or the path of a learned model.

    Raises:
        ConfigError: when nothing knows the spec (lists the scripted names).
    """
    if spec in _SCRIPTED:
        return _SCRIPTED[spec](**kwargs)
    _import_loaders()
    for matches, load in _LOADERS:
        if matches(spec):
            return load(spec, **kwargs)
    raise _unknown_policy(spec)


def check_policy_spec(spec: str) -> None:
    """Raise what :func:`make_policy` would for a spec nothing knows, without building it.

    Commands call it before they create their output, so a typo leaves nothing behind.

    Raises:
        ConfigError: when nothing knows the spec (lists the scripted names).
    """
    if spec in _SCRIPTED:
        return
    _import_loaders()
    if not any(matches(spec) for matches, _ in _LOADERS):
        raise _unknown_policy(spec)


def check_names(
    policies: Iterable[str] = (), families: Iterable[str] = (), embodiments: Iterable[str] = ()
) -> None:
    """Refuse unknown policy specs, scene families or bodies (a typo) before any writing.

    Raises:
        ConfigError: Naming the unknown value and listing the known ones.
    """
    from compass_nav.sim.embodiment import get_embodiment
    from compass_nav.sim.scenes import list_families

    known = list_families()
    for fam in families:
        if fam not in known:
            raise ConfigError(f"unknown scene family {fam!r}; known families: {', '.join(known)}")
    for body in embodiments:
        get_embodiment(body)
    for spec in policies:
        check_policy_spec(spec)


def _unknown_policy(spec: str) -> ConfigError:
    return ConfigError(
        f"unknown policy {spec!r}: not a scripted policy ({', '.join(sorted(_SCRIPTED))}) "
        "and no loader accepts it (expected a checkpoint .pt, an exported .onnx or a run folder)"
    )
