"""The policy interfaces and the registry that turns a spec string into a policy.

:class:`Policy` is what the evaluation harness, the recorders and the trainers drive (batched
observations in the :mod:`compass_nav.contract.spec` contract, recurrent state inside);
:class:`PolicyRuntime` is what robots run (exported models behind one interface).

Registration is explicit: scripted policies register with :func:`register_scripted` where
they are defined; learned-policy loaders are registered by the application
(:func:`compass_nav.plugins.register_all`, called by the CLI and by test setup). Worker
processes started with ``spawn`` receive the parent's registrations through
:func:`registry_snapshot` / :func:`install_registry`.
"""

from __future__ import annotations

import abc
from collections.abc import Callable

import numpy as np

from compass_nav.contract.spec import InputSpec, RuntimeOutput
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
    """Register a loader for learned policies: ``matches(spec)`` -> ``load(spec, **kw)``.

    Registering the same pair twice is a no-op. Both callables must be module-level
    functions so that :func:`registry_snapshot` can hand them to worker processes.
    """
    if (matches, load) not in _LOADERS:
        _LOADERS.append((matches, load))


def registry_snapshot() -> tuple[dict[str, Callable[..., Policy]], list]:
    """The current registrations, picklable (classes and functions pickle by reference)."""
    return dict(_SCRIPTED), list(_LOADERS)


def install_registry(snapshot: tuple[dict[str, Callable[..., Policy]], list]) -> None:
    """Add a :func:`registry_snapshot` (taken in a parent process) to this process's registry."""
    scripted, loaders = snapshot
    _SCRIPTED.update(scripted)
    for matches, load in loaders:
        register_loader(matches, load)


def make_policy(spec: str, **kwargs) -> Policy:
    """Build a policy from a spec: a scripted name or the path of a learned model.

    Raises:
        ConfigError: when nothing knows the spec (lists the scripted names).
    """
    if spec in _SCRIPTED:
        return _SCRIPTED[spec](**kwargs)
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
    if not any(matches(spec) for matches, _ in _LOADERS):
        raise _unknown_policy(spec)


def _unknown_policy(spec: str) -> ConfigError:
    hint = (
        "; a program that uses the library registers the application's policies (the "
        "teacher, the learned-policy loaders) with compass_nav.plugins.register_all()"
    )
    return ConfigError(
        f"unknown policy {spec!r}: not a scripted policy ({', '.join(sorted(_SCRIPTED))}) "
        "and no loader accepts it (expected a checkpoint .pt, an exported .onnx or a run folder)"
        + hint
    )


class PolicyRuntime(abc.ABC):
    """Stateful policy runner: ``reset`` then ``step`` per control period."""

    spec: InputSpec
    name: str = "runtime"

    @abc.abstractmethod
    def reset(self, mask: np.ndarray | None = None) -> None:
        """Clear the recurrent state (all rows, or the rows where ``mask`` is True)."""

    @abc.abstractmethod
    def step(self, obs: dict[str, np.ndarray]) -> RuntimeOutput:
        """Advance one control period on a batch of observations (batch size B >= 1)."""
