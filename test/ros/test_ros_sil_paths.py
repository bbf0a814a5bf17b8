"""Where ``compass-nav ros sil`` puts node logs and GIFs, and what embodiment path the
spawned nodes get (path handling only: no nodes start here)."""

from __future__ import annotations

from pathlib import Path

from compass_nav.contract.body import get_embodiment
from compass_nav.ros.sil import body_files


def test_yaml_paths_resolve_against_cwd_and_files_stay_under_out(tmp_path, monkeypatch):
    repo = Path(__file__).resolve().parents[2]
    monkeypatch.chdir(repo)
    out = tmp_path / "out"
    absolute = str(repo / "sim/embodiments/g1.yaml")
    rows = body_files(
        ("carter", "sim/embodiments/digit.yaml", absolute, "other/g1.yaml"),
        out / "logs",
        str(out),
    )
    args = [r[0] for r in rows]
    assert args[0] == "carter"
    # A relative YAML path reaches the nodes as an absolute path of the same file.
    assert args[1] == str(repo / "sim/embodiments/digit.yaml")
    assert get_embodiment(args[1]).name == get_embodiment("sim/embodiments/digit.yaml").name
    assert args[2] == absolute
    assert args[3] == str(repo / "other/g1.yaml")
    # Labels are file-name safe and unique; every log and GIF lies directly under --out.
    assert [r[1] for r in rows] == ["carter", "digit", "g1", "g1_2"]
    for _, _, logs, gif in rows:
        assert set(logs) == {"navigator", "sim_bridge"}
        for path in logs.values():
            assert path.parent == out / "logs"
        assert gif.parent == out
    assert rows[2][2]["navigator"] == out / "logs" / "g1_navigator.log"


def test_relative_paths_use_the_given_cwd(tmp_path):
    rows = body_files(("bodies/x.yml",), tmp_path / "logs", None, cwd=str(tmp_path))
    arg, label, logs, gif = rows[0]
    assert arg == str(tmp_path / "bodies/x.yml")
    assert label == "x" and gif is None
    assert logs["sim_bridge"] == tmp_path / "logs" / "x_sim_bridge.log"
