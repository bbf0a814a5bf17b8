"""TensorRT engines: building them from an exported ONNX file (cached) and running them.

``compass-nav export tensorrt`` calls :func:`build_engine`;
:func:`compass_nav.runtime.factory.open_runtime` opens ``*.engine`` / ``*.plan`` files with
:class:`TensorRTRuntime`. An engine is specific to a GPU model and a TensorRT version, so:

* Engines are cached under :func:`cache_dir` keyed by GPU name + TensorRT version + the ONNX
  file's sha256 + precision + batch profile (:func:`engine_key`); a second build with the
  same key reuses the file.
* Each engine has a JSON file next to it (``<engine>.json``) holding the ONNX model's
  ``compass_nav.*`` metadata (TensorRT engines carry none) and the key's parts; opening an
  engine built for another GPU or TensorRT version is a specific error.

Requirements (the ``gpu`` extra plus a CUDA build of torch): the ``tensorrt`` Python
package, an NVIDIA GPU with its driver, and torch with CUDA (its tensors are the device
buffers, so no further CUDA binding is needed). Without them every entry point raises a
:class:`BackendUnavailableError` saying exactly which of them is missing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from compass_nav.runtime.errors import (
    BackendUnavailableError,
    MetadataError,
    ModelFileError,
)
from compass_nav.runtime.graph import GraphRuntime
from compass_nav.runtime.metadata import parse_metadata
from compass_nav.utils.files import file_sha256

__all__ = [
    "CACHE_ENV",
    "TensorRTRuntime",
    "build_engine",
    "cache_dir",
    "engine_key",
    "require_tensorrt",
    "tensorrt_missing",
]

log = logging.getLogger(__name__)

CACHE_ENV = "COMPASS_NAV_TRT_CACHE"
ENGINE_SUFFIXES = (".engine", ".plan")
_GPU_HINT = (
    "install the 'gpu' extra (pip install 'compass_nav[gpu]': tensorrt, "
    "onnxruntime-gpu) and a CUDA build of torch on a machine with an NVIDIA GPU"
)


def tensorrt_missing() -> list[str]:
    """What is missing to build or run TensorRT engines here (empty when nothing is)."""
    missing = []
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        missing.append("the 'tensorrt' Python package is not installed")
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        missing.append("torch is not installed")
        return missing
    if torch.version.cuda is None:
        # torch cannot look for a GPU; the kernel driver's files tell whether one exists.
        if not (Path("/proc/driver/nvidia/gpus").is_dir() or Path("/dev/nvidia0").exists()):
            missing.append(
                "no NVIDIA GPU driver is loaded (no /proc/driver/nvidia/gpus, no "
                "/dev/nvidia0): this machine has no usable CUDA device"
            )
        missing.append(
            f"torch {torch.__version__} is a CPU-only build (TensorRT buffers need "
            "a CUDA build of torch)"
        )
    elif not torch.cuda.is_available() or torch.cuda.device_count() == 0:
        missing.append(
            "no CUDA device is visible (no NVIDIA GPU, driver not loaded, or "
            "CUDA_VISIBLE_DEVICES hides it)"
        )
    return missing


def require_tensorrt(what: str) -> None:
    """Raise :class:`BackendUnavailableError` naming everything ``what`` lacks."""
    missing = tensorrt_missing()
    if missing:
        raise BackendUnavailableError(
            f"{what} needs TensorRT and a CUDA GPU: {'; '.join(missing)}. To get it: {_GPU_HINT}"
        )


def cache_dir() -> Path:
    """Engine cache folder: ``$COMPASS_NAV_TRT_CACHE`` or ``~/.cache/compass_nav/tensorrt``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "compass_nav" / "tensorrt"


def _device() -> dict[str, str]:
    import tensorrt as trt
    import torch

    return {"gpu": torch.cuda.get_device_name(0), "tensorrt": trt.__version__}


