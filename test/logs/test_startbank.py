"""Start bank: start states cut from logged episodes, read back, assembled as observations."""

from __future__ import annotations

import numpy as np
import pytest

from compass_nav.cli import main
from compass_nav.contract.observation import goal_in_robot_frame
from compass_nav.logs import LogDataset
from compass_nav.logs.bag import import_bag
from compass_nav.logs.startbank import StartBank, build_start_bank
from compass_nav.utils.errors import ConfigError, DataError


@pytest.fixture
def logs(tmp_path, make_bag):
    make_bag(tmp_path / "bag")
    import_bag(tmp_path / "bag", "carter", tmp_path / "logs", progress=False)
    return tmp_path / "logs"


def test_start_bank_round_trip(tmp_path, logs):
    summary = build_start_bank(logs, tmp_path / "bank.npz", frames=2, progress=False)
    assert summary["starts"] == 2 and summary["depth"] and summary["image_size"] == [16, 16]
    bank = StartBank(tmp_path / "bank.npz")
    ds = LogDataset(logs)
    assert len(bank) == 2
    for i, ep in enumerate(ds):
        np.testing.assert_array_equal(bank.arrays["rgb"][i], ep.rgb[:2])
        np.testing.assert_array_equal(bank.arrays["depth"][i], ep.depth[:2])
        np.testing.assert_allclose(bank.arrays["goal"][i], ep.goal)
        np.testing.assert_allclose(bank.routes[i], ep.routes[0])
        assert bank.meta["starts"][i]["logged_outcome"] == ep.outcome
        assert bank.body(i) == ep.body
        obs = bank.observation(i)
        assert obs["rgb"].shape == (1, 16, 16, 3) and obs["route"].shape == (1, 10, 2)
        np.testing.assert_allclose(obs["speed"][0], ep.odom_twist[1])
        np.testing.assert_allclose(obs["goal"][0], goal_in_robot_frame(ep.odom_pose[1], ep.goal))
        np.testing.assert_allclose(obs["embodiment"][0], ep.body.descriptor())


def test_start_bank_batch_of_observations(tmp_path, logs):
    build_start_bank(logs, tmp_path / "bank.npz", progress=False)
    bank = StartBank(tmp_path / "bank.npz")
    batch = bank.observations([1, 0])
    assert batch["rgb"].shape == (2, 16, 16, 3) and batch["route"].shape == (2, 10, 2)
    for row, i in enumerate([1, 0]):
        for key, value in bank.observation(i).items():
            np.testing.assert_array_equal(batch[key][row], value[0])


def test_start_bank_filters_and_errors(tmp_path, logs):
    with pytest.raises(DataError, match="no logged episode qualifies"):
        build_start_bank(logs, tmp_path / "b.npz", splits=("train",), progress=False)
    s = build_start_bank(logs, tmp_path / "b.npz", frames=10, progress=False)
    assert s["starts"] == 1 and "8 < 10 steps" in s["skipped"][0]  # listed, not dropped quietly
    with pytest.raises(ConfigError, match="frames=0"):
        build_start_bank(logs, tmp_path / "b.npz", frames=0, progress=False)
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="corrupt or not an npz"):
        StartBank(tmp_path / "bad.npz")
    assert main(["logs", "start-bank", str(logs), "--out", str(tmp_path / "c.npz"),
                 "--quiet"]) == 0  # fmt: skip
    assert len(StartBank(tmp_path / "c.npz")) == 2
