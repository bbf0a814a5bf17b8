"""Closed-loop evaluation harness shared by every stage (``compass-nav evaluate run``).

Modules: :mod:`.config` (:class:`EvalConfig`), :mod:`.harness` (:func:`evaluate`,
:class:`EvalResult`), :mod:`.metrics` (pure metric functions), :mod:`.report` (json/csv/md,
plots, comparisons), :mod:`.failure_clips` (failure GIFs), :mod:`.cli` (the subcommand, listed in
``compass_nav.cli.COMMAND_MODULES``). See docs/EVALUATION.md.
"""

from compass_nav.evaluation.config import EvalConfig
from compass_nav.evaluation.harness import EvalResult, evaluate

__all__ = ["EvalConfig", "EvalResult", "evaluate"]