def engine_key(
    onnx_sha256: str, gpu: str, trt_version: str, fp16: bool, max_batch: int, opt_batch: int
) -> str:
    """Cache key of an engine: everything that makes two engines differ."""
    text = json.dumps([onnx_sha256, gpu, trt_version, bool(fp16), int(max_batch), int(opt_batch)])
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _sidecar(engine: Path) -> Path:
    return engine.with_name(engine.name + ".json")


def build_engine(
    onnx_path: str | Path,
    fp16: bool = False,
    out: str | Path | None = None,
    max_batch: int = 64,
    opt_batch: int = 1,
    workspace_mb: int = 1024,
    cache: str | Path | None = None,
) -> Path:
    """Build (or reuse from the cache) a TensorRT engine for an exported ONNX policy.

    Args:
        onnx_path: The exported ``.onnx`` file (its metadata is copied to the sidecar).
        fp16: Allow FP16 kernels (TensorRT keeps FP32 where FP16 would be unsafe).
        out: Also copy the engine (and its sidecar) to this path.
        max_batch: Largest batch of the optimisation profile (smallest is 1).
        opt_batch: Batch the kernels are tuned for (1 for a robot).
        workspace_mb: Builder workspace memory limit.
        cache: Cache folder (default :func:`cache_dir`).

    Returns:
        ``out`` if given, else the cached engine's path.

    Raises:
        BackendUnavailableError: TensorRT, torch CUDA or a GPU is missing (named).
        ModelFileError: Missing/non-ONNX file, or TensorRT's parser rejects the graph.
        MetadataError: The ONNX file has no valid compass_nav metadata.
    """
    onnx_path = Path(onnx_path)
    if not onnx_path.is_file():
        raise ModelFileError(f"ONNX file {onnx_path} does not exist")
    from compass_nav.runtime.onnx_runtime import read_onnx_metadata

    meta = read_onnx_metadata(onnx_path)
    require_tensorrt("building a TensorRT engine")
    import tensorrt as trt

    dev = _device()
    onnx_hash = file_sha256(onnx_path)
    key = engine_key(onnx_hash, dev["gpu"], dev["tensorrt"], fp16, max_batch, opt_batch)
    folder = Path(cache) if cache is not None else cache_dir()
    engine = folder / f"{onnx_path.stem}-{'fp16' if fp16 else 'fp32'}-{key}.engine"
    if not (engine.is_file() and _sidecar(engine).is_file()):
        logger = trt.Logger(trt.Logger.WARNING)
        builder = trt.Builder(logger)
        network = builder.create_network(0)  # explicit batch is the only mode in TRT 10
        parser = trt.OnnxParser(network, logger)
        if not parser.parse_from_file(str(onnx_path)):
            errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
            raise ModelFileError(f"TensorRT cannot parse {onnx_path}: {errors}")
        config = builder.create_builder_config()
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_mb << 20)
        if fp16:
            config.set_flag(trt.BuilderFlag.FP16)
        profile = builder.create_optimization_profile()
        for t in meta.inputs:
            profile.set_shape(
                t.name, (1,) + t.shape, (opt_batch,) + t.shape, (max_batch,) + t.shape
            )
        config.add_optimization_profile(profile)
        serialized = builder.build_serialized_network(network, config)
        if serialized is None:
            raise ModelFileError(
                f"TensorRT failed to build an engine from {onnx_path} (see its log above)"
            )
        from compass_nav.utils.atomic import atomic_write_bytes, atomic_write_json

        atomic_write_bytes(engine, bytes(memoryview(serialized)))
        from compass_nav.runtime.onnx_runtime import _load_model_proto

        props = {p.key: p.value for p in _load_model_proto(onnx_path).metadata_props}
        atomic_write_json(
            _sidecar(engine),
            {
                "metadata_props": props,
                "gpu": dev["gpu"],
                "tensorrt": dev["tensorrt"],
                "onnx": str(onnx_path),
                "onnx_sha256": onnx_hash,
                "fp16": bool(fp16),
                "max_batch": int(max_batch),
                "opt_batch": int(opt_batch),
                "key": key,
            },
        )
        log.info("built %s", engine)
    else:
        log.info("reusing cached engine %s", engine)
    if out is None:
        return engine
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(engine, out)
    shutil.copyfile(_sidecar(engine), _sidecar(out))
    return out


