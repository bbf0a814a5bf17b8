"""Reader tests: errors on bad folders/files, filters and summary, LRU cache, sequence windows
with is_first/mask, and the ``compass-nav teacher`` commands."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from compass_nav import cli
from compass_nav.contract.body import DESCRIPTOR_DIM
from compass_nav.data import DemoDataset, SequenceDataset
from compass_nav.data import format as fmt
from compass_nav.utils.errors import DataError


@pytest.fixture()
def copy_of(small_demos: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "copy"
    shutil.copytree(small_demos, dst)
    return dst


def test_missing_folder_meta_and_bad_meta(tmp_path: Path, copy_of: Path):
    with pytest.raises(DataError, match="does not exist"):
        DemoDataset(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="meta.json is missing"):
        DemoDataset(tmp_path / "empty")
    meta_path = copy_of / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**meta, "version": 99}))
    with pytest.raises(DataError, match="version=99"):
        DemoDataset(copy_of)
    meta_path.write_text(json.dumps({**meta, "format": "something.else"}))
    with pytest.raises(DataError, match="something.else"):
        DemoDataset(copy_of)
    meta_path.write_text('{"format": "compass_nav.demos", ')
    with pytest.raises(DataError, match="corrupt"):
        DemoDataset(copy_of)


def test_corrupt_episode_names_the_file(copy_of: Path):
    _, victim = fmt.list_episode_files(copy_of)[2]
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 2])  # truncated: the zip directory is gone
    ds = DemoDataset(copy_of)
    assert len(ds) == 6  # listing needs only names
    ds[0]
    with pytest.raises(DataError, match=victim.name):
        ds[2]
    with pytest.raises(DataError, match=victim.name):
        ds.summary()
    victim.write_bytes(b"not a zip at all")
    with pytest.raises(DataError, match=victim.name):
        DemoDataset(copy_of, success_only=True)


def test_filters_summary_and_cache(small_demos: Path):
    ds = DemoDataset(small_demos, cache_size=2)
    summary = ds.summary()
    assert summary["episodes"] == 6
    assert summary["steps"] == int(ds.lengths().sum())
    assert set(summary["by_family"]) <= {"hall", "office"}
    assert sum(r["episodes"] for r in summary["by_family"].values()) == 6
    assert ds.meta["counts"] == summary  # the recorder keeps meta.json's counts current
    hall = ds.filter(families=["hall"])
    assert 0 < len(hall) < 6 and all(hall.attrs(i)["family"] == "hall" for i in range(len(hall)))
    wins = DemoDataset(small_demos, success_only=True)
    assert len(wins) == summary["success"]
    assert len(DemoDataset(small_demos, embodiments=["spot"])) == 0
    a = ds[0]
    assert ds[0]["rgb"] is a["rgb"]  # served from the cache, not decoded again
    ds[1]
    ds[2]
    assert len(ds._cache) == 2 and ds[0]["rgb"] is not a["rgb"]  # evicted, then reloaded
    assert not a["rgb"].flags.writeable
    np.testing.assert_array_equal(ds[0]["rgb"], a["rgb"])
    with pytest.raises(IndexError):
        ds[6]


def test_sequence_windows_flags_and_content(small_demos: Path):
    ds = DemoDataset(small_demos)
    lengths = ds.lengths()
    L, stride = 12, 5
    seq = SequenceDataset(ds, L, stride=stride)
    covered = [np.zeros(n, bool) for n in lengths]
    for j in range(len(seq)):
        item = seq[j]
        i, start = seq.windows[j]
        ep = ds[i]
        valid = int(item["mask"].sum())
        assert valid == min(L, lengths[i] - start)
        assert item["mask"][:valid].all() and not item["mask"][valid:].any()
        assert item["is_first"].tolist() == [start == 0] + [False] * (L - 1)
        assert item["rgb"].shape == (L, 3, 24, 32) and item["rgb"].dtype == torch.uint8
        assert item["depth"].shape == (L, 1, 24, 32) and item["depth"].dtype == torch.float32
        assert item["embodiment"].shape == (L, DESCRIPTOR_DIM)
        assert item["route_mapless"].shape == (L, 10, 2)
        sl = slice(start, start + valid)
        np.testing.assert_array_equal(
            item["rgb"][:valid].permute(0, 2, 3, 1).numpy(), ep["rgb"][sl]
        )
        np.testing.assert_array_equal(item["action"][:valid].numpy(), ep["action"][sl])
        np.testing.assert_array_equal(
            item["depth"][:valid, 0].numpy(), ep["depth"][sl].astype(np.float32)
        )
        assert (item["action"][valid:] == 0).all()  # padding is zeros
        assert item["step"][0] == start and int(item["episode"]) == i
        covered[i][sl] = True
    assert all(c.all() for c in covered)  # every recorded step is in some window
    # Windows never cross episodes; short episodes are one padded window or dropped.
    for i, s in seq.windows:
        assert s + L <= lengths[i] or (s == 0 and lengths[i] < L)
    no_pad = SequenceDataset(ds, 29, pad_short=False)
    assert {i for i, _ in no_pad.windows} == {i for i, n in enumerate(lengths) if n >= 29}
    batch = next(iter(torch.utils.data.DataLoader(seq, batch_size=3)))
    assert batch["rgb"].shape == (3, L, 3, 24, 32) and batch["is_first"].shape == (3, L)
    floats = SequenceDataset(ds, 4, keys=["rgb", "action"], rgb_float=True)
    item = floats[0]
    assert set(item) == {"rgb", "action", "is_first", "mask", "step", "episode"}
    assert item["rgb"].dtype == torch.float32 and float(item["rgb"].max()) <= 1.0
    with pytest.raises(DataError, match="lacks keys"):
        SequenceDataset(ds, 4, keys=["policy_state"])


def test_cli_demos_resume_and_info(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    out = tmp_path / "cli"
    args = [
        "teacher",
        "demos",
        "--out",
        str(out),
        "--episodes",
        "3",
        "--num-envs",
        "2",
        "--families",
        "hall",
        "--image-size",
        "16x24",
        "--max-episode-steps",
        "20",
        "--workers",
        "1",
        "--quiet",
    ]
    assert cli.main(args) == 0
    first = capsys.readouterr().out.strip().splitlines()[-1]
    assert first.startswith("episodes=3 written=3 ")
    args[args.index("--episodes") + 1] = "4"
    assert cli.main(args) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("episodes=4 written=1 ")
    assert cli.main(["teacher", "info", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["episodes"] == 4
    meta = fmt.read_meta(out)
    assert meta["image_size"] == [16, 24] and meta["command"].startswith("compass-nav teacher")
    args[args.index("--image-size") + 1] = "16by24"
    assert cli.main(args) == 2
    assert "--image-size='16by24'" in capsys.readouterr().err
    assert cli.main(["teacher", "info", str(tmp_path / "missing")]) == 2
