"""The README's main job in its default mode: the shipped model over ROS 2, sim-in-the-loop."""

from __future__ import annotations

import json

import pytest

from compass_nav import cli
from compass_nav.utils.paths import models_dir

pytestmark = pytest.mark.ros


@pytest.mark.slow
def test_main_job_drives_the_shipped_model_over_dds(domain_id, tmp_path, capsys):
    if not (models_dir() / "default.onnx").is_file():
        pytest.fail("models/default.onnx (the shipped model) is missing")
    out = tmp_path / "demo"
    code = cli.main(
        [
            "demo",
            "--embodiments",
            "carter",
            "scout",
            "--episodes",
            "1",
            "--domain-id",
            str(domain_id),
            "--out",
            str(out),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "carter" in printed and "scout" in printed
    records = json.loads((out / "summary.json").read_text())["episodes"]
    assert sorted(r["embodiment"] for r in records) == ["carter", "scout"]
    # Every episode has an outcome from the bridge; the shipped model reaches these goals.
    assert all(r["outcome"] in ("success", "collision", "timeout") for r in records)
    assert sum(r["outcome"] == "success" for r in records) >= 1
    for name in ("carter.gif", "scout.gif", "summary.md"):
        assert (out / name).stat().st_size > 0, name
