"""Packaging, CLI and shared-helper tests: fast, CPU only, no ROS nodes started.

Covers the ament_python skeleton (package.xml, setup.py data files, a real colcon build into
a temporary folder), the ``compass-nav`` command registry and its error handling, the
network-namespace guard script and the helpers in ``compass_nav.utils``.
"""

from __future__ import annotations

import ast
import dataclasses
import os
import re
import stat
import subprocess
import sys
import types
from pathlib import Path

import pytest

import compass_nav
from compass_nav import cli
from compass_nav.utils import paths
from compass_nav.utils.atomic import (
    atomic_open,
    atomic_save_torch,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
)
from compass_nav.utils.config import (
    apply_overrides,
    check,
    config_from_dict,
    config_to_dict,
    dump_yaml,
    load_yaml_config,
)
from compass_nav.utils.errors import CompassNavError, ConfigError, DataError, ModelError

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = [
    "scripts/setup_env.sh",
    "scripts/netns_run.sh",
    "scripts/in_env.sh",
    "scripts/main.sh",
    "scripts/test.sh",
    ".ci/run",
]


def _run(cmd: list[str], timeout: float = 60, **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


def _requirement_names(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            out[re.sub(r"[-_.]+", "-", name).lower()] = version
    return out


# --- ament_python skeleton -----------------------------------------------------------------


def test_package_xml_is_valid_format3_ament_python():
    catkin_pkg = pytest.importorskip("catkin_pkg.package", reason="catkin_pkg not installed")
    pkg = catkin_pkg.parse_package(str(ROOT / "package.xml"))  # validates strictly
    assert pkg.package_format == 3
    assert pkg.name == "compass_nav"
    assert pkg.version == compass_nav.__version__
    assert pkg.get_build_type() == "ament_python"
    assert pkg.licenses == ["Apache-2.0"]
    exec_deps = {d.name for d in pkg.exec_depends}
    assert {
        "rclpy",
        "lifecycle_msgs",
        "geometry_msgs",
        "sensor_msgs",
        "nav_msgs",
        "std_msgs",
        "std_srvs",
        "diagnostic_msgs",
        "rosgraph_msgs",
        "builtin_interfaces",
        "python3-numpy",
        "python3-yaml",
    } <= exec_deps
    assert "python3-pytest" in {d.name for d in pkg.test_depends}


def test_ament_skeleton_files():
    assert (ROOT / "resource" / "compass_nav").is_file()
    cfg = (ROOT / "setup.cfg").read_text()
    assert "script_dir=$base/lib/compass_nav" in cfg
    assert "install_scripts=$base/lib/compass_nav" in cfg
    link = ROOT / "ros_ws" / "src" / "compass_nav"
    assert link.is_symlink() and os.readlink(link) == "../.."
    assert link.resolve() == ROOT


def test_scripts_are_executable():
    for rel in SCRIPTS:
        mode = (ROOT / rel).stat().st_mode
        assert mode & stat.S_IXUSR, f"{rel} is not executable"


def test_base_requirements_pin_every_install_requirement():
    tree = ast.parse((ROOT / "setup.py").read_text())
    install_requires: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "install_requires":
            install_requires = [ast.literal_eval(e) for e in node.value.elts]
    assert install_requires
    pinned = _requirement_names(ROOT / "requirements" / "base.txt")
    for req in install_requires:
        name = re.sub(r"[-_.]+", "-", re.split(r"[<>=!~ ]", req)[0]).lower()
        assert name in pinned, f"{name} is not pinned in requirements/base.txt"
        assert pinned[name], f"{name} has no exact version in requirements/base.txt"
    assert pinned["torch"] == "2.13.0"
    ros = _requirement_names(ROOT / "requirements" / "ros.txt")
    assert ros["ros-kilted-rclpy"] == "9.1.2"


@pytest.mark.colcon
@pytest.mark.timeout(60)
def test_colcon_build_installs_ament_layout(tmp_path):
    pytest.importorskip("colcon_core.command", reason="colcon is not installed in this env")
    pytest.importorskip("colcon_ros", reason="colcon-ros is not installed in this env")
    build, install, log = tmp_path / "build", tmp_path / "install", tmp_path / "log"
    colcon = [
        sys.executable,
        "-c",
        "import sys; from colcon_core.command import main; sys.exit(main())",
    ]
    listed = _run(
        colcon + ["--log-base", str(log), "list", "--base-paths", str(ROOT / "ros_ws" / "src")],
        cwd=tmp_path,
    )
    assert listed.returncode == 0, listed.stderr
    assert "(ros.ament_python)" in listed.stdout, listed.stdout
    res = _run(
        colcon
        + [
            "--log-base",
            str(log),
            "build",
            "--base-paths",
            str(ROOT / "ros_ws" / "src"),
            "--build-base",
            str(build),
            "--install-base",
            str(install),
        ],
        cwd=tmp_path,
        timeout=50,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    prefix = install / "compass_nav"
    assert (prefix / "share/ament_index/resource_index/packages/compass_nav").is_file()
    assert (prefix / "share/compass_nav/package.xml").is_file()
    for exe in ("navigator", "sim_bridge", "compass-nav"):
        assert (prefix / "lib/compass_nav" / exe).is_file(), exe
    for src in sorted((ROOT / "sim").rglob("*.yaml"))[:20] + sorted(
        (ROOT / "configs").rglob("*.yaml")
    ):
        rel = src.relative_to(ROOT)
        assert (prefix / "share/compass_nav" / rel).is_file(), f"{rel} not installed"
    # The stage presets resolve from the installed share folder, not the checkout.
    found = _run(
        [
            sys.executable,
            "-c",
            "from compass_nav.utils.config import stage_presets; "
            "print(sorted(stage_presets('il')))",
        ],
        cwd=tmp_path,
        env={
            **os.environ,
            "COMPASS_NAV_CONFIGS_DIR": str(prefix / "share/compass_nav/configs"),
        },
    )
    assert found.returncode == 0, found.stderr
    assert "'debug'" in found.stdout


# --- the compass-nav command line ----------------------------------------------------------


def test_cli_help_and_version_subprocess():
    res = _run([sys.executable, "-m", "compass_nav.cli", "--help"], cwd=ROOT)
    assert res.returncode == 0, res.stderr
    assert "usage: compass-nav" in res.stdout
    assert "demo" in res.stdout and "examples:" in res.stdout
    res = _run([sys.executable, "-m", "compass_nav.cli", "--version"], cwd=ROOT)
    assert res.returncode == 0
    assert res.stdout.strip() == f"compass-nav {compass_nav.__version__}"


def _fake_module(monkeypatch, name: str, register) -> None:
    mod = types.ModuleType(name)
    mod.register = register
    monkeypatch.setitem(sys.modules, name, mod)
    monkeypatch.setattr(cli, "COMMAND_MODULES", [name, "compass_nav._no_such_stage.cli"])


def _register_failing(subparsers):
    p = subparsers.add_parser("boom", help="always fails")
    p.add_argument("--kind", default="config")

    def run(args):
        if args.kind == "config":
            raise ConfigError("ppo.lr=-1: must be positive")
        if args.kind == "interrupt":
            raise KeyboardInterrupt
        return 7

    p.set_defaults(func=run)


def test_cli_compass_error_exits_2_without_traceback(monkeypatch, capsys):
    _fake_module(monkeypatch, "fake_stage_cli", _register_failing)
    assert cli.main(["boom"]) == 2
    err = capsys.readouterr().err
    assert err == "compass-nav: error: ppo.lr=-1: must be positive\n"
    assert "Traceback" not in err


def test_cli_interrupt_and_return_codes(monkeypatch, capsys):
    _fake_module(monkeypatch, "fake_stage_cli", _register_failing)
    assert cli.main(["boom", "--kind", "interrupt"]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert cli.main(["boom", "--kind", "other"]) == 7
    assert cli.main([]) == 2  # no command: help on stderr


def test_cli_demo_placeholder_only_when_nobody_provides_it(monkeypatch, capsys):
    _fake_module(monkeypatch, "fake_stage_cli", _register_failing)
    assert cli.main(["demo", "--anything"]) == 1
    assert "not yet available" in capsys.readouterr().err

    def register_demo(subparsers):
        subparsers.add_parser("demo").set_defaults(func=lambda args: 0)

    _fake_module(monkeypatch, "fake_demo", register_demo)
    assert cli.main(["demo"]) == 0


def test_cli_surfaces_unrelated_import_errors(monkeypatch, tmp_path):
    (tmp_path / "broken_stage_cli.py").write_text("import compass_nav_missing_dependency\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(cli, "COMMAND_MODULES", ["broken_stage_cli"])
    with pytest.raises(ModuleNotFoundError, match="compass_nav_missing_dependency"):
        cli.main(["--help"])


# --- compass_nav.utils ---------------------------------------------------------------------


def test_error_hierarchy():
    for cls in (ConfigError, DataError, ModelError):
        assert issubclass(cls, CompassNavError)
    assert issubclass(ConfigError, ValueError)


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path):
    target = tmp_path / "sub" / "out.bin"
    atomic_write_bytes(target, b"first")
    atomic_write_bytes(target, b"second")
    assert target.read_bytes() == b"second"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    atomic_write_text(tmp_path / "t.txt", "héllo")
    assert (tmp_path / "t.txt").read_text(encoding="utf-8") == "héllo"
    atomic_write_json(tmp_path / "r.json", {"sr": 0.5})
    assert (tmp_path / "r.json").read_text() == '{\n  "sr": 0.5\n}\n'
    with pytest.raises(RuntimeError), atomic_open(target, "wb") as fh:
        fh.write(b"partial")
        raise RuntimeError("crash mid-write")
    assert target.read_bytes() == b"second"
    leftovers = [p.name for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []


def test_atomic_save_torch(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "ckpt.pt"
    atomic_save_torch({"w": torch.arange(3)}, path)
    assert torch.equal(torch.load(path, weights_only=True)["w"], torch.arange(3))
    assert list(tmp_path.iterdir()) == [path]


@dataclasses.dataclass(frozen=True)
class _Ppo:
    lr: float = 1e-4
    epochs: int = 5

    def __post_init__(self):
        check(self.lr > 0, "ppo.lr", self.lr, "must be positive")


@dataclasses.dataclass(frozen=True)
class _Train:
    name: str
    ppo: _Ppo = dataclasses.field(default_factory=lambda: _Ppo(epochs=8))
    image_size: tuple[int, int] = (96, 160)
    embodiments: tuple[str, ...] = ("carter",)
    seed: int | None = None


def test_config_round_trip_and_nested_defaults(tmp_path):
    cfg = config_from_dict(
        _Train,
        {
            "name": "x",
            "ppo": {"lr": "3e-4"},
            "image_size": [64, 64],
            "embodiments": ["carter", "spot"],
        },
    )
    assert cfg.ppo == _Ppo(lr=3e-4, epochs=8)  # partial section merged over the field default
    assert cfg.image_size == (64, 64) and cfg.embodiments == ("carter", "spot")
    as_dict = config_to_dict(cfg)
    assert as_dict["image_size"] == [64, 64]
    assert config_from_dict(_Train, as_dict) == cfg
    dump_yaml(cfg, tmp_path / "cfg.yaml")
    loaded = load_yaml_config(_Train, tmp_path / "cfg.yaml", ["ppo.epochs=3", "seed=1"])
    assert loaded == dataclasses.replace(cfg, ppo=_Ppo(lr=3e-4, epochs=3), seed=1)


def test_config_rejects_unknown_keys_naming_them():
    with pytest.raises(ConfigError, match=r"ppo\.learning_rate.*valid keys: lr, epochs"):
        config_from_dict(_Train, {"name": "x", "ppo": {"learning_rate": 1.0}})
    with pytest.raises(ConfigError, match="unknown config key nmae"):
        config_from_dict(_Train, {"nmae": "x"})
    with pytest.raises(ConfigError, match="missing config key name"):
        config_from_dict(_Train, {})
    with pytest.raises(ConfigError, match=r"ppo\.lr=-1\.0: must be positive"):
        config_from_dict(_Train, {"name": "x", "ppo": {"lr": -1}})
    with pytest.raises(ConfigError, match="expected key.sub=value"):
        apply_overrides({}, ["ppo.lr"])


def test_sim_data_dir_and_env_override(monkeypatch, tmp_path):
    monkeypatch.delenv(paths.SIM_DIR_ENV, raising=False)
    assert paths.repo_root() == ROOT
    assert paths.sim_data_dir() == ROOT / "sim"
    monkeypatch.setenv(paths.SIM_DIR_ENV, str(tmp_path))
    assert paths.sim_data_dir() == tmp_path.resolve()
    monkeypatch.setenv(paths.SIM_DIR_ENV, str(tmp_path / "missing"))
    with pytest.raises(DataError, match=paths.SIM_DIR_ENV):
        paths.sim_data_dir()


# --- the network-namespace guard -----------------------------------------------------------


def test_netns_run_refuses_without_namespace(tmp_path):
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    for tool, body in (
        ("unshare", "echo 'unshare: Operation not permitted' >&2; exit 1"),
        ("ip", "exit 0"),
    ):
        (fake_bin / tool).write_text(f"#!/bin/sh\n{body}\n")
        (fake_bin / tool).chmod(0o755)
    env = dict(os.environ, PATH=f"{fake_bin}:/usr/bin:/bin")
    res = _run([str(ROOT / "scripts/netns_run.sh"), "echo", "ran-on-host"], env=env)
    assert res.returncode != 0
    assert "ran-on-host" not in res.stdout
    assert "Refusing" in res.stderr and "Operation not permitted" in res.stderr


def test_netns_run_gives_loopback_only():
    if _run(["unshare", "-n", "true"]).returncode != 0:
        pytest.skip("unshare -n is not permitted here (needs root or CAP_SYS_ADMIN)")
    res = _run(
        [
            str(ROOT / "scripts/netns_run.sh"),
            "sh",
            "-c",
            "ip -o link show; echo RMW=$RMW_IMPLEMENTATION; echo APP=$AMENT_PREFIX_PATH",
        ]
    )
    assert res.returncode == 0, res.stderr
    links = [ln.split(":")[1].strip() for ln in res.stdout.splitlines() if ": " in ln[:8]]
    assert links == ["lo"], res.stdout
    assert "state UNKNOWN" in res.stdout or "LOWER_UP" in res.stdout
    assert "RMW=rmw_fastrtps_cpp" in res.stdout
    assert re.search(r"APP=\S+", res.stdout)
