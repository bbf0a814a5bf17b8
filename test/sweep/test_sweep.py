"""Evaluation sweeps: spec checks, both engines, resume and invalidation, the report."""

from __future__ import annotations

import csv
import dataclasses
import json

import numpy as np
import pytest

from compass_nav import cli
from compass_nav.contract.body import ENVELOPE, get_embodiment, list_embodiments
from compass_nav.evaluation.metrics import wilson_interval
from compass_nav.sweep import SweepSpec, expand, run_cells
from compass_nav.sweep.report import CSV_FIELDS, write_report
from compass_nav.sweep.spec import random_bodies

# Two cheap cells: scripted policies, one body, one family, tiny images and short episodes.
SMALL = {
    "policies": ("goal_seeker", "standstill"),
    "bodies": ("carter",),
    "families": ("warehouse",),
    "episodes": 2,
    "image_height": 16,
    "image_width": 16,
    "max_steps": 40,
}


def small(**changes) -> SweepSpec:
    return SweepSpec(**{**SMALL, **changes})


def _quiet(_msg: str) -> None:
    pass


def test_expansion_order_and_ids():
    cells = expand(small(families=("warehouse", "hall"), seeds=(0, 3)))
    assert len(cells) == 2 * 1 * 2 * 1 * 2
    assert [(c.policy, c.family, c.seed) for c in cells[:4]] == [
        ("goal_seeker", "warehouse", 0),
        ("goal_seeker", "warehouse", 3),
        ("goal_seeker", "hall", 0),
        ("goal_seeker", "hall", 3),
    ]
    assert len({c.cell_id for c in cells}) == len(cells)
    assert cells[0].policy_key == "spec:goal_seeker"


def test_local_pool_resume_recomputes_exactly_the_missing_cell(tmp_path):
    cells = expand(small())
    first = run_cells(cells, tmp_path, engine="local", workers=2, log=_quiet)
    assert first.engine == "local"
    assert sorted(first.computed) == sorted(c.cell_id for c in cells)
    report = write_report(tmp_path, first.results)
    csv_before = report["csv"].read_bytes()
    md_before = report["report"].read_bytes()

    gone = cells[1].cell_id
    (tmp_path / "cells" / f"{gone}.json").unlink()
    again = run_cells(cells, tmp_path, engine="local", workers=2, log=_quiet)
    assert again.computed == [gone]
    assert again.reused == [cells[0].cell_id]
    write_report(tmp_path, again.results)
    assert report["csv"].read_bytes() == csv_before
    assert report["report"].read_bytes() == md_before
    # Timing lives apart from the cells (and the report): one line per evaluated cell.
    assert len((tmp_path / "timing.jsonl").read_text().splitlines()) == 3
    assert "wall" not in (tmp_path / "cells" / f"{gone}.json").read_text()

    nothing = run_cells(cells, tmp_path, engine="local", log=_quiet)
    assert nothing.computed == [] and nothing.engine == "none"


def test_a_changed_setting_invalidates_the_stored_cells(tmp_path):
    cells = expand(small(policies=("goal_seeker",)))
    run_cells(cells, tmp_path, engine="local", workers=1, log=_quiet)
    longer = expand(small(policies=("goal_seeker",), max_steps=41))
    assert [c.cell_id for c in longer] == [c.cell_id for c in cells]  # same file, new print
    out = run_cells(longer, tmp_path, engine="local", workers=1, log=_quiet)
    assert out.computed == [cells[0].cell_id]
    stored = json.loads((tmp_path / "cells" / f"{cells[0].cell_id}.json").read_text())
    assert stored["cell"]["max_steps"] == 41
    # The code version and the backend are part of the fingerprint too.
    c = cells[0]
    assert c.fingerprint("1.0+aaa") != c.fingerprint("1.0+bbb")
    assert c.fingerprint("v") != dataclasses.replace(c, backend="other").fingerprint("v")
    # Where a policy file lies is not; what is in it is.
    assert c.fingerprint("v") == dataclasses.replace(c, load="/elsewhere").fingerprint("v")


def test_a_policy_file_is_keyed_by_its_content(tmp_path):
    # Expansion hashes files without loading them: any bytes named .onnx will do here.
    (tmp_path / "a.onnx").write_bytes(b"model")
    (tmp_path / "b.onnx").write_bytes(b"model")
    (tmp_path / "c.onnx").write_bytes(b"other")
    a, b, c = expand(small(policies=(str(tmp_path / "*.onnx"),)))
    assert [x.policy for x in (a, b, c)] == [str(tmp_path / f"{n}.onnx") for n in "abc"]
    assert a.policy_key == b.policy_key != c.policy_key
    assert a.policy_key.startswith("sha256:")
    # A spec with a query is a spec, not a pattern.
    (d,) = expand(small(policies=("degraded:teacher?noise=0.3&delay=2",)))
    assert d.policy_key == "spec:degraded:teacher?noise=0.3&delay=2"


