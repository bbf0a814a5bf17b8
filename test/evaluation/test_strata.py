"""Strata, paired differences, baseline reports and split records (pure functions + one CLI run).

The statistics are checked on inputs whose answers are known by hand; the optional facts a
future simulator states (``route_blocked``, ``moving_encounter``...) are exercised with
records that carry them, since today's simulator states only ``line_blocked``.
"""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from compass_nav import cli
from compass_nav.evaluation import EvalConfig
from compass_nav.evaluation.baselines import baseline_markdown, baseline_report, parse_baselines
from compass_nav.evaluation.harness import EvalResult, compute_metrics
from compass_nav.evaluation.metrics import bootstrap_ci, wilson_interval
from compass_nav.evaluation.strata import describe, episode_pairs, paired_difference, stratify
from compass_nav.sim.config import EpisodeSpec
from compass_nav.utils.errors import ConfigError, DataError

EP = EpisodeSpec(split="validation", families=("office",), image_height=32, image_width=32)


def _records(n=40, seed=0, p_success=0.7, extra=True):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        s = bool(rng.random() < p_success)
        c = (not s) and bool(rng.random() < 0.5)
        r = {
            "embodiment": "carter",
            "family": "office",
            "cell": 0,
            "episode": i,
            "scene_seed": 1000 + i,
            "success": s,
            "collision": c,
            "timeout": not s and not c,
            "time": float(rng.uniform(5, 15)),
            "spl": float(rng.uniform(0.6, 1.0)) if s else 0.0,
            "line_blocked": bool(i % 2),
        }
        if extra:
            r.update(
                route_blocked=bool(i % 3 == 0),
                moving_encounter=bool(i % 4 == 0),
                moving_collision=bool(c and i % 4 == 0),
                route_length=8.0 + i,
                tortuosity=1.0 + 0.01 * i,
            )
        out.append(r)
    return out


def test_wilson_known_values():
    # Reference values (Wilson 1927; e.g. statsmodels proportion_confint(method="wilson")).
    lo, hi = wilson_interval(8, 10)
    assert lo == pytest.approx(0.4901624, abs=1e-6) and hi == pytest.approx(0.9433178, abs=1e-6)
    lo, hi = wilson_interval(0, 20)
    assert lo == 0.0 and hi == pytest.approx(0.1611252, abs=1e-6)
    assert wilson_interval(5, 5)[1] == 1.0


def test_bootstrap_known_inputs():
    assert bootstrap_ci(np.full(30, 2.5), lambda s: s.mean(axis=1)) == (2.5, 2.5)
    # A 0/1 sample of mean 0.5: the interval brackets it and matches the normal width.
    x = np.array([0.0, 1.0] * 50)
    lo, hi = bootstrap_ci(x, lambda s: s.mean(axis=1), n_boot=4000, seed=1)
    assert lo < 0.5 < hi
    assert hi - lo == pytest.approx(2 * 1.96 * 0.05, abs=0.03)


def test_paired_difference_known_inputs():
    a = [{"success": True, "collision": False, "spl": 0.9, "time": 10.0}] * 10
    b = [{"success": False, "collision": True, "spl": 0.0, "time": 30.0}] * 10
    d = paired_difference(list(zip(a, b, strict=True)))
    assert d["n"] == 10 and d["d_sr"] == 1.0 and d["d_sr_ci"] == [1.0, 1.0]
    assert d["d_collision"] == -1.0 and d["d_spl"] == pytest.approx(0.9)
    assert d["policy_only"] == 10 and d["baseline_only"] == 0
    assert d["both_successes"] == 0 and math.isnan(d["d_time"])
    # Same outcomes: difference 0 exactly, whatever the resamples.
    same = paired_difference(list(zip(a, a, strict=True)))
    assert same["d_sr"] == 0.0 and same["d_sr_ci"] == [0.0, 0.0]
    assert same["d_time"] == 0.0 and same["both_successes"] == 10


def test_paired_interval_narrower_than_unpaired():
    """Pairing removes the episodes' shared difficulty: a consistent small gain is resolved."""
    rng = np.random.default_rng(3)
    base = rng.uniform(0, 1, 200)
    pol = [{"success": 1.0, "collision": 0.0, "spl": v + 0.05, "time": 1.0} for v in base]
    bas = [{"success": 1.0, "collision": 0.0, "spl": v, "time": 1.0} for v in base]
    d = paired_difference(list(zip(pol, bas, strict=True)))
    assert d["d_spl"] == pytest.approx(0.05)
    assert d["d_spl_ci"][0] == pytest.approx(0.05) and d["d_spl_ci"][1] == pytest.approx(0.05)


def test_episode_pairs_refuse_unpaired_runs():
    a = _records(6)
    assert len(episode_pairs(a, _records(6, seed=5))) == 6
    with pytest.raises(DataError, match="different episodes"):
        episode_pairs(a, _records(5))
    b = _records(6)
    b[2] = {**b[2], "scene_seed": 7}
    with pytest.raises(DataError, match="not paired"):
        episode_pairs(a, b)


