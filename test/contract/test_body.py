"""Embodiment registry and YAML validation: every bad field is named with its value."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import yaml

from compass_nav.contract.body import (
    DESCRIPTOR_DIM,
    DESCRIPTOR_FIELDS,
    embodiments_dir,
    get_embodiment,
    list_embodiments,
    load_embodiment_file,
)
from compass_nav.utils.errors import ConfigError

GOOD = yaml.safe_load((embodiments_dir() / "carter.yaml").read_text())


def _write(tmp_path: Path, **changes) -> Path:
    data = {**GOOD, **changes}
    data = {k: v for k, v in data.items() if v is not None}
    path = tmp_path / "robot.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_every_registered_file_loads_with_matching_name():
    names = list_embodiments()
    assert names == sorted(p.stem for p in embodiments_dir().glob("*.yaml"))
    for name in names:
        spec = get_embodiment(name)
        assert spec.name == name
        assert spec.split in ("train", "heldout")


def test_descriptor_dims_and_values():
    assert DESCRIPTOR_DIM == len(DESCRIPTOR_FIELDS) > 15  # 15 original fields, then appended
    for name in list_embodiments():
        b = get_embodiment(name)
        d = b.descriptor()
        assert d.shape == (DESCRIPTOR_DIM,) and d.dtype == np.float32
        assert np.isfinite(d).all()
        values = dict(zip(DESCRIPTOR_FIELDS, d.tolist(), strict=True))
        assert values["max_vx"] == pytest.approx(b.max_vx)
        assert values["min_vx"] == pytest.approx(b.min_vx)
        assert values["camera_height"] == pytest.approx(b.camera_height)
        assert values["camera_hfov"] == pytest.approx(np.radians(b.camera_hfov_deg))
        assert values["holonomic"] == (1.0 if b.max_vy > 0 else 0.0)
    # Bodies are distinguishable from their descriptors alone (no one-hot needed).
    table = np.stack([get_embodiment(n).descriptor() for n in list_embodiments()])
    assert len({tuple(row) for row in table.tolist()}) == len(table)


def test_user_file_loads_by_path(tmp_path):
    path = _write(tmp_path, description="my robot")
    spec = get_embodiment(str(path))
    assert spec.name == "robot" and spec.description == "my robot"
    assert (
        dataclasses.replace(spec, name="carter").descriptor().tolist()
        == get_embodiment("carter").descriptor().tolist()
    )


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"max_vx": -1.0}, "max_vx=-1.0"),
        ({"kind": "tank"}, "kind='tank'"),
        ({"split": "test"}, "split='test'"),
        ({"max_vy": 0.5}, "max_vy=0.5"),  # a wheeled body cannot strafe
        ({"min_vx": 0.2}, "min_vx=0.2"),
        ({"camera_hfov_deg": 200}, "camera_hfov_deg=200.0"),
        ({"lag_tau": -0.1}, "lag_tau=-0.1"),
        ({"max_vx": "fast"}, "max_vx='fast'"),
        ({"top_speed": 2.0}, "top_speed"),
        ({"width": None}, "width"),
    ],
)
def test_bad_file_names_the_field(tmp_path, changes, needle):
    path = _write(tmp_path, **changes)
    with pytest.raises(ConfigError) as exc:
        load_embodiment_file(path)
    assert needle in str(exc.value)


def test_unreadable_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_embodiment_file(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_embodiment_file(bad)
    listing = tmp_path / "list.yaml"
    listing.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_embodiment_file(listing)


def test_unknown_name_lists_known_ones():
    with pytest.raises(ConfigError) as exc:
        get_embodiment("tank")
    for name in list_embodiments():
        assert name in str(exc.value)