def test_cells_match_one_evaluate_call(tmp_path):
    """A cell's metrics are those of evaluate() on the same settings (same episode set)."""
    from compass_nav.evaluation import evaluate

    cell = expand(small(policies=("goal_seeker",)))[0]
    with_engine = run_cells([cell], tmp_path, engine="local", log=_quiet)
    direct = evaluate("goal_seeker", cell.eval_config(), progress=False)
    assert with_engine.results[0]["records"] == direct.records


@pytest.mark.slow
def test_ray_local_instance_runs_the_cells(tmp_path):
    cells = expand(small(bodies=("carter", "random:1"), policies=("goal_seeker",)))
    out = run_cells(cells, tmp_path, engine="ray", workers=2, log=_quiet)
    assert out.engine == "ray"
    assert sorted(out.computed) == sorted(c.cell_id for c in cells)
    local = run_cells(cells, tmp_path / "local", engine="local", workers=2, log=_quiet)
    # Same episodes whichever engine ran them.
    assert [r["records"] for r in out.results] == [r["records"] for r in local.results]


def test_random_bodies_are_deterministic_and_inside_the_envelope():
    a, b = random_bodies(6, seed=3), random_bodies(6, seed=3)
    assert a == b and random_bodies(6, seed=4) != a
    for body in a:
        for f, r in ENVELOPE.items():
            assert r.low <= getattr(body, f) <= r.high, (body.name, f)
        if body.kind in ("wheeled", "ackermann", "tracked", "compact"):
            assert body.max_vy == 0.0
    cells = expand(small(bodies=("random:2",)))
    assert {c.body for c in cells} == {"random_000", "random_001"}
    assert all(c.generated_body for c in cells)
    # Registered by name where the cell runs; a later sweep's body of that name replaces it.
    cells[0].register_body()
    assert get_embodiment("random_000").to_dict() == cells[0].body_spec
    other = expand(small(bodies=("random:1",), body_seed=9))[0]
    other.register_body()
    assert get_embodiment("random_000").to_dict() == other.body_spec != cells[0].body_spec
    assert "random_000" not in list_embodiments()


def test_report_lists_checkpoint_series_and_best_policy(tmp_path):
    def rec(policy, body, k):
        return {
            "cell_id": f"{policy}-{body}",
            "cell": {
                "policy": policy,
                "body": body,
                "family": "hall",
                "route_mode": "planned",
                "seed": 0,
            },  # fmt: skip
            "metrics": {
                "n": 4,
                "successes": k,
                "sr": k / 4,
                "sr_ci": [0.0, 1.0],
                "collision_rate": 0.0,
                "timeout_rate": 0.0,
                "spl": 0.5,
                "travel_time": float("nan"),
                "wtt": 9.0,
            },  # fmt: skip
        }

    records = [
        rec(p, b, k)
        for p, k in (("ck/step_00000100.pt", 1), ("ck/step_00000200.pt", 3))
        for b in ("carter", "spot")
    ]
    paths = write_report(tmp_path, records)
    md = paths["report"].read_text()
    assert "| carter | ck/step_00000200.pt | 0.75 [" in md
    assert "## Checkpoint series" in md and (tmp_path / "steps.png").is_file()
    assert paths["csv"].read_text().splitlines()[1].startswith("ck/step_00000100.pt,carter,hall")
    tie = write_report(tmp_path, [rec("a", "spot", 2), rec("b", "spot", 2), rec("c", "spot", 1)])
    assert "| spot | a, b | 0.50 [" in tie["report"].read_text()
    # Records stored before episodes carried line_blocked: per-family strata, empty columns.
    text = tie["report"].read_text()
    assert "## Strata: success per scene family" in text and "line blocked" not in text
    assert not (tmp_path / "strata_line.png").exists()
    row = dict(zip(CSV_FIELDS, tie["csv"].read_text().splitlines()[1].split(","), strict=True))
    assert row["blocked_n"] == row["clear_sr"] == "" and row["sr"] == "0.5000"


def _stratified(policy, body, family, blocked, clear):
    """A stored cell record whose metrics carry the strata: (successes, n) per stratum."""
    (kb, nb), (kc, nc) = blocked, clear
    k, n = kb + kc, nb + nc
    return {
        "cell_id": f"{policy}-{body}-{family}",
        "cell": {
            "policy": policy,
            "body": body,
            "family": family,
            "route_mode": "planned",
            "seed": 0,
        },  # fmt: skip
        "metrics": {
            "n": n,
            "successes": k,
            "sr": k / n,
            "sr_ci": list(wilson_interval(k, n)),
            "collision_rate": 0.0,
            "timeout_rate": 1 - k / n,
            "spl": k / n,
            "travel_time": 8.0,
            "wtt": 8.0 * n / k,
            "blocked_n": nb,
            "blocked_successes": kb,
            "blocked_sr": kb / nb if nb else None,
            "blocked_sr_ci": list(wilson_interval(kb, nb)),
            "clear_n": nc,
            "clear_successes": kc,
            "clear_sr": kc / nc if nc else None,
            "clear_sr_ci": list(wilson_interval(kc, nc)),
        },  # fmt: skip
    }