def read_engine_sidecar(engine: str | Path) -> dict[str, Any]:
    """The JSON written next to an engine by :func:`build_engine`.

    Raises:
        ModelFileError: Missing engine.
        MetadataError: Missing or unreadable sidecar.
    """
    engine = Path(engine)
    if not engine.is_file():
        raise ModelFileError(f"engine file {engine} does not exist")
    side = _sidecar(engine)
    if not side.is_file():
        raise MetadataError(
            f"{engine}: its metadata file {side.name} is missing (engines "
            "carry no metadata; build them with compass-nav export tensorrt, "
            "which writes it)"
        )
    try:
        return json.loads(side.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise MetadataError(f"{side}: unreadable ({exc})") from None


class TensorRTRuntime(GraphRuntime):
    """Runs a TensorRT engine built by :func:`build_engine` (dynamic batch up to its profile).

    Args:
        engine_path: The ``.engine`` / ``.plan`` file (with its ``.json`` sidecar).
        descriptor: Embodiment descriptor for observations without one.
    """

    def __init__(self, engine_path: str | Path, descriptor: np.ndarray | None = None) -> None:
        self.path = Path(engine_path)
        side = read_engine_sidecar(self.path)
        meta = parse_metadata(side.get("metadata_props", {}), str(self.path))
        require_tensorrt(f"running the TensorRT engine {self.path}")
        import tensorrt as trt
        import torch

        dev = _device()
        if (side.get("gpu"), side.get("tensorrt")) != (dev["gpu"], dev["tensorrt"]):
            raise ModelFileError(
                f"{self.path} was built for GPU {side.get('gpu')!r} with TensorRT "
                f"{side.get('tensorrt')}; this machine has {dev['gpu']!r} with TensorRT "
                f"{dev['tensorrt']}: rebuild it with `compass-nav export tensorrt "
                f"--onnx {side.get('onnx', 'MODEL.onnx')}`"
            )
        super().__init__(meta, descriptor)
        self.max_batch = int(side.get("max_batch", 1))
        self._logger = trt.Logger(trt.Logger.WARNING)
        self._rt = trt.Runtime(self._logger)
        self.engine = self._rt.deserialize_cuda_engine(self.path.read_bytes())
        if self.engine is None:
            raise ModelFileError(f"TensorRT cannot deserialize {self.path} (corrupt file?)")
        self.context = self.engine.create_execution_context()
        self._torch = torch
        self._stream = torch.cuda.Stream()
        self.fp16 = bool(side.get("fp16", False))
        self.name = f"tensorrt:{self.path.name}"

    def _run(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        torch = self._torch
        batch = next(iter(feed.values())).shape[0]
        if batch > self.max_batch:
            raise ModelFileError(
                f"{self.path}: batch {batch} exceeds the engine's profile "
                f"(max_batch={self.max_batch}); rebuild with a larger "
                "--max-batch"
            )
        keep = []
        with torch.cuda.stream(self._stream):
            for t in self.meta.inputs:
                x = torch.from_numpy(feed[t.name]).cuda(non_blocking=False)
                keep.append(x)
                self.context.set_input_shape(t.name, tuple(x.shape))
                self.context.set_tensor_address(t.name, x.data_ptr())
            outs = {}
            for t in self.meta.outputs:
                y = torch.empty((batch,) + t.shape, dtype=torch.float32, device="cuda")
                outs[t.name] = y
                self.context.set_tensor_address(t.name, y.data_ptr())
            if not self.context.execute_async_v3(self._stream.cuda_stream):
                raise ModelFileError(f"{self.path}: TensorRT execution failed")
        self._stream.synchronize()
        return {k: v.cpu().numpy() for k, v in outs.items()}
