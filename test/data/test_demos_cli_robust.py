"""``compass-nav teacher demos`` under abuse: kill -9, reruns, typos in the arguments."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from compass_nav.cli import main
from compass_nav.data import format as fmt

REPO = Path(__file__).resolve().parents[2]


def _demos(out: Path, episodes: int, *extra: str) -> list[str]:
    return [
        "teacher",
        "demos",
        "--out",
        str(out),
        "--episodes",
        str(episodes),
        "--num-envs",
        "2",
        "--families",
        "hall",
        "--image-size",
        "16x16",
        "--max-episode-steps",
        "20",
        "--quiet",
        *extra,
    ]


def _children(pid: int) -> set[int]:
    """Pids of the live direct children of ``pid`` (from /proc; psutil is not a dependency)."""
    out = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            out.add(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_workers_die_with_a_killed_parent(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "compass_nav.cli", *_demos(tmp_path / "ds", 10_000)]
    proc = subprocess.Popen(cmd + ["--workers", "2"], cwd=REPO)
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + 120
        # Spawned workers (the resource tracker is a child too): wait until they record.
        while len(fmt.list_episode_files(tmp_path / "ds")) < 1:
            assert proc.poll() is None, "recorder exited early"
            assert time.monotonic() < deadline, "workers recorded nothing within 120 s"
            time.sleep(0.1)
        workers = _children(proc.pid)
        assert len(workers) >= 2
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [p for p in workers if _alive(p)]
    for p in left:  # do not leak them into the rest of the suite
        os.kill(p, signal.SIGKILL)
    assert left == [], "recorder workers outlived their killed parent"


def test_rerun_on_a_finished_folder_is_a_no_op_and_a_partial_one_resumes(
    tmp_path: Path, capsys
) -> None:
    out = tmp_path / "ds"
    assert main(_demos(out, 3)) == 0
    files = fmt.list_episode_files(out)
    assert len(files) == 3
    # What kill -9 leaves: finished files, no counts in meta.json (its update never ran).
    meta = fmt.read_meta(out)
    meta["counts"] = {}
    fmt.write_meta(out, meta)
    files[-1][1].unlink()
    capsys.readouterr()
    assert main(_demos(out, 3)) == 0  # resumes: records the missing episode
    assert len(fmt.list_episode_files(out)) == 3
    assert fmt.read_meta(out)["counts"]["episodes"] == 3
    meta = fmt.read_meta(out)
    meta["counts"] = {}
    fmt.write_meta(out, meta)
    mtimes = {p: p.stat().st_mtime_ns for _, p in fmt.list_episode_files(out)}
    capsys.readouterr()
    assert main(_demos(out, 3)) == 0  # finished: nothing recorded, and it says so
    text = capsys.readouterr().out
    assert "nothing to record" in text
    assert {p: p.stat().st_mtime_ns for _, p in fmt.list_episode_files(out)} == mtimes
    assert fmt.read_meta(out)["counts"]["episodes"] == 3


@pytest.mark.parametrize(
    "typo", [("--families", "hal"), ("--policy", "teachr")], ids=["families", "policy"]
)
def test_a_typo_writes_nothing_so_the_corrected_command_runs(
    tmp_path: Path, capsys, typo: tuple[str, str]
) -> None:
    out = tmp_path / "ds"
    args = _demos(out, 1)
    if typo[0] == "--families":
        args[args.index("--families") + 1] = typo[1]
    else:
        args += list(typo)
    assert main(args) == 2
    assert typo[1] in capsys.readouterr().err
    assert not out.exists()
    assert main(_demos(out, 1)) == 0
    assert json.loads((out / fmt.META_FILE).read_text())["counts"]["episodes"] == 1
