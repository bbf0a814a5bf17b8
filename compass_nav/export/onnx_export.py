"""ONNX export of any :class:`~compass_nav.runtime.exportable.ExportablePolicy`.

``compass-nav export onnx`` (:mod:`compass_nav.export.cli`) calls
:func:`export_onnx`. Choices pinned here, and why:

* Opset :data:`OPSET` = 18: native to torch's dynamo exporter (no version conversion pass),
  has ``LayerNormalization`` (17+) as one node, and is fully supported by onnxruntime 1.31
  and TensorRT 10's ONNX parser.
* Exporter: torch's dynamo exporter (``torch.export`` + onnxscript, ``dynamo=True``). On
  this model it gives a graph about half the size of the TorchScript exporter's (no
  ``Constant``/``Identity``/``Shape`` clutter), with every output shape static except the
  batch axis, while the TorchScript exporter left the recurrent outputs' sizes symbolic
  (``Addh_new_dim_1``); the TorchScript exporter is also deprecated in torch 2.x.
* One dynamic axis, ``batch`` (every input's and output's first axis); the image size is
  fixed and recorded in the metadata, the runtime resizes (see
  :mod:`compass_nav.runtime.preprocess`).

After writing, the file is checked with ``onnx.checker`` (full check, with shape inference)
and run with onnxruntime on random inputs at two batch sizes against the torch module.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import logging
import shlex
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from compass_nav.runtime.errors import ModelFileError
from compass_nav.runtime.exportable import ExportablePolicy
from compass_nav.runtime.metadata import PREPROCESSING, ModelMetadata
from compass_nav.utils.errors import ConfigError, ModelError

__all__ = ["EXPORTER", "OPSET", "ExportReport", "default_command", "export_onnx", "git_commit"]

OPSET = 18
EXPORTER = "torch.onnx.export(dynamo=True)"
#: Largest |onnxruntime - torch| accepted by the post-export self-check.
SELF_CHECK_TOL = 1e-4


@dataclasses.dataclass
class ExportReport:
    """What :func:`export_onnx` produced.

    Attributes:
        path: The ``.onnx`` file.
        size_bytes: Its size.
        nodes: Graph nodes.
        opset: ONNX opset of the default domain.
        max_abs_diff: Largest |onnxruntime - torch| over every output of the self-check.
        seconds: Export wall time.
        metadata: What the file carries.
    """

    path: Path
    size_bytes: int
    nodes: int
    opset: int
    max_abs_diff: float
    seconds: float
    metadata: ModelMetadata


def git_commit() -> str:
    """Commit of the checkout the package runs from.

    ``+dirty`` is appended when tracked files have uncommitted changes; ``unknown`` outside
    a git checkout.
    """
    from compass_nav.utils.paths import in_checkout, repo_root

    if not in_checkout():
        return "unknown"
    root = str(repo_root())
    try:
        head = subprocess.run(
            ["git", "-C", root, "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", root, "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def default_command() -> str:
    """This process's command line, with the CLI spelled ``compass-nav``."""
    argv = list(sys.argv)
    if argv and Path(argv[0]).name in ("compass-nav", "cli.py", "__main__.py"):
        argv[0] = "compass-nav"
    return shlex.join(argv)


def _versions() -> dict[str, str]:
    import onnx

    from compass_nav import __version__

    out = {
        "compass_nav": __version__,
        "torch": torch.__version__,
        "onnx": onnx.__version__,
        "opset": str(OPSET),
        "exporter": EXPORTER,
    }
    try:
        import onnxscript

        out["onnxscript"] = onnxscript.__version__
    except ImportError:  # pragma: no cover - onnxscript is a pinned dependency
        pass
    return out


def _to_proto(module: ExportablePolicy, opset: int):
    """Trace ``module`` with the dynamo exporter; returns the ONNX ModelProto."""
    inputs = module.dummy_inputs(batch=2)
    batch = torch.export.Dim("batch", min=1, max=65536)
    # forward(*inputs) is one variadic parameter to torch.export: one tuple of specs.
    dynamic = (tuple({0: batch} for _ in inputs),)
    # The exporter reports its progress on stdout and warns about optional packages
    # (torchvision) through logging; neither is useful to a user of this command.
    quiet = logging.getLogger("torch.onnx")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                module,
                inputs,
                input_names=module.input_names(),
                output_names=module.output_names(),
                dynamic_shapes=dynamic,
                opset_version=opset,
                dynamo=True,
                optimize=True,
                external_data=False,
                verbose=False,
            )
    finally:
        quiet.setLevel(level)
    return program.model_proto