def test_report_strata_blocked_and_clear(tmp_path):
    # straight drives at the goal (fails where the line is blocked); planner does not care.
    records = [
        _stratified("straight", "carter", "hall", (1, 4), (6, 6)),
        _stratified("straight", "carter", "office", (0, 6), (4, 4)),
        _stratified("straight", "spot", "hall", (0, 0), (10, 10)),  # no blocked episode
        _stratified("planner", "carter", "hall", (4, 4), (6, 6)),
        _stratified("planner", "carter", "office", (5, 6), (4, 4)),
        _stratified("planner", "spot", "hall", (0, 0), (9, 10)),
    ]
    paths = write_report(tmp_path, records)
    md = paths["report"].read_text()
    assert "## Strata: straight line to the goal blocked / clear" in md
    assert "![strata: line blocked / clear](strata_line.png)" in md
    lo, hi = wilson_interval(1, 10)
    assert f"| straight | carter | 10 / 20 (0.50) | 0.10 [{lo:.2f}, {hi:.2f}] | 1.00 [" in md
    assert "| straight | spot | 0 / 10 (0.00) | - | 1.00 [" in md  # empty stratum: no SR
    assert "| planner | all bodies | 10 / 30 (0.33) | 0.90 [" in md
    assert "## Success per scene family (all bodies)" in md  # the per-family view stays
    assert paths["strata_line"].is_file() and paths["strata"].is_file()
    rows = list(csv.DictReader(paths["csv"].open()))
    assert [int(r["blocked_n"]) + int(r["clear_n"]) for r in rows] == [10, 10, 10, 10, 10, 10]
    assert rows[0]["blocked_sr"] == "0.2500" and rows[2]["blocked_sr"] == "nan"
    assert sum(int(r["blocked_successes"]) + int(r["clear_successes"]) for r in rows) == sum(
        int(r["successes"]) for r in rows
    )
    # Deterministic: a second report is byte for byte the same, plots included.
    before = {k: paths[k].read_bytes() for k in ("csv", "report", "strata_line", "strata")}
    again = write_report(tmp_path, records)
    assert {k: again[k].read_bytes() for k in before} == before


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        ("backend: isaac\n", "backend='isaac': unknown; available backends: embedded"),
        ("policies: [nobody]\n", "unknown policy 'nobody'"),
        ("bodies: ['random:0']\n", "random:<n>"),
        ("bodies: [cartr]\n", "unknown embodiment 'cartr'"),
        ("policies: ['nowhere/step_*.pt']\n", "matches no file"),
        ("episodes: 0\n", "episodes=0"),
        ("epsiodes: 3\n", "epsiodes"),
    ],
)
def test_bad_specs_are_user_errors(tmp_path, capsys, spec, named):
    path = tmp_path / "spec.yaml"
    path.write_text(spec)
    out = tmp_path / "out"
    assert cli.main(["sweep", "run", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("compass-nav: error: ") and named in err, err
    assert not out.exists()


def test_cli_runs_a_sweep_and_rewrites_its_report(tmp_path, capsys):
    path = tmp_path / "spec.yaml"
    path.write_text(json.dumps({**SMALL, "policies": ["goal_seeker"]}))
    out = tmp_path / "out"
    assert cli.main(["sweep", "run", str(path), "--out", str(out), "--engine", "local"]) == 0
    assert "1 evaluated, 0 reused" in capsys.readouterr().out
    md = (out / "report.md").read_bytes()
    (out / "report.md").unlink()
    assert cli.main(["sweep", "report", str(out)]) == 0
    assert (out / "report.md").read_bytes() == md
    assert np.isfinite(float((out / "cells.csv").read_text().splitlines()[1].split(",")[7]))
    # A real sweep's cells carry the blocked / clear strata of their episode records.
    assert "## Strata: straight line to the goal blocked / clear" in md.decode()
    (stored,) = (out / "cells").glob("*.json")
    data = json.loads(stored.read_text())
    m = data["metrics"]
    flags = [r["line_blocked"] for r in data["records"]]
    assert m["blocked_n"] == sum(flags) and m["blocked_n"] + m["clear_n"] == m["n"] == 2


def test_address_needs_the_ray_engine(tmp_path, capsys):
    path = tmp_path / "spec.yaml"
    path.write_text(json.dumps({**SMALL, "policies": ["goal_seeker"]}))
    args = ["sweep", "run", str(path), "--out", str(tmp_path / "o"), "--engine", "local"]
    assert cli.main([*args, "--address", "auto"]) == 2
    assert "only the ray engine joins a cluster" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_without_ray_auto_falls_back_to_the_process_pool(monkeypatch):
    from compass_nav.sweep.engine import resolve_engine
    from compass_nav.utils.errors import ConfigError

    assert resolve_engine("auto", None) == "ray"  # installed (requirements/base.txt)
    monkeypatch.setitem(__import__("sys").modules, "ray", None)  # import ray -> ImportError
    assert resolve_engine("auto", None) == "local"
    with pytest.raises(ConfigError, match="'ray' package is not installed"):
        resolve_engine("ray", None)
