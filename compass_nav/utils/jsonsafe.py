"""Strict JSON for every result file: NaN and infinities become ``null``.

Python's ``json`` writes ``NaN``/``Infinity``, which are not JSON: strict parsers (``jq``,
browsers, most languages) reject such files. Every JSON the package writes goes through
:func:`dumps` (``compass_nav.utils.atomic.atomic_write_json`` calls it), which converts
non-finite floats to ``null``, numpy scalars and arrays to plain numbers and lists, and
writes with ``allow_nan=False`` so that nothing non-finite slips through.
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["dumps", "json_safe"]


def json_safe(obj: Any) -> Any:
    """``obj`` with every non-finite float as ``None`` and numpy values as plain Python.

    Dicts, lists and tuples are walked (tuples become lists); other objects are returned
    unchanged, so ``json.dumps`` still rejects what it cannot write.
    """
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, bool) or obj is None or isinstance(obj, (int, str)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    tolist = getattr(obj, "tolist", None)  # numpy scalars and arrays
    if callable(tolist) and type(obj).__module__ == "numpy":
        return json_safe(tolist())
    return obj


def dumps(obj: Any, **kwargs: Any) -> str:
    """``json.dumps`` of :func:`json_safe` ``(obj)`` with ``allow_nan=False``."""
    return json.dumps(json_safe(obj), allow_nan=False, **kwargs)
