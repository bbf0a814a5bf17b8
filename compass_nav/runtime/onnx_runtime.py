"""Policy runtime over onnxruntime: the default way robots and the evaluator run a policy.

Opened by :func:`compass_nav.runtime.factory.open_runtime` for ``*.onnx`` paths (and for the
shipped default model). Execution providers are chosen by availability, TensorRT -> CUDA ->
CPU (:data:`PROVIDER_PREFERENCE`), or given explicitly with ``providers=``; an explicit
provider this onnxruntime build lacks is a :class:`ProviderUnavailableError` listing the
available ones. The model's metadata is parsed and checked against the session's real
inputs before the first step; state handling and input checks are :class:`GraphRuntime`'s.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from compass_nav.runtime.errors import MetadataError, ModelFileError, ProviderUnavailableError
from compass_nav.runtime.graph import GraphRuntime
from compass_nav.runtime.metadata import ModelMetadata, parse_metadata

__all__ = [
    "PROVIDER_PREFERENCE",
    "OnnxRuntime",
    "available_providers",
    "choose_providers",
    "read_onnx_metadata",
]

log = logging.getLogger(__name__)

#: Providers tried in this order when none is given (those present in the build are used).
PROVIDER_PREFERENCE: tuple[str, ...] = (
    "TensorrtExecutionProvider",
    "CUDAExecutionProvider",
    "CPUExecutionProvider",
)
_SHORT = {
    "tensorrt": "TensorrtExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "cpu": "CPUExecutionProvider",
}
_ORT_TYPES = {"tensor(uint8)": "uint8", "tensor(float)": "float32"}


def available_providers() -> list[str]:
    """Execution providers of the installed onnxruntime build."""
    import onnxruntime as ort

    return list(ort.get_available_providers())


def choose_providers(providers: Sequence[str] | None = None) -> list[str]:
    """Resolve the providers to use.

    Args:
        providers: None for TensorRT -> CUDA -> CPU as available; otherwise names in order of
            preference, full (``CUDAExecutionProvider``) or short (``cuda``, ``tensorrt``,
            ``cpu``).

    Raises:
        ProviderUnavailableError: An explicit provider this build does not have.
    """
    have = available_providers()
    if providers is None:
        return [p for p in PROVIDER_PREFERENCE if p in have]
    chosen = []
    for p in providers:
        full = _SHORT.get(p.lower(), p)
        if full not in have:
            raise ProviderUnavailableError(
                f"onnxruntime provider {p!r} is not available in this installation; "
                f"available: {', '.join(have)} (GPU providers need the 'gpu' extra: "
                "pip install 'compass_nav[gpu]', i.e. onnxruntime-gpu, and a CUDA device)"
            )
        chosen.append(full)
    return chosen


def _with_options(providers: list[str]) -> list:
    """Provider list for onnxruntime, with options.

    TensorRT gets a persistent engine cache: building its engines takes seconds to minutes
    at every start otherwise.
    """
    out: list = []
    for p in providers:
        if p == "TensorrtExecutionProvider":
            from compass_nav.runtime.tensorrt_runtime import cache_dir

            out.append(
                (
                    p,
                    {
                        "trt_engine_cache_enable": True,
                        "trt_engine_cache_path": str(cache_dir() / "onnxruntime"),
                    },
                )
            )
        else:
            out.append(p)
    return out


def _load_model_proto(path: Path):
    """Read the file as an ONNX model, or raise a :class:`ModelFileError` saying why not."""
    import onnx

    if not path.exists():
        raise ModelFileError(f"model file {path} does not exist")
    if not path.is_file():
        raise ModelFileError(f"model path {path} is not a file")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # noqa: BLE001 - protobuf raises many types for garbage
        raise ModelFileError(
            f"{path} is not an ONNX model or is corrupt ({type(exc).__name__}: {exc})"
        ) from None
    if not model.graph.node:
        raise ModelFileError(f"{path} is not an ONNX model or is corrupt (no graph nodes)")
    return model


def read_onnx_metadata(path: str | Path) -> ModelMetadata:
    """Parse the ``compass_nav.*`` metadata of an ONNX file (no session is created).

    Raises:
        ModelFileError: Missing, unreadable or non-ONNX file.
        MetadataError: See :func:`compass_nav.runtime.metadata.parse_metadata`.
    """
    path = Path(path)
    model = _load_model_proto(path)
    props = {p.key: p.value for p in model.metadata_props}
    return parse_metadata(props, str(path))


class OnnxRuntime(GraphRuntime):
    """Runs an exported ``.onnx`` policy with onnxruntime.

    Args:
        path: The ``.onnx`` file.
        providers: See :func:`choose_providers`.
        threads: Intra-op threads. Default 1: a policy step is a few hundred small
            kernels, and on a shared or busy CPU (the simulator's workers, a ROS executor)
            onnxruntime's spinning thread pool costs more than it gains (see BENCHMARKS.md,
            "Export and runtime"); 0 lets onnxruntime pick (one per core).
        descriptor: Embodiment descriptor for observations without one.
    """

    def __init__(
        self,
        path: str | Path,
        providers: Sequence[str] | None = None,
        threads: int = 1,
        descriptor: np.ndarray | None = None,
    ) -> None:
        import onnxruntime as ort

        self.path = Path(path)
        if not self.path.exists():
            raise ModelFileError(f"model file {self.path} does not exist")
        if not self.path.is_file():
            raise ModelFileError(f"model path {self.path} is not a file")
        self.providers = choose_providers(providers)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = int(threads)
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(
                str(self.path), opts, providers=_with_options(self.providers)
            )
        except Exception as exc:  # noqa: BLE001 - onnxruntime's own exception types
            raise ModelFileError(
                f"{self.path} is not an ONNX model or is corrupt: onnxruntime "
                f"cannot load it ({type(exc).__name__}: {exc})"
            ) from None
        props = dict(self.session.get_modelmeta().custom_metadata_map)
        super().__init__(parse_metadata(props, str(self.path)), descriptor)
        self._check_session()
        self._outputs = [o.name for o in self.session.get_outputs()]
        self.name = f"onnx:{self.path.name}"
        log.info("%s on %s", self.path, self.session.get_providers())

    def _check_session(self) -> None:
        """The graph's real inputs/outputs must be the ones the metadata describes."""
        got = {i.name: i for i in self.session.get_inputs()}
        for t in self.meta.inputs:
            i = got.get(t.name)
            if i is None:
                raise MetadataError(
                    f"{self.path}: metadata names input {t.name!r}, the graph's "
                    f"inputs are {sorted(got)}"
                )
            dtype = _ORT_TYPES.get(i.type, i.type)
            shape = tuple(i.shape[1:])
            if dtype != t.dtype or shape != t.shape:
                raise MetadataError(
                    f"{self.path}: input {t.name!r} is {dtype} {shape} in the "
                    f"graph, {t.dtype} {t.shape} in the metadata"
                )
        extra = sorted(set(got) - {t.name for t in self.meta.inputs})
        if extra:
            raise MetadataError(f"{self.path}: graph inputs {extra} are not in the metadata")
        outs = {o.name for o in self.session.get_outputs()}
        missing = [t.name for t in self.meta.outputs if t.name not in outs]
        if missing:
            raise MetadataError(
                f"{self.path}: metadata outputs {missing} are not in the graph "
                f"(it has {sorted(outs)})"
            )

    def _run(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        values = self.session.run(self._outputs, feed)
        return dict(zip(self._outputs, values, strict=True))
