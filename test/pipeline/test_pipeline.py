"""The one-command chain: the tiny preset runs end to end, and a re-run skips what is done."""

from __future__ import annotations

import json

import pytest

from compass_nav.cli import main


@pytest.mark.slow
def test_tiny_pipeline_end_to_end(tmp_path, capsys):
    out = tmp_path / "tiny"
    assert main(["pipeline", "run", "--preset", "tiny", "--out", str(out), "--no-progress"]) == 0
    table = capsys.readouterr().out
    lines = [ln for ln in table.splitlines() if ln.startswith("| ")]
    assert [ln.split("|")[1].strip() for ln in lines[1:]] == ["carter", "spot", "scout"]
    assert lines[-1].split("|")[2].strip() == "heldout"
    for name in (
        "demos/meta.json",
        "il/model.pt",
        "rl_carter/specialist.pt",
        "rl_spot/specialist.pt",
        "rollouts_spot/meta.json",
        "generalist/generalist.pt",
        "eval/table.md",
        "eval/table.png",
    ):
        assert (out / name).is_file(), name
    summary = json.loads((out / "eval" / "summary.json").read_text())
    rows = {r["embodiment"]: r for r in summary["rows"]}
    assert rows["spot"]["specialist"]["n"] == 2 and "specialist" not in rows["scout"]
    assert rows["scout"]["generalist"]["n"] == 2
    # Everything is done: a second run trains nothing and reuses the cached evaluations.
    assert main(["pipeline", "run", "--preset", "tiny", "--out", str(out), "--no-progress"]) == 0
    log = capsys.readouterr().out
    assert log.count("(done)") == 4  # il, two specialists, generalist
    again = json.loads((out / "eval" / "summary.json").read_text())
    assert again["rows"] == summary["rows"] and "il" not in again["stages"]
    # A retrained policy file invalidates its cached evaluations (and only those).
    import shutil

    shutil.copyfile(out / "rl_carter" / "specialist.pt", out / "generalist" / "generalist.pt")
    assert main(["pipeline", "run", "--preset", "tiny", "--out", str(out), "--no-progress"]) == 0
    log = capsys.readouterr().out
    assert log.count("changed since it was evaluated") == 3, log  # carter, spot, scout


def test_per_body_rl_settings():
    import pytest

    from compass_nav.pipeline.runner import pipeline_preset
    from compass_nav.utils.errors import ConfigError

    over = {"h1": {"iterations": 7, "ppo": {"gamma": 0.9}}}
    cfg = pipeline_preset("full", {"rl_per_body": over})
    h1, spot = cfg.rl_for("h1"), cfg.rl_for("spot")
    assert (h1.iterations, h1.ppo.gamma) == (7, 0.9)
    assert spot == cfg.rl and h1.num_envs == spot.num_envs
    with pytest.raises(ConfigError, match="not one of bodies"):
        pipeline_preset("full", {"rl_per_body": {"scout": {"iterations": 3}}})
    with pytest.raises(ConfigError, match="iterationz"):
        pipeline_preset("full", {"rl_per_body": {"h1": {"iterationz": 3}}})


@pytest.mark.slow
def test_changed_settings_are_refused_or_redone_never_silently_reused(tmp_path, capsys):
    out = tmp_path / "tiny"
    base = ["pipeline", "run", "--preset", "tiny", "--out", str(out), "--no-progress"]
    assert main(base) == 0
    capsys.readouterr()
    record = (out / "pipeline.yaml").read_bytes()
    table = (out / "eval" / "table.md").read_bytes()

    # A changed setting of a finished stage: refused before any work, nothing rewritten.
    assert main([*base, "--set", "distill.steps=12"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("compass-nav: error: pipeline stage generalist"), err
    assert "steps: 10 -> 12" in err and "--redo-changed" in err
    assert (out / "pipeline.yaml").read_bytes() == record
    assert (out / "eval" / "table.md").read_bytes() == table

    # --redo-changed redoes that stage and what depends on it, and keeps the rest.
    il_model = (out / "il" / "model.pt").read_bytes()
    assert main([*base, "--set", "distill.steps=12", "--redo-changed"]) == 0
    log = capsys.readouterr().out
    assert log.count("(done)") == 3, log  # il and both specialists
    assert "generalist -> " in log and "redo" in log
    assert (out / "il" / "model.pt").read_bytes() == il_model
    assert "steps: 12" in (out / "pipeline.yaml").read_text()
    assert log.count("changed since it was evaluated") == 3, log  # the generalist's cells

    # The same settings again: nothing to redo, every evaluation cached.
    assert main([*base, "--set", "distill.steps=12"]) == 0
    log = capsys.readouterr().out
    assert log.count("(done)") == 4 and "evaluated" not in log, log

    # An evaluation setting: cached evaluations are keyed by it too, so all are redone.
    assert (
        main([*base, "--set", "distill.steps=12", "--set", "eval_episode.max_episode_steps=30"])
        == 0
    )
    log = capsys.readouterr().out
    assert log.count("changed since it was evaluated") == 8, log  # 3 IL, 2 specialist, 3 gen.
