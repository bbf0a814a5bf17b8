"""``teacher demos`` checks its arguments before it writes anything.

A typo in ``--families``, ``--embodiments`` or ``--policy`` used to leave a ``meta.json``
behind, so the corrected command was refused as "a dataset with other settings".
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _demos(out: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "compass_nav.cli", "teacher", "demos", "--out", str(out)]
    cmd += ["--episodes", "1", "--num-envs", "1", "--workers", "1", "--image-size", "16x16"]
    cmd += ["--families", "warehouse", "--max-episode-steps", "20", "--quiet", *extra]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(
    ("flag", "typo", "named"),
    [
        ("--families", "warehuose", "'warehuose': unknown family"),
        ("--policy", "teachr", "unknown policy 'teachr'"),
        ("--embodiments", "cartr", "cartr"),
    ],
)
def test_typo_writes_nothing_and_the_corrected_command_works(tmp_path, flag, typo, named):
    out = tmp_path / "demos"
    bad = _demos(out, flag, typo)
    assert bad.returncode == 2, bad.stderr
    assert bad.stderr.startswith("compass-nav: error: "), bad.stderr
    assert named in bad.stderr
    assert not out.exists()
    if flag == "--families":  # one corrected run is enough to show nothing blocks it
        good = _demos(out)
        assert good.returncode == 0, good.stderr
        assert (out / "meta.json").is_file()
