"""Result files are strict JSON: NaN and infinities are written as null."""

from __future__ import annotations

import json

import numpy as np
import pytest

from compass_nav.utils.atomic import atomic_write_json
from compass_nav.utils.jsonsafe import dumps


def _strict(text: str):
    def refuse(name: str):
        raise ValueError(f"not JSON: {name}")

    return json.loads(text, parse_constant=refuse)


def test_non_finite_values_are_written_as_null(tmp_path):
    obj = {
        "nan": float("nan"),
        "inf": float("inf"),
        "row": (1.5, -float("inf"), np.float32("nan")),
        "array": np.array([1.0, np.nan]),
        "int": np.int64(3),
        "flag": True,
        "nested": [{"spl": np.float64(0.25)}],
    }
    atomic_write_json(tmp_path / "summary.json", obj)
    got = _strict((tmp_path / "summary.json").read_text())
    assert got == {
        "nan": None,
        "inf": None,
        "row": [1.5, None, None],
        "array": [1.0, None],
        "int": 3,
        "flag": True,
        "nested": [{"spl": 0.25}],
    }
    assert _strict(dumps({"x": float("nan")})) == {"x": None}


def test_strict_parser_refuses_nan():
    with pytest.raises(ValueError, match="NaN"):
        _strict('{"x": NaN}')
