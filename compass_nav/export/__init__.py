"""Export of trained policies: ONNX (every kind), TensorRT engines where a GPU has TensorRT.

Wiring: :mod:`.contract` (the :class:`ExportablePolicy` interface every policy kind
implements), :mod:`.sources` (checkpoint -> exportable module, one builder per checkpoint
kind), :mod:`.il_base` (the IL world-model adapter), :mod:`.onnx_export` (graph, metadata,
checker, self-check), :mod:`.tensorrt_build` (engines and their cache), :mod:`.parity`
(recorded-episode parity of two runtimes), :mod:`.cli` (``compass-nav export``, listed in
``compass_nav.cli.COMMAND_MODULES``). Runtimes that run the results are in
:mod:`compass_nav.runtime`. See docs/EXPORT.md.

Nothing is imported here so that ``import compass_nav.export.cli`` stays light (the CLI
builds its parser before torch is needed).
"""
