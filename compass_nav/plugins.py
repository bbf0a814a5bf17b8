"""The application's policy registrations, in one explicit list.

Which policy kinds ``make_policy(spec)`` knows is decided here, at the top of the package
tree, not inside the low-level registry (:mod:`compass_nav.contract.policy`): scripted
behaviours (:mod:`compass_nav.policies`), the privileged teacher (:mod:`compass_nav.teacher`)
and the loaders of learned policies, in the order they are tried:

==================  ================================================  ========================
kind                spec                                              loader
==================  ================================================  ========================
degraded wrapper    ``degraded:<base>?k=v``                           policies.degraded
IL checkpoint       ``*.pt`` tagged ``xmobility``, or its run folder  models.checkpoint_policy
residual agent      ``specialist.pt`` / ``generalist.pt`` or folder   rl.registry
exported model      ``*.onnx``, ``*.engine``, ``*.plan``              runtime.factory
==================  ================================================  ========================

:func:`register_all` is called by the command line's ``main`` and by the test setup; worker
processes started with ``spawn`` receive the parent's registrations with their arguments
(:func:`compass_nav.contract.policy.registry_snapshot`), so they need not call it. A program
that uses the library directly calls :func:`register_all` once before ``make_policy``.
"""

from __future__ import annotations

from compass_nav import policies, teacher
from compass_nav.contract.policy import Policy, register_loader
from compass_nav.rl import registry as rl_registry
from compass_nav.runtime import factory as runtime_factory
from compass_nav.runtime.sources import register_source

__all__ = ["register_all"]

# The scripted policies register themselves where they are defined; importing the packages
# above is what makes them known.
_SCRIPTED_PACKAGES = (policies, teacher)


def _matches_checkpoint(spec: str) -> bool:
    # Here, not at the top: models.checkpoint_policy imports torch (seconds), which only a
    # process that loads a checkpoint needs.
    from compass_nav.models import checkpoint_policy

    return checkpoint_policy.matches(spec)


def _load_checkpoint(spec: str, **kwargs) -> Policy:
    from compass_nav.models import checkpoint_policy  # torch, as above

    return checkpoint_policy.load(spec, **kwargs)


def _build_residual_exportable(payload: dict):
    # Here, not at the top: rl.exportable imports torch, as above.
    from compass_nav.rl import exportable

    return exportable.build_exportable(payload)


def register_all() -> None:
    """Register every learned-policy loader, and the checkpoint kinds export can trace."""
    register_loader(_matches_checkpoint, _load_checkpoint)
    register_loader(rl_registry.matches, rl_registry.load)
    register_loader(runtime_factory.matches, runtime_factory.load)
    register_source("residual_policy", _build_residual_exportable)