def test_stratify_all_present_keys_and_only_those():
    rows = _records(40)
    st = stratify(rows, n_boot=200)
    assert set(st) == {"line_blocked", "route_blocked", "moving_encounter"}
    rb = st["route_blocked"]
    want = [r for r in rows if r["route_blocked"]]
    assert rb["true"]["n"] == len(want) and rb["false"]["n"] == len(rows) - len(want)
    assert rb["true"]["successes"] == sum(r["success"] for r in want)
    k = rb["true"]["successes"]
    assert rb["true"]["sr_ci"] == list(wilson_interval(k, len(want)))
    assert rb["labels"] == ["blocked", "clear"]
    # Without the facts (today's simulator): only the line stratum.
    assert set(stratify(_records(10, extra=False), n_boot=200)) == {"line_blocked"}
    # One record missing a fact: no made-up stratum for it.
    partial = _records(10)
    del partial[3]["moving_encounter"]
    assert "moving_encounter" not in stratify(partial, n_boot=200)


def test_describe():
    rows = _records(11)
    d = describe(rows)
    assert d["route_length_median"] == pytest.approx(13.0)
    k = sum(r["moving_collision"] for r in rows)
    assert d["moving_collisions"] == k and d["moving_collision_ci"] == list(wilson_interval(k, 11))
    assert describe(_records(5, extra=False)) == {}


def test_strata_and_split_in_every_output(tmp_path):
    cfg = EvalConfig(embodiments=("carter", "scout"), episode=EP, episodes=20, bootstrap=200)
    rows = _records(20) + [{**r, "embodiment": "scout", "cell": 1} for r in _records(20, 1)]
    res = EvalResult(cfg, "classical", rows, compute_metrics(cfg, rows))
    paths = res.save(tmp_path, plots=False)
    data = json.loads(paths["json"].read_text())
    assert data["split"] == "validation" and data["config"]["episode"]["split"] == "validation"
    assert data["bodies"] == {"carter": "train", "scout": "heldout"}
    assert set(data["metrics"]["overall"]["strata"]) == {
        "line_blocked",
        "route_blocked",
        "moving_encounter",
    }
    md = paths["table"].read_text()
    assert "**Split: validation**" in md and "scout (heldout)" in md
    for title in ("`line_blocked`", "`route_blocked`", "`moving_encounter`"):
        assert "## Stratum: " in md and title in md
    with paths["csv"].open() as fh:
        csv_rows = list(csv.DictReader(fh))
    assert {r["split"] for r in csv_rows} == {"validation"}
    assert {r["embodiment_split"] for r in csv_rows} == {"train", "heldout"}
    assert "route_blocked_true_sr_ci_low" in csv_rows[0]


def test_baseline_report_pairs_and_renders():
    cfg = EvalConfig(embodiments=("carter",), episode=EP, episodes=40, bootstrap=200)
    pol, bas = _records(40, seed=0, p_success=0.9), _records(40, seed=9, p_success=0.3)
    runs = [
        ("classical", "classical", pol, compute_metrics(cfg, pol)),
        ("goal_seeker", "goal_seeker", bas, compute_metrics(cfg, bas)),
    ]
    rep = baseline_report(runs, cfg)
    o = rep["paired"]["goal_seeker"]["overall"]
    want = np.mean(
        [float(a["success"]) - float(b["success"]) for a, b in zip(pol, bas, strict=True)]
    )
    assert o["d_sr"] == pytest.approx(want) and o["d_sr_ci"][0] <= want <= o["d_sr_ci"][1]
    assert set(o["strata"]) == {"line_blocked", "route_blocked", "moving_encounter"}
    half = [p for p in zip(pol, bas, strict=True) if p[0]["route_blocked"]]
    assert o["strata"]["route_blocked"]["true"]["n"] == len(half)
    md = baseline_markdown(json.loads(json.dumps(rep, default=float)))
    assert "## Paired: classical minus goal_seeker" in md and "**Split: validation**" in md
    assert "ΔSR blocked" in md and "goal_seeker SR encounter" in md


def test_parse_baselines():
    assert parse_baselines("default") == ("goal_seeker", "classical", "teacher")
    assert parse_baselines("goal_seeker, classical") == ("goal_seeker", "classical")
    with pytest.raises(ConfigError, match="twice"):
        parse_baselines("teacher,default")
    with pytest.raises(ConfigError, match="empty"):
        parse_baselines("teacher,,wall")


def test_cli_baselines_same_episodes_and_split(tmp_path, capsys):
    parser = cli.build_parser(modules=["compass_nav.evaluation.cli"])
    out = tmp_path / "cmp"
    args = parser.parse_args(
        "evaluate run wall --baselines standstill,goal_seeker --families hall --episodes 3 "
        f"--max-steps 20 --image-size 32 32 --gifs 0 --workers 1 --no-progress --split heldout "
        f"--out {out}".split()
    )
    assert args.func(args) == 0
    cap = capsys.readouterr()
    assert "WARNING: --split heldout" in cap.err
    assert "paired wall-standstill" in cap.out
    rep = json.loads((out / "baselines.json").read_text())
    assert rep["split"] == "heldout" and rep["bodies"] == {"carter": "train"}
    seeds = {}
    for lab in ("wall", "standstill", "goal_seeker"):
        data = json.loads((out / lab / "results.json").read_text())
        assert data["split"] == "heldout"
        seeds[lab] = [(e["episode"], e["scene_seed"]) for e in data["episodes"]]
    assert seeds["wall"] == seeds["standstill"] == seeds["goal_seeker"]
    md = (out / "baselines.md").read_text()
    assert "**Split: heldout**" in md and "## Paired: wall minus goal_seeker" in md
    with pytest.raises(ConfigError, match="unknown policy"):
        bad = parser.parse_args(["evaluate", "run", "wall", "--baselines", "nope", "--out",
                                 str(tmp_path / "x")])  # fmt: skip
        bad.func(bad)
    assert not (tmp_path / "x").exists()  # refused before any output
