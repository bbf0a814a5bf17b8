"""The frozen IL base of the residual stage: loaded from an IL run, or untrained for tests.

Adapter between this stage and the imitation stage's model code: it only calls
:func:`compass_nav.models.checkpoint_policy.load_model` (an IL checkpoint or run folder) or
builds an untrained :class:`~compass_nav.models.xmobility.XMobility` from a named preset
(``random:<preset>``, seeded, so tests and the tiny pipeline preset need no IL run). The
result is frozen: eval mode and ``requires_grad=False`` everywhere.
"""

from __future__ import annotations

import torch

from compass_nav.models.checkpoint_policy import load_model
from compass_nav.models.xmobility import XMobility, preset
from compass_nav.utils.errors import ModelError

__all__ = ["freeze", "load_base"]

RANDOM_PREFIX = "random:"


def freeze(model: XMobility) -> XMobility:
    """Eval mode and no gradients for every parameter; returns ``model``."""
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def load_base(spec: str, seed: int = 0) -> XMobility:
    """The frozen base named by ``spec``.

    Args:
        spec: An IL checkpoint (``.pt``) or run folder, or ``random:<preset>`` for an
            untrained model of that X-Mobility preset (``debug``, ``default``).
        seed: Seeds the weights of a ``random:`` model (ignored otherwise).

    Raises:
        ModelError: Nothing loadable at ``spec``.
        ConfigError: Unknown preset name.
    """
    if spec.startswith(RANDOM_PREFIX):
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            model = XMobility(preset(spec[len(RANDOM_PREFIX) :]))
        return freeze(model)

    try:
        return freeze(load_model(spec))
    except ModelError as exc:
        raise ModelError(f"base={spec!r}: {exc}") from None
