"""Guards that stop training on a NaN or infinite loss or weight.

Every trainer (imitation, residual PPO, distillation, world model) calls
:func:`check_loss` on each loss before its update and :func:`check_weights` every few steps
and before it writes a checkpoint or model, so a diverged run ends with a
:class:`~compass_nav.utils.errors.NonFiniteError` naming the step and the loss term or
parameter instead of a file full of NaN.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from compass_nav.utils.errors import NonFiniteError

__all__ = ["WEIGHT_CHECK_EVERY", "check_loss", "check_weights"]

WEIGHT_CHECK_EVERY = 50
"""Steps between two parameter checks (a full pass over the weights is cheap but not free)."""


def check_loss(stage: str, step: int, loss: Any, terms: Mapping[str, Any] | None = None) -> None:
    """Raise if ``loss`` (a tensor or number) or any of ``terms`` is NaN or infinite.

    Args:
        stage: What is training, for the message ("imitation", "world model", ...).
        step: The step the loss belongs to.
        loss: The total loss (scalar tensor or float).
        terms: Optional named parts of the loss; the first non-finite one is named.

    Raises:
        NonFiniteError: Naming the stage, step and the offending term.
    """
    value = float(loss.detach()) if hasattr(loss, "detach") else float(loss)
    if math.isfinite(value):
        return
    bad = "loss"
    for name, v in (terms or {}).items():
        try:
            part = float(v)
        except (TypeError, ValueError):
            continue
        if not math.isfinite(part):
            bad = f"loss term {name!r}"
            break
    raise NonFiniteError(
        f"{stage} training diverged at step {step}: {bad} is {value if bad == 'loss' else part}"
        " (lower the learning rate; nothing was saved from this step)"
    )


def check_weights(stage: str, step: int, module: Any) -> None:
    """Raise if any parameter of ``module`` (a ``torch.nn.Module``) holds NaN or inf.

    Raises:
        NonFiniteError: Naming the stage, step and the first non-finite parameter.
    """
    import torch

    for name, param in module.named_parameters():
        if not bool(torch.isfinite(param).all()):
            raise NonFiniteError(
                f"{stage} training diverged at step {step}: parameter {name!r} holds "
                "NaN or infinite values (lower the learning rate; no model was written)"
            )
