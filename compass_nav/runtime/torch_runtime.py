"""Policy runtime over a torch checkpoint: the reference the exported graphs are checked against.

Opened by :func:`compass_nav.runtime.factory.open_runtime` for ``*.pt`` files and run folders.
It runs the very module the exporter traces (:func:`compass_nav.runtime.sources.
load_exportable`), behind the same :class:`GraphRuntime` (same input checks, same resize,
same state handling), so the ONNX and torch runtimes differ only in the graph executor.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from compass_nav.runtime.graph import GraphRuntime

__all__ = ["TorchRuntime"]


class TorchRuntime(GraphRuntime):
    """Runs a checkpoint (or an :class:`ExportablePolicy`) with torch on the CPU.

    Args:
        source: A ``.pt`` checkpoint, a run folder, or an already built exportable module.
        threads: torch intra-op threads (process-wide setting; None leaves it alone).
        descriptor: Embodiment descriptor for observations without one.
    """

    def __init__(
        self, source, threads: int | None = None, descriptor: np.ndarray | None = None
    ) -> None:
        import torch

        from compass_nav.runtime.exportable import ExportablePolicy
        from compass_nav.runtime.sources import load_exportable

        if threads is not None:
            torch.set_num_threads(int(threads))
        if isinstance(source, ExportablePolicy):
            self.module = source.eval()
            self.name = f"torch:{type(source).__name__}"
        else:
            self.module = load_exportable(source)
            self.name = f"torch:{Path(source).name}"
        super().__init__(self.module.metadata(), descriptor)
        self._names = [t.name for t in self.meta.inputs]
        self._outputs = [t.name for t in self.meta.outputs]

    def _run(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        import torch

        with torch.inference_mode():
            out = self.module(*[torch.from_numpy(feed[n]) for n in self._names])
        return {n: o.numpy() for n, o in zip(self._outputs, out, strict=True)}
