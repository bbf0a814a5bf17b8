"""Simulator import: log-visible fields only, simulator outcome labels, read back valid."""

from __future__ import annotations

import json

import numpy as np
import pytest

from compass_nav.cli import main
from compass_nav.contract.body import get_embodiment
from compass_nav.logs import LogDataset, body_key, read_log_meta
from compass_nav.logs.sim import import_sim
from compass_nav.utils.errors import ConfigError


@pytest.mark.slow
def test_sim_import_round_trip(tmp_path):
    out = tmp_path / "logs"
    summary = import_sim(
        "goal_seeker",
        out,
        families=("hall",),
        episodes=3,
        num_envs=3,
        image_size=(16, 16),
        max_episode_steps=25,
        progress=False,
    )
    assert summary["episodes"] == 3 and summary["written"] == [0, 1, 2]
    assert summary["episodes_per_pair"] == {"hall/carter": 3}
    ds = LogDataset(out)
    assert len(ds) == 3
    outcomes = {}
    for ep in ds:
        assert ep.attrs["source"] == "sim" and "simulator" in ep.attrs["outcome_source"]
        assert ep.outcome in ("success", "collision", "timeout")
        outcomes[ep.outcome] = outcomes.get(ep.outcome, 0) + 1
        assert ep.rgb.shape[1:] == (16, 16, 3) and ep.depth.shape[1:] == (16, 16)
        assert 1 <= ep.length <= 25
        np.testing.assert_allclose(np.diff(ep.stamp), 0.1)
        # the route the robot was given runs from its start pose to the goal
        np.testing.assert_allclose(ep.routes[0][0], ep.odom_pose[0, :2])
        np.testing.assert_allclose(ep.routes[0][-1], ep.goal[:2])
        # the logged odometry is consistent with the logged body velocities
        step = np.hypot(*np.diff(ep.odom_pose[:, :2], axis=0).T)
        speed = np.abs(ep.odom_twist[:-1, 0])
        assert np.all(step <= 0.1 * (speed + np.abs(ep.odom_twist[1:, 0])) + 1e-3)
        assert np.all(np.abs(ep.action) <= get_embodiment("carter").action_high + 1e-6)
        assert ep.attrs["body"] == body_key(get_embodiment("carter"))
    assert outcomes == summary["outcomes"]
    starts = {tuple(np.round(ep.odom_pose[0], 3)) for ep in ds}
    assert len(starts) == 3  # every slot runs its own random stream
    meta = read_log_meta(out)
    # nothing of the simulator's map, planner or actuator model is in the files
    np_keys = set(np.load(ds.paths[0]).files)
    assert np_keys == {
        "stamp", "rgb", "depth", "odom_pose", "odom_twist", "action", "route_index",
        "goal", "route_points", "route_offsets", "route_stamps", "embodiment", "attrs",
    }  # fmt: skip
    assert meta["imports"][0]["policy"] == "goal_seeker"
    # appending a second import continues the numbering
    import_sim("standstill", out, families=("hall",), episodes=1, num_envs=1,
               image_size=(16, 16), max_episode_steps=5, depth=False, progress=False)  # fmt: skip
    ds = LogDataset(out)
    assert len(ds) == 4 and ds[3].depth is None and ds[3].outcome == "timeout"
    assert ds[3].length == 5


def test_sim_import_refuses_bad_arguments(tmp_path):
    with pytest.raises(ConfigError, match="split='test'"):
        import_sim("goal_seeker", tmp_path / "o", split="test")
    with pytest.raises(ConfigError, match="episodes=0"):
        import_sim("goal_seeker", tmp_path / "o", episodes=0)
    with pytest.raises(ConfigError, match="unknown policy"):
        import_sim("no_such_policy", tmp_path / "o")
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_cli_import_sim(tmp_path, capsys):
    rc = main(["logs", "import-sim", "--policy", "standstill", "--embodiments", "carter",
               "--families", "office", "--episodes", "1", "--num-envs", "1",
               "--image-size", "16x16", "--max-episode-steps", "4", "--split", "validation",
               "--out", str(tmp_path / "o"), "--quiet", "--json"])  # fmt: skip
    assert rc == 0
    assert json.loads(capsys.readouterr().out)["outcomes"] == {"timeout": 1}
    assert LogDataset(tmp_path / "o")[0].attrs["split"] == "validation"
