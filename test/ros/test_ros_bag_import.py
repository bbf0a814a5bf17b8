"""End to end: a sim-in-the-loop run recorded to rosbag2 MCAP imports into the log format."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from compass_nav.logs import LogDataset
from compass_nav.logs.bag import import_bag
from compass_nav.ros.sil import SilConfig, run_sim_in_the_loop

pytestmark = pytest.mark.ros


@pytest.mark.slow
def test_sim_in_the_loop_bag_imports_with_the_bridge_outcomes(domain_id, tmp_path):
    if "record" not in {f.name for f in dataclasses.fields(SilConfig)}:
        pytest.skip("this tree's sim-in-the-loop runner cannot record bags (SilConfig.record)")
    cfg = SilConfig(
        embodiments=("carter",),
        episodes=2,
        model="scripted:goal_seeker",
        family="hall",
        split="heldout",
        domain_id=domain_id,
        log_dir=str(tmp_path / "logs"),
        timeout_s=90.0,
        record=str(tmp_path / "bags"),
    )
    records = run_sim_in_the_loop(cfg, progress=False)
    summary = import_bag(tmp_path / "bags" / "carter", "carter", tmp_path / "out", progress=False)
    assert summary["episodes"] == len(records) == 2
    c = summary["counts"]
    # lockstep: every frame used once, odometry stamped with its frame, an answer per frame
    assert c["image_held"] == 0 and c["image_not_used"] == 0
    assert c["odom_exact"] == c["steps"] == sum(r["steps"] for r in records)
    assert c["cmd_vel_held"] == 0 and c["cmd_vel_zero_before_first"] == 0
    for rec, ep in zip(records, LogDataset(tmp_path / "out"), strict=True):
        assert ep.length == rec["steps"]
        assert ep.outcome == rec["outcome"]
        assert ep.depth is not None and ep.routes
        np.testing.assert_allclose(ep.routes[0][-1], ep.goal[:2], atol=1e-6)
        if ep.outcome == "success":
            assert np.hypot(*(ep.odom_pose[-1, :2] - ep.goal[:2])) < 0.6
