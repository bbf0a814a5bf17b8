"""The tiny preset end to end, and what the trained model must show on its training data."""

from __future__ import annotations

import json

import numpy as np
import pytest

from compass_nav.worldmodel.evaluate import judge_on_real, video_quality
from compass_nav.worldmodel.pool import load_split


def test_tiny_pipeline_writes_a_complete_report(tiny_run):
    report = tiny_run / "report"
    for name in ("results.json", "report.md", "success_scatter.png", "psnr_horizon.png"):
        assert (report / name).is_file(), name
    assert list(report.glob("episode_*.gif"))
    res = json.loads((report / "results.json").read_text())
    per = res["per_policy"]
    # The privileged teacher cannot act on imagined frames; the others are imagined.
    assert per["teacher"]["predicted"] is None and "teacher" in res["not_evaluable"]
    for spec in ("wall", "goal_seeker", "standstill"):
        p = per[spec]["predicted"]
        assert p is not None
        assert p["success"] + p["collision"] + p["timeout"] == pytest.approx(1.0)
    # Standing still never satisfies the success rule, in the simulator or in imagination.
    assert per["standstill"]["real"]["success"] == 0.0
    assert per["standstill"]["predicted"]["success"] == 0.0
    assert per["standstill"]["predicted"]["timeout"] > 0.5
    assert res["imagination"]["steps_per_second"] > 0
    for g in ("all", "heldout"):
        assert res["correlation"][g]["policies"] >= 2
    h = res["headline"]
    assert {"psnr_ar8", "psnr_ar8_copy", "psnr_ar8_shuffled", "train_minutes"} <= set(h)
    assert (tiny_run / "data" / "ground_truth.json").is_file()


@pytest.fixture(scope="module")
def train_rollouts(tiny_model, tiny_run):
    return load_split(tiny_model.config, tiny_run / "data", "train")


@pytest.fixture(scope="module")
def quality(tiny_model, train_rollouts):
    return video_quality(tiny_model, list(train_rollouts.values()), (1, 4, 8), 32, seed=0)


def test_model_beats_copy_last_frame(quality):
    ar = quality["ar"]
    for i, h in enumerate((1, 4, 8)):
        if h > 1:
            assert ar["model"]["psnr"][i] > ar["copy"]["psnr"][i], (h, ar)


def test_action_conditioning_matters(quality):
    # The same model fed another window's actions predicts worse frames at longer horizons.
    ar = quality["ar"]
    assert ar["shuffled"]["psnr"][-1] < ar["model"]["psnr"][-1], ar
    assert ar["shuffled"]["ssim"][-1] < ar["model"]["ssim"][-1], ar


def test_judge_on_known_real_episodes(tiny_model, train_rollouts):
    # Every 'wall' episode ends in a collision, no teacher episode does.
    assert train_rollouts["wall"].collision_end.all()
    assert not train_rollouts["teacher"].collision_end.any()
    res = judge_on_real(tiny_model, train_rollouts, offset=0.0, mode="hazard", threshold=0.5)
    assert res["collision_auroc"] >= 0.9, res
    assert res["collision_balanced_accuracy"] >= 0.8, res
    assert res["episodes"] == sum(r.num_episodes for r in train_rollouts.values())


def test_imagination_is_closed_loop(tiny_model, tiny_run):
    """Different policies from the same first frames imagine different episodes."""
    from compass_nav.policies import make_policy
    from compass_nav.worldmodel.imagine import imagine_episodes

    real = load_split(tiny_model.config, tiny_run / "data", "eval")["goal_seeker"]
    a = imagine_episodes(tiny_model, make_policy("goal_seeker"), real, 40, keep_frames=(0,))
    b = imagine_episodes(tiny_model, make_policy("standstill"), real, 40, keep_frames=(0,))
    assert a.frames[0].shape[1:] == (16, 16, 3)
    fa, fb = a.frames[0], b.frames[0]
    n = min(len(fa), len(fb))
    assert np.abs(fa[:n].astype(int) - fb[:n].astype(int)).mean() > 1.0
    assert not b.reached.any()
