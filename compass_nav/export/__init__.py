"""Export of trained policies: ONNX (every kind), TensorRT engines where a GPU has TensorRT.

Wiring: :mod:`.contract` (the :class:`ExportablePolicy` interface every policy kind
implements), :mod:`.sources` (checkpoint -> exportable module, one builder per checkpoint
kind), :mod:`.adapters` (adapters of the X-Mobility-based policies: IL base, specialists,
generalist), :mod:`.onnx_export` (graph, metadata, checker, self-check), :mod:`.parity`
(recorded-episode and closed-loop parity of two runtimes), :mod:`.cli` (``compass-nav
export``, listed in ``compass_nav.cli.COMMAND_MODULES``). TensorRT engines are built by
:mod:`compass_nav.runtime.tensorrt_runtime`; the runtimes that run every result are in
:mod:`compass_nav.runtime`. See docs/EXPORT.md.

Nothing is imported here so that ``import compass_nav.export.cli`` stays light (the CLI
builds its parser before torch is needed).
"""
