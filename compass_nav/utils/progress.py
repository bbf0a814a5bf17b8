"""Progress bars: every stage's bar is made here, so all of them look and behave alike.

Used by the recorders, trainers, evaluation and demo loops (``progress=False`` or
``--no-progress`` hides them); tqdm writes to stderr.
"""

from __future__ import annotations

from typing import Any

from tqdm import tqdm

__all__ = ["progress_bar"]


def progress_bar(
    total: int, desc: str, unit: str, enabled: bool = True, initial: int = 0, **kwargs: Any
) -> tqdm:
    """A bar over ``total`` units from ``initial`` (a resumed run) that fits the terminal.

    Hidden unless ``enabled``; ``kwargs`` go to tqdm (``leave``, ``mininterval``).
    """
    return tqdm(
        total=total,
        initial=initial,
        desc=desc,
        unit=unit,
        disable=not enabled,
        dynamic_ncols=True,
        **kwargs,
    )
