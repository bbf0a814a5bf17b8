"""The one-command chain: demos -> IL -> specialists -> generalist -> evaluation table.

:mod:`.runner` (``run_pipeline``, :class:`PipelineConfig`, the chain's evaluation and
table) drives every stage package; :mod:`.cli` adds ``compass-nav pipeline run``.
"""
