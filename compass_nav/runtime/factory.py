"""Open the right runtime for a model spec, and expose exported models as policies.

:func:`open_runtime` (also reachable as :func:`compass_nav.runtime.load_runtime`) is how the
ROS navigator, the benchmarks and users get a :class:`PolicyRuntime`:

=======================================  ==============================================
``None``                                 the shipped default model (:func:`default_model`)
``*.onnx``                               :class:`OnnxRuntime` (``backend="tensorrt"``
                                         builds/reuses a cached engine instead)
``*.engine`` / ``*.plan``                :class:`TensorRTRuntime`
``*.pt`` or a run folder                 :class:`TorchRuntime`
``scripted:NAME`` or a scripted name     :class:`ScriptedRuntime` (e.g. ``goal_seeker``)
=======================================  ==============================================

:func:`matches` / :func:`load` are the policy-registry entry for ``.onnx`` / ``.engine`` /
``.plan`` paths (registered by :func:`compass_nav.plugins.register_all`), so
``compass-nav evaluate run models/default.onnx`` evaluates an exported model through the same
runtime a robot uses (:class:`RuntimePolicy`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from compass_nav.contract.policy import Policy, PolicyRuntime
from compass_nav.runtime.errors import ModelFileError
from compass_nav.utils.errors import ConfigError

__all__ = ["DEFAULT_MODEL", "RuntimePolicy", "default_model", "open_runtime"]

#: File name of the shipped default policy inside the models folder.
DEFAULT_MODEL = "default.onnx"
_ENGINE_SUFFIXES = (".engine", ".plan")


def default_model() -> Path:
    """Path of the shipped default model (``models/default.onnx``, or the installed copy).

    Raises:
        ModelFileError: No default model is shipped in the models folder.
    """
    from compass_nav.utils.errors import DataError
    from compass_nav.utils.paths import models_dir

    try:
        folder = models_dir()
    except DataError as exc:
        raise ModelFileError(f"no shipped default model: {exc}") from None
    path = folder / DEFAULT_MODEL
    if not path.is_file():
        raise ModelFileError(
            f"no shipped default model: {path} does not exist (pass a model "
            "path, or export one there with `compass-nav export`)"
        )
    return path


def _descriptor(embodiment: Any) -> np.ndarray | None:
    if embodiment is None:
        return None
    if isinstance(embodiment, np.ndarray):
        return embodiment.astype(np.float32)
    from compass_nav.contract.body import get_embodiment

    return get_embodiment(embodiment).descriptor()


def _looks_like_path(spec: str) -> bool:
    return os.sep in spec or "/" in spec or Path(spec).suffix != "" or Path(spec).exists()


def open_runtime(
    model: str | os.PathLike | None = None, embodiment: Any = "carter", **kwargs: Any
) -> PolicyRuntime:
    """Open a runtime for ``model`` (see the module docstring for the accepted specs).

    Args:
        model: Path, scripted name, or None for the shipped default.
        embodiment: Body whose descriptor fills in observations that carry none: a
            registered name, a YAML path, an ``EmbodimentSpec``, a (D,) array, or None.
        **kwargs: Backend options: ``providers``, ``threads`` (onnx); ``threads`` (torch);
            ``backend="tensorrt"``, ``fp16``, ``max_batch`` (ONNX -> cached engine);
            ``image_hw``, ``control_hz``, ``route_points`` (scripted).

    Raises:
        ModelFileError: Missing or unreadable model file (or no shipped default).
        MetadataError, ProviderUnavailableError, BackendUnavailableError: see the backends.
        ConfigError: Unknown scripted name, or options the backend does not take.
    """
    if model is None:
        model = default_model()
    spec = os.fspath(model)
    if spec.startswith("scripted:") or not _looks_like_path(spec):
        from compass_nav.runtime.scripted import ScriptedRuntime

        return ScriptedRuntime(spec.removeprefix("scripted:"), **kwargs)
    path = Path(spec)
    descriptor = _descriptor(embodiment)
    backend = kwargs.pop("backend", None)
    try:
        if path.suffix == ".onnx":
            if backend == "tensorrt":
                from compass_nav.runtime.tensorrt_runtime import TensorRTRuntime, build_engine

                engine = build_engine(path, **kwargs)
                return TensorRTRuntime(engine, descriptor=descriptor)
            if backend not in (None, "onnxruntime"):
                raise ConfigError(
                    f"backend={backend!r}: an .onnx model runs on 'onnxruntime' or 'tensorrt'"
                )
            from compass_nav.runtime.onnx_runtime import OnnxRuntime

            return OnnxRuntime(path, descriptor=descriptor, **kwargs)
        if path.suffix in _ENGINE_SUFFIXES:
            from compass_nav.runtime.tensorrt_runtime import TensorRTRuntime

            return TensorRTRuntime(path, descriptor=descriptor, **kwargs)
        if path.suffix == ".pt" or path.is_dir():
            from compass_nav.runtime.torch_runtime import TorchRuntime

            return TorchRuntime(path, descriptor=descriptor, **kwargs)
    except TypeError as exc:
        if "unexpected keyword argument" not in str(exc):
            raise
        raise ConfigError(
            f"{path}: unsupported runtime option(s) {sorted(kwargs)} ({exc})"
        ) from None
    if not path.exists():
        raise ModelFileError(f"model {path} does not exist")
    raise ModelFileError(
        f"model {path}: unknown kind of file (expected .onnx, .engine, .plan, .pt or a run folder)"
    )


class RuntimePolicy(Policy):
    """Any :class:`PolicyRuntime` as a :class:`Policy` (the evaluator's interface).

    ``episode_start`` rows have their recurrent state cleared before the step; a new batch
    size starts every row afresh. ``last_path`` holds the latest predicted path (or None).
    """

    def __init__(self, runtime: PolicyRuntime, name: str | None = None) -> None:
        self.runtime = runtime
        self.name = name or runtime.name
        self.last_path: np.ndarray | None = None
        self._batch: int | None = None

    def act(self, obs: dict[str, np.ndarray], episode_start: np.ndarray) -> np.ndarray:
        """Actions (N, 3) float32 SI, clipped to each row's body."""
        n = int(np.shape(obs["goal"])[0])
        start = np.asarray(episode_start, bool)
        if self._batch != n:
            self.runtime.reset()
            self._batch = n
        elif start.any():
            self.runtime.reset(start)
        out = self.runtime.step(obs)
        self.last_path = out.path
        return out.action


def matches(spec: str) -> bool:
    """True for an exported model or TensorRT engine path."""
    return Path(spec).suffix in (".onnx",) + _ENGINE_SUFFIXES


def load(spec: str, **kwargs: Any) -> RuntimePolicy:
    """The exported model at ``spec`` behind a :class:`RuntimePolicy`."""
    return RuntimePolicy(open_runtime(spec, embodiment=None, **kwargs), name=spec)
