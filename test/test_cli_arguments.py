"""Commands check names (scene families, bodies, policies) before they create their output.

``teacher demos`` has its own test (test/data/test_demos_args.py), with the corrected
command working afterwards; here the other commands that used to create their folder first.
"""

from __future__ import annotations

import pytest

from compass_nav import cli


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["worldmodel", "collect", "--set", "pool.families=[offise]", "--data"], "'offise'"),
        (["worldmodel", "collect", "--set", "pool.embodiment=cartr", "--data"], "'cartr'"),
        (["demo", "--mode", "ros", "--families", "offise", "--out"], "'offise'"),
    ],
)
def test_unknown_name_leaves_no_folder(tmp_path, capsys, monkeypatch, args, named):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    assert cli.main([*args, str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("compass-nav: error: unknown ") and named in err, err
    assert not out.exists()
