"""Evaluation sweeps: many policies x bodies x families x route modes x seeds, as cells.

``compass-nav sweep run SPEC.yaml --out DIR`` (:mod:`compass_nav.sweep.cli`) expands a
:class:`~compass_nav.sweep.spec.SweepSpec` into cells (:mod:`compass_nav.sweep.spec`), runs
the ones not already stored with the same fingerprint on Ray or a local process pool
(:mod:`compass_nav.sweep.engine`) and writes the table and the report
(:mod:`compass_nav.sweep.report`). The pipeline's evaluation runs its cells through
:func:`run_cells` too.
"""

from compass_nav.sweep.engine import SweepOutcome, run_cells
from compass_nav.sweep.spec import Cell, SweepSpec, expand

__all__ = ["Cell", "SweepOutcome", "SweepSpec", "expand", "run_cells"]
