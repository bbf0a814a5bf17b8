"""The log format's validation: every problem listed, files refused by name."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from compass_nav.contract.body import get_embodiment
from compass_nav.logs import LogDataset, LogEpisode, LogWriter, body_key, read_log_meta
from compass_nav.utils.errors import ConfigError, DataError


def _episode(T: int = 4, **over) -> LogEpisode:
    fields = dict(
        stamp=np.arange(T) * 0.1,
        rgb=np.zeros((T, 8, 8, 3), np.uint8),
        depth=np.ones((T, 8, 8), np.float32),
        odom_pose=np.zeros((T, 3)),
        odom_twist=np.zeros((T, 3), np.float32),
        action=np.zeros((T, 3), np.float32),
        goal=np.array([1.0, 2.0, 0.0]),
        routes=[np.array([[0.0, 0.0], [1.0, 2.0]])],
        route_stamps=np.zeros(1),
        route_index=np.zeros(T, np.int32),
        body=get_embodiment("carter"),
        attrs={
            "source": "sim",
            "robot": "carter",
            "split": "train",
            "control_hz": 10.0,
            "outcome": "success",
            "outcome_source": "test",
            "origin": {},
            "import_counts": {},
        },
    )
    fields.update(over)
    return LogEpisode(**fields)


def test_body_key_is_by_content():
    carter = get_embodiment("carter")
    moved = dataclasses.replace(carter, camera_height=carter.camera_height + 0.1)
    assert body_key(carter).startswith("carter-") and body_key(carter) != body_key(moved)


def test_writer_lists_every_problem(tmp_path):
    bad = _episode(
        stamp=np.array([0.0, 0.1, 0.1, 0.3]),
        depth=-np.ones((4, 8, 8), np.float32),
        action=np.zeros((4, 2), np.float32),
        route_index=np.array([0, 1, -1, -2], np.int32),
    )
    bad.attrs["outcome"] = "crashed"
    w = LogWriter(tmp_path / "logs", 10.0)
    with pytest.raises(DataError) as err:
        w.write(bad)
    text = str(err.value)
    for part in (
        "depth holds negative values",
        "action has shape (4, 2), expected (4, 3)",
        "stamp is not strictly increasing",
        "stamp steps range over [0, 0.2] s, expected one control period",
        "route_index has values outside [-1, 0]",
        "outcome='crashed'",
    ):
        assert part in text
    assert w.write(_episode()) == 0


def test_reader_refuses_bad_files_by_name(tmp_path):
    root = tmp_path / "logs"
    w = LogWriter(root, 10.0)
    w.write(_episode())
    w.write(_episode(depth=None))
    w.finish({"source": "sim"})
    ds = LogDataset(root)
    assert ds[1].depth is None and ds.summary()["with_depth"] == 1
    assert len(LogDataset(root, where={"split": ["train"]})) == 2
    assert len(LogDataset(root, where={"split": ["heldout"], "source": ["sim"]})) == 0
    with pytest.raises(ConfigError, match="unknown attribute"):
        LogDataset(root, where={"colour": ["red"]})
    # a truncated file
    data = ds.paths[0].read_bytes()
    ds.paths[0].write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="ep_000000.npz"):
        LogDataset(root)[0]
    # another control rate cannot be appended
    with pytest.raises(DataError, match="control_hz=10.0"):
        LogWriter(root, 20.0)
    # a body whose spec no longer hashes to its key
    meta = json.loads((root / "meta.json").read_text())
    key = next(iter(meta["bodies"]))
    meta["bodies"][key]["max_vx"] = 2.9
    (root / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(DataError, match="its content hashes to"):
        read_log_meta(root)


def test_not_a_log_folder(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "file").write_text("")
    with pytest.raises(DataError, match="not empty and not a log dataset"):
        LogWriter(tmp_path / "x", 10.0)
    with pytest.raises(DataError, match="is not a log dataset"):
        LogDataset(tmp_path / "x")
    with pytest.raises(DataError, match="does not exist"):
        LogDataset(tmp_path / "nope")
