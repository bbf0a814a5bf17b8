"""Bad output locations and write failures are ``compass-nav: error:`` with exit code 2.

Every command that writes checks its output location before it starts working (an existing
file where a folder goes, a path under a file, a place it may not write), and an ``OSError``
of a write that fails later (a full disk) is reported with the path instead of a traceback.
Real conditions only: an existing file, ``/proc/version`` (a file, so ``/proc/version/x`` is
ENOTDIR), ``/sys`` (no new files, even for root) and ``/dev/full`` (ENOSPC on every write).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from compass_nav import cli

ERROR = "compass-nav: error: cannot write "

#: Commands whose output is a folder, with the fewest arguments that reach the check.
FOLDER_COMMANDS = {
    "teacher demos": ["teacher", "demos", "--episodes", "1", "--out"],
    "evaluate run": ["evaluate", "run", "standstill", "--episodes", "1", "--out"],
    "il train": ["il", "train", "--preset", "debug", "--out"],
    "rl train": ["rl", "train", "--out"],
    "rl record": ["rl", "record", "runs/no_such_specialist", "--out"],
    "distill train": ["distill", "train", "--out"],
    "pipeline run": ["pipeline", "run", "--out"],
    "sim view": ["sim", "view", "--out"],
    "demo": ["demo", "--out"],
    "worldmodel collect": ["worldmodel", "collect", "--data"],
    "worldmodel evaluate": ["worldmodel", "evaluate", "--model", "no_such.pt", "--out"],
    "worldmodel run": ["worldmodel", "run", "--workdir"],
}

#: Commands whose output is a file.
FILE_COMMANDS = {
    "export onnx": ["export", "onnx", "--checkpoint", "no_such.pt", "--out"],
    "export onnx --report": [
        "export",
        "onnx",
        "--checkpoint",
        "x.pt",
        "--out",
        "m.onnx",
        "--report",
    ],
    "evaluate run --compare": ["evaluate", "run", "--compare", "no_such.json", "--out"],
    "worldmodel train": ["worldmodel", "train", "--data", "no_such", "--out"],
}


def _cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    cmd = [sys.executable, "-m", "compass_nav.cli", *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("name", FOLDER_COMMANDS)
def test_out_that_is_a_file_is_refused_before_work(tmp_path, capsys, monkeypatch, name):
    monkeypatch.chdir(tmp_path)  # relative defaults of other options land here
    target = tmp_path / "a_file"
    target.write_text("keep me")
    assert cli.main([*FOLDER_COMMANDS[name], str(target)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{ERROR}--") and f"{target}: it is a file, not a folder" in err, err
    assert target.read_text() == "keep me" and sorted(os.listdir(tmp_path)) == ["a_file"]


@pytest.mark.parametrize("name", FILE_COMMANDS)
def test_file_out_under_a_file_is_refused_before_work(tmp_path, capsys, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a_file").write_text("keep me")
    target = tmp_path / "a_file" / "out.x"
    assert cli.main([*FILE_COMMANDS[name], str(target)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{ERROR}--"), err
    assert f"{target}: {tmp_path / 'a_file'} is a file, not a folder" in err, err


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("/proc/version/x", "/proc/version is a file, not a folder"),
        ("/sys/compass_nav_test", "/sys: "),  # sysfs takes no new files, not even from root
    ],
)
def test_unwritable_out_is_exit_2_in_a_subprocess(tmp_path, target, reason):
    res = _cli(["teacher", "demos", "--episodes", "1", "--out", target], tmp_path)
    assert res.returncode == 2, res.stderr
    assert res.stderr.startswith(f"{ERROR}--out {target}: "), res.stderr
    assert reason in res.stderr and "Traceback" not in res.stderr


def test_read_only_folder_is_refused(tmp_path):
    """A folder the command may not write into: mode 0555 for a user; for root (who writes
    through 0555) the folder bind-mounted read-only in a private mount namespace."""
    ro = tmp_path / "ro"
    ro.mkdir()
    out = ro / "run"
    args = ["il", "train", "--preset", "debug", "--out", str(out)]
    if os.geteuid() != 0:
        ro.chmod(0o555)
        try:
            res = _cli(args, tmp_path)
        finally:
            ro.chmod(0o755)
    else:
        cli_cmd = " ".join([sys.executable, "-m", "compass_nav.cli", *args])
        script = f"mount --bind {ro} {ro} && mount -o remount,bind,ro {ro} && exec {cli_cmd}"
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        res = subprocess.run(
            ["unshare", "-m", "sh", "-c", script],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert res.returncode == 2, res.stderr
    assert res.stderr.startswith(f"{ERROR}--out {out}: "), res.stderr
    assert "Traceback" not in res.stderr and not out.exists()


_WRITER = """
    import argparse


    def _write(args):
        mode = "r" if args.read else "w"
        with open(args.path, mode) as fh:
            if not args.read:
                fh.write("x" * 100)


    def register(subparsers):
        p = subparsers.add_parser("write-test")
        p.add_argument("path")
        p.add_argument("--read", action="store_true")
        p.set_defaults(func=_write)
"""


@pytest.fixture
def writer_command(tmp_path, monkeypatch):
    """A ``write-test PATH`` command that really writes (or reads) ``PATH``."""
    (tmp_path / "write_test_cmd.py").write_text(textwrap.dedent(_WRITER))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(cli, "COMMAND_MODULES", ["write_test_cmd"])


def test_write_failures_during_the_work_are_user_errors(writer_command, capsys):
    assert cli.main(["write-test", "/dev/full"]) == 2  # a full disk
    err = capsys.readouterr().err
    assert err == "compass-nav: error: cannot write: No space left on device\n", err
    assert cli.main(["write-test", "/sys/compass_nav_test.txt"]) == 2  # no permission
    err = capsys.readouterr().err
    assert err.startswith("compass-nav: error: cannot write or read /sys/compass_nav_test.txt: ")


def test_other_os_errors_keep_their_traceback(writer_command, tmp_path):
    with pytest.raises(FileNotFoundError):  # a bug or a missing input is not a write failure
        cli.main(["write-test", "--read", str(tmp_path / "missing.txt")])
