"""Smoke tests of ``compass-nav sim list|view`` and ``compass-nav demo`` (small sizes)."""

from __future__ import annotations

import json

import imageio.v3 as iio
import pytest

from compass_nav import cli
from compass_nav.contract.body import list_embodiments
from compass_nav.sim.scenes import list_families


def test_sim_list(capsys):
    assert cli.main(["sim", "list"]) == 0
    out = capsys.readouterr().out
    for name in [*list_embodiments(), *list_families()]:
        assert name in out
    assert "heldout" in out and "humanoid" in out


def test_sim_view_writes_pictures(tmp_path, capsys):
    out = tmp_path / "view"
    args = "--embodiment h1 --family office --seed 1 --steps 6 --size 32x48 --route-mode mapless"
    code = cli.main(["sim", "view", *args.split(), "--snapshot-step", "3", "--out", str(out)])
    assert code == 0
    assert "h1 in office" in capsys.readouterr().out
    assert iio.imread(out / "ego_rgb.png").shape[:2] == (32, 48)
    assert iio.imread(out / "ego_depth.png").shape[:2] == (32, 48)
    top = iio.imread(out / "topdown.png")
    frame = iio.imread(out / "frame.png")
    assert top.shape[0] > 100 and frame.shape[1] > top.shape[1] * 0.5
    gif = iio.imread(out / "episode.gif", index=None)
    assert gif.shape[0] == 7  # reset + 6 steps (the teacher needs longer than 6 steps)


def test_sim_view_with_moving_obstacles_and_a_gif_stride(tmp_path):
    out = tmp_path / "view"
    args = "--family hall --seed 2 --steps 9 --size 32x32 --moving-obstacles 2 --gif-stride 3"
    assert cli.main(["sim", "view", *args.split(), "--out", str(out)]) == 0
    gif = iio.imread(out / "episode.gif", index=None)
    assert gif.shape[0] == 4  # frames 0, 3, 6, 9 of reset + 9 steps


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--embodiment", "tank"], "unknown embodiment 'tank'; known embodiments: anymal"),
        (["--family", "jungle"], "unknown scene family 'jungle'; known families: hall"),
        (["--policy", "magic"], "unknown policy 'magic'"),
        (["--size", "64by64"], "--size='64by64'"),
        (["--size", "8x8"], "image_height=8"),
        (["--moving-obstacles", "-1"], "moving_obstacles=-1"),
        (["--gif-stride", "0"], "--gif-stride=0"),
    ],
)
def test_sim_view_errors_surface_cleanly(tmp_path, capsys, args, needle):
    assert cli.main(["sim", "view", "--out", str(tmp_path), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("compass-nav: error: ") and needle in err
    assert "Traceback" not in err


def test_demo_smoke(tmp_path, capsys):
    out = tmp_path / "demo"
    args = "--mode sim --embodiments carter scout --families hall --episodes 2 --envs-per-pair 1"
    code = cli.main(["demo", *args.split(), "--no-progress", "--size", "32x48", "--out", str(out)])
    assert code == 0
    assert "scout" in capsys.readouterr().out
    for name in ("carter.gif", "scout.gif", "grid.png", "summary.md", "summary.json"):
        assert (out / name).stat().st_size > 0, name
    summary = json.loads((out / "summary.json").read_text())
    assert len(summary["episodes"]) == 4
    rows = {(r["embodiment"], r["family"]): r for r in summary["rows"]}
    assert rows[("carter", "hall")]["episodes"] == 2
    assert rows[("scout", "all")]["episodes"] == 2
    assert 0.0 <= rows[("carter", "hall")]["success"] <= 1.0
    assert "| carter | hall | 2 |" in (out / "summary.md").read_text()


def test_demo_rejects_bad_options(tmp_path, capsys):
    for mode in ("sim", "ros"):
        assert cli.main(["demo", "--mode", mode, "--episodes", "0", "--out", str(tmp_path)]) == 2
        assert "episodes=0" in capsys.readouterr().err
        assert (
            cli.main(["demo", "--mode", mode, "--embodiments", "tank", "--out", str(tmp_path)])
            == 2
        )
        assert "known embodiments" in capsys.readouterr().err
