"""Fixtures for the ROS 2 tests: private-network guard, per-test domain ids, node processes.

Tests that start nodes take ``domain_id`` (which first asserts that loopback is the only
network interface: run them through ``scripts/test.sh``) and ``launch`` (starts a node in a
subprocess on that domain and always stops it). The message-level unit tests need neither.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from compass_nav.ros.netns import PrivateNetworkError, require_private_network
from compass_nav.ros.sil import node_command, stop_process

sys.path.insert(0, str(Path(__file__).parent))

# Unique per test in this process; other pytest processes run in their own namespaces.
_DOMAINS = itertools.count(1 + os.getpid() % 60)


@pytest.fixture(scope="session")
def private_network() -> None:
    """Fail (never skip) when DDS could reach a real network interface."""
    try:
        require_private_network()
    except PrivateNetworkError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def domain_id(private_network) -> int:
    """A ROS_DOMAIN_ID no other test in this session uses (1..200)."""
    return 1 + (next(_DOMAINS) - 1) % 200


@pytest.fixture
def launch(domain_id, tmp_path):
    """``launch(module, _namespace='', **params) -> Popen``: a node process on this test's domain.

    Output goes to ``tmp_path/<name>.log`` (printed if the test fails); every process is
    stopped with SIGINT (then SIGKILL) at teardown.
    """
    procs: list[tuple[subprocess.Popen, Path]] = []

    def start(module: str, _namespace: str = "", **params) -> subprocess.Popen:
        env = dict(os.environ, ROS_DOMAIN_ID=str(domain_id), PYTHONUNBUFFERED="1")
        log = tmp_path / f"{module.rsplit('.', 1)[-1]}_{len(procs)}.log"
        with open(log, "w") as fh:
            proc = subprocess.Popen(
                node_command(module, params, _namespace),
                env=env,
                stdout=fh,
                stderr=subprocess.STDOUT,
            )
        procs.append((proc, log))
        return proc

    start.logs = lambda: "\n".join(f"--- {p.name}\n{p.read_text()}" for _, p in procs)
    yield start
    for proc, _ in procs:
        stop_process(proc, timeout=5.0)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Attach node logs to failing ROS tests."""
    outcome = yield
    rep = outcome.get_result()
    if rep.failed and "launch" in item.fixturenames:
        start = item.funcargs.get("launch")
        if start is not None:
            time.sleep(0.2)
            rep.sections.append(("node logs", start.logs()))