def _self_check(module: ExportablePolicy, data: bytes) -> float:
    """Max |onnxruntime - torch| over all outputs at batch 1 and 3 (random inputs)."""
    import onnxruntime as ort

    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    names = module.input_names()
    worst = 0.0
    for b in (1, 3):
        inputs = module.dummy_inputs(batch=b, seed=b)
        got = sess.run(
            module.output_names(), {n: t.numpy() for n, t in zip(names, inputs, strict=True)}
        )
        with torch.inference_mode():
            want = module(*inputs)
        for name, g, w in zip(module.output_names(), got, want, strict=True):
            if g.shape != tuple(w.shape):
                raise ModelError(
                    f"export self-check: output shape {g.shape} at batch {b}, "
                    f"torch gives {tuple(w.shape)}"
                )
            for side, value in (("onnxruntime", g), ("torch", w.numpy())):
                if not np.isfinite(value).all():
                    raise ModelError(
                        f"export self-check: {side} output {name!r} at batch {b} is not "
                        "finite (NaN or inf); the model's weights or inputs are broken"
                    )
            worst = max(worst, float(np.max(np.abs(g - w.numpy()))))
    return worst


def export_onnx(
    module: ExportablePolicy,
    out: str | Path,
    opset: int = OPSET,
    command: str | None = None,
    extra: dict[str, Any] | None = None,
) -> ExportReport:
    """Export ``module`` to ``out`` with its metadata, check it, self-test it.

    Args:
        module: The policy (put in eval mode here).
        out: Destination ``.onnx`` (written atomically).
        opset: ONNX opset (default and tested: :data:`OPSET`).
        command: The command recorded as provenance (default: this process's argv).
        extra: More metadata entries (merged over the provenance).

    Returns:
        An :class:`ExportReport`.

    Raises:
        ModelError: The checker rejects the graph, or onnxruntime disagrees with torch by
            more than :data:`SELF_CHECK_TOL`.
    """
    import onnx

    from compass_nav.utils.atomic import atomic_write_bytes

    t0 = time.perf_counter()
    out = Path(out)
    if out.suffix != ".onnx":
        raise ModelFileError(f"out={str(out)!r}: an ONNX export must end in .onnx")
    if opset < OPSET:
        # Measured: at 17 the down-conversion keeps opset-18 attributes (Split num_outputs)
        # and onnx.checker rejects the graph.
        raise ConfigError(
            f"opset={opset}: the dynamo exporter emits opset {OPSET} ops; use "
            f"{OPSET} (tested) or newer"
        )
    module = module.eval()
    provenance = {
        "preprocessing": PREPROCESSING,
        "training_config": module.training_config(),
        "command": command or default_command(),
        "git_commit": git_commit(),
        "versions": _versions(),
        "source": module.source_info(),
        **(extra or {}),
    }
    meta = module.metadata(provenance)
    proto = _to_proto(module, opset)
    proto.producer_name = "compass_nav"
    proto.doc_string = (
        f"compass_nav {meta.kind} policy: inputs "
        f"{', '.join(t.name for t in meta.inputs)}; outputs "
        f"{', '.join(t.name for t in meta.outputs)}. See the compass_nav.* "
        "metadata and docs/EXPORT.md."
    )
    del proto.metadata_props[:]
    for k, v in meta.to_props().items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v
    try:
        onnx.checker.check_model(proto, full_check=True)
    except onnx.checker.ValidationError as exc:
        raise ModelError(f"onnx.checker rejects the exported graph: {exc}") from None
    data = proto.SerializeToString()
    diff = _self_check(module, data)
    if not diff <= SELF_CHECK_TOL:
        raise ModelError(
            f"export self-check: onnxruntime and torch differ by {diff:.3g} "
            f"(> {SELF_CHECK_TOL}); the graph is not faithful"
        )
    atomic_write_bytes(out, data)
    opset_found = next(
        (o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), opset
    )
    return ExportReport(
        path=out,
        size_bytes=len(data),
        nodes=len(proto.graph.node),
        opset=int(opset_found),
        max_abs_diff=diff,
        seconds=time.perf_counter() - t0,
        metadata=meta,
    )
