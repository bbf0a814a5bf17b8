"""One policy runtime interface over exported models, checkpoints and scripted policies.

What robots run. :class:`PolicyRuntime` keeps the recurrent state inside; callers hand it
observations in the simulator's contract (uint8 RGB of any size: resizing and normalisation
are the runtime's business, never the caller's) and get actions already clipped to the body.
"""

from compass_nav.contract.policy import PolicyRuntime
from compass_nav.contract.spec import InputSpec, RuntimeOutput
from compass_nav.runtime.scripted import ScriptedRuntime

__all__ = ["InputSpec", "PolicyRuntime", "RuntimeOutput", "ScriptedRuntime", "load_runtime"]


def load_runtime(model: str | None = None, embodiment: str = "carter", **kwargs) -> PolicyRuntime:
    """Open a runtime (see :func:`compass_nav.runtime.factory.open_runtime`).

    ``model`` is a path (.onnx, .engine, .pt, run folder), a scripted policy name
    (``goal_seeker``), or None for the shipped default model.
    """
    from compass_nav.runtime.factory import open_runtime

    return open_runtime(model, embodiment, **kwargs)
