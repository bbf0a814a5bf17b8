"""Recorder tests: round trip, NEXT_STEP alignment against a manual rollout, mapless routes,
resume after Ctrl-C and after a hard kill, leftover temp files, extras, settings mismatch."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from compass_nav.contract.body import DESCRIPTOR_DIM
from compass_nav.data import DemoDataset, mapless_route, record_episodes
from compass_nav.data import format as fmt
from compass_nav.sim.env import NavVectorEnv
from compass_nav.teacher import Teacher
from compass_nav.utils.errors import ConfigError, DataError

OBS_KEYS = ("rgb", "depth", "speed", "route", "goal")


def _manual_rollout(cfg, seed: int, steps: int):
    """Drive a planned env and a mapless twin in lockstep with the teacher, the plain way.

    Returns per slot a list of finished episodes: {"obs": {key: [..]}, "mapless": [...],
    "action": [...], "final": {...}, "length": l}.
    """
    env = NavVectorEnv(cfg)
    twin = NavVectorEnv(dataclasses.replace(cfg, route_mode="mapless"))
    teacher = Teacher(env)
    seeds = [[seed, 0, e] for e in range(cfg.num_envs)]
    obs, _ = env.reset(seed=seeds)
    tobs, _ = twin.reset(seed=seeds)
    fresh = {k: v.copy() for k, v in obs.items()}

    def new():
        return {"obs": {k: [] for k in OBS_KEYS}, "mapless": [], "action": []}

    cur = [new() for _ in range(cfg.num_envs)]
    done: list[list[dict]] = [[] for _ in range(cfg.num_envs)]
    pending = np.zeros(cfg.num_envs, bool)
    low, high = env.action_space.low, env.action_space.high
    for _ in range(steps):
        action = np.clip(teacher.act(), low, high).astype(np.float32)
        for e in np.flatnonzero(~pending):
            for k in OBS_KEYS:
                cur[e]["obs"][k].append(obs[k][e].copy())
            cur[e]["mapless"].append(tobs["route"][e].copy())
            cur[e]["action"].append(action[e])
        obs, _, _, _, info = env.step(action)
        tobs, _, _, _, _ = twin.step(action)
        np.testing.assert_array_equal(env.pose, twin.pose)  # route mode never changes motion
        ended = info["_episode"] & ~pending
        for e in np.flatnonzero(ended):
            cur[e]["length"] = int(info["episode"]["l"][e])
            cur[e]["final_mapless"] = tobs["route"][e].copy()
            done[e].append(cur[e])
            cur[e] = new()
        pending = ended
    return done, fresh


def test_round_trip_shapes_and_alignment_with_manual_rollout(small_demos: Path, small_cfg):
    ds = DemoDataset(small_demos)
    cfg, seed = small_cfg, ds.meta["seed"]
    assert len(ds) == 6
    manual, fresh = _manual_rollout(cfg, seed, 120)
    H, W, K = cfg.image_height, cfg.image_width, cfg.route_points
    seen = {0: 0, 1: 0}
    for i in range(len(ds)):
        ep = ds[i]
        T = ep["length"]
        expected = {
            "rgb": ((T, H, W, 3), np.uint8),
            "depth": ((T, H, W), np.float16),
            "speed": ((T, 3), np.float32),
            "route": ((T, K, 2), np.float32),
            "route_mapless": ((T, K, 2), np.float32),
            "goal": ((T, 3), np.float32),
            "pose": ((T, 3), np.float32),
            "action": ((T, 3), np.float32),
            "prev_action": ((T, 3), np.float32),
            "reward": ((T,), np.float32),
            "terminated": ((T,), np.bool_),
            "truncated": ((T,), np.bool_),
            "embodiment": ((DESCRIPTOR_DIM,), np.float32),
            "final_rgb": ((H, W, 3), np.uint8),
        }
        for key, (shape, dtype) in expected.items():
            assert ep[key].shape == shape and ep[key].dtype == dtype, key
        slot = ep["env_slot"]
        ref = manual[slot][seen[slot]]
        seen[slot] += 1
        # Episode length == recorded steps == the env's own count.
        assert T == ref["length"] == len(ref["action"])
        for k in OBS_KEYS:
            want = np.stack(ref["obs"][k])
            np.testing.assert_array_equal(
                ep[k], want.astype(np.float16) if k == "depth" else want, err_msg=k
            )
        # Action t is stored with the observation it was computed from.
        np.testing.assert_array_equal(ep["action"], np.stack(ref["action"]))
        np.testing.assert_array_equal(ep["prev_action"][0], 0.0)
        np.testing.assert_array_equal(ep["prev_action"][1:], ep["action"][:-1])
        # The recorded mapless route equals what a mapless env observes.
        np.testing.assert_allclose(ep["route_mapless"], np.stack(ref["mapless"]), atol=2e-5)
        np.testing.assert_allclose(ep["final_route_mapless"], ref["final_mapless"], atol=2e-5)
        # Done flags only on the last step, agreeing with the outcome attributes.
        assert not ep["terminated"][:-1].any() and not ep["truncated"][:-1].any()
        assert ep["terminated"][-1] == (ep["success"] or ep["collision"])
        assert ep["truncated"][-1] == ep["timeout"]
        assert np.isclose(ep["reward"].sum(), ep["return"], atol=1e-3)
        assert ep["family"] == cfg.families[slot % 2]
        np.testing.assert_allclose(ep["pose"][0], ep["start_pose"], atol=1e-5)
    # The first recorded observation of each slot's first episode is a fresh reset's.
    for slot in (0, 1):
        first = next(ds[i] for i in range(len(ds)) if ds[i]["env_slot"] == slot)
        np.testing.assert_array_equal(first["rgb"][0], fresh["rgb"][slot])
        np.testing.assert_array_equal(first["goal"][0], fresh["goal"][slot])


def test_mapless_route_definition():
    goal = np.array([[3.0, 4.0, 0.0], [0.5, 0.0, 1.0], [0.0, 0.0, 0.0]], np.float32)
    r = mapless_route(goal, 4, 0.4)
    assert r.shape == (3, 4, 2) and r.dtype == np.float32
    np.testing.assert_allclose(
        r[0], [[0.24, 0.32], [0.48, 0.64], [0.72, 0.96], [0.96, 1.28]], atol=1e-6
    )
    np.testing.assert_allclose(r[1], [[0.4, 0], [0.5, 0], [0.5, 0], [0.5, 0]], atol=1e-6)
    np.testing.assert_array_equal(r[2], 0.0)


def _plain(cfg) -> dict:
    """Keyword arguments rebuilding a SimConfig (nested reward config left at its default)."""
    return {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg) if f.name != "reward"}


def _digest(path: Path) -> tuple[str, int]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


def _starts(root: Path) -> list[tuple]:
    ds = DemoDataset(root)
    return [
        (a["family"], a["scene_seed"], tuple(np.round(a["start_pose"], 6)))
        for a in (ds.attrs(i) for i in range(len(ds)))
    ]


def test_resume_after_ctrl_c_keeps_files_and_never_repeats_seeds(tmp_path: Path, small_cfg):
    cfg = small_cfg
    root = tmp_path / "ds"
    calls = {"n": 0}

    def interrupt_late(policy, obs, action):
        calls["n"] += 1
        if calls["n"] > 70:
            raise KeyboardInterrupt
        return {}

    with pytest.raises(KeyboardInterrupt):
        record_episodes("teacher", root, cfg, 50, seed=1, extra_fn=interrupt_late, progress=False)
    kept = fmt.list_episode_files(root)
    assert len(kept) >= 2  # episodes finished before the interrupt were written out
    before = {p.name: _digest(p) for _, p in kept}
    # A write that a kill interrupted leaves a temp file: it is not an episode and is removed.
    leftover = fmt.episodes_dir(root) / ".ep_000099.npz.x1y2.tmp"
    leftover.write_bytes(b"PK\x03\x04 half a file")
    assert len(DemoDataset(root)) == len(kept)

    total = len(kept) + 3
    result = record_episodes(
        "teacher", root, dataclasses.replace(cfg, num_envs=3), total, seed=1, progress=False
    )
    assert result.existing == len(kept) and result.written == 3 and result.total == total
    assert not leftover.exists()
    after = fmt.list_episode_files(root)
    assert len(after) == total
    for name, digest in before.items():
        assert _digest(fmt.episodes_dir(root) / name) == digest, name
    starts = _starts(root)
    assert len(set(starts)) == len(starts)
    meta = fmt.read_meta(root)
    assert [r["first_index"] for r in meta["runs"]] == [0, len(kept)]
    assert meta["counts"]["episodes"] == total
    # Nothing to do once the dataset is complete.
    again = record_episodes("teacher", root, cfg, total, seed=1, progress=False)
    assert again.written == 0 and len(fmt.list_episode_files(root)) == total


@pytest.mark.slow
def test_resume_after_hard_kill(tmp_path: Path, small_cfg):
    root = tmp_path / "ds"
    code = (
        "from compass_nav.data import record_episodes\n"
        "from compass_nav.plugins import register_all\n"
        "from compass_nav.sim.config import SimConfig\n"
        "register_all()\n"
        f"cfg = SimConfig(**{_plain(small_cfg)!r})\n"
        f"record_episodes('teacher', {str(root)!r}, cfg, 500, seed=2, progress=False)\n"
    )
    repo = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=repo)
    try:
        deadline = time.monotonic() + 60
        while len(fmt.list_episode_files(root)) < 3:
            assert proc.poll() is None, "recorder exited early"
            assert time.monotonic() < deadline, "recorder wrote nothing within 60 s"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    kept = fmt.list_episode_files(root)
    for _, p in kept:
        fmt.read_episode(p)  # every finished name is a complete, readable file
    before = {p.name: _digest(p) for _, p in kept}
    total = len(kept) + 2
    record_episodes("teacher", root, small_cfg, total, seed=2, progress=False)
    assert len(fmt.list_episode_files(root)) == total
    assert fmt.list_temp_files(root) == []
    for name, digest in before.items():
        assert _digest(fmt.episodes_dir(root) / name) == digest
    starts = _starts(root)
    assert len(set(starts)) == len(starts)


def test_extra_arrays_are_stored_and_read(tmp_path: Path, small_cfg):
    def extras(policy, obs, action):
        n = obs["goal"].shape[0]
        return {
            "policy_state": np.tile(obs["goal"][:, :2], (1, 2)).astype(np.float16),
            "action_mean": action.astype(np.float32),
            "slot": np.arange(n),
        }

    cfg = dataclasses.replace(small_cfg, families=("hall",), max_episode_steps=10)
    record_episodes(
        "teacher", tmp_path / "ds", cfg, 2, extra_fn=extras, progress=False, writer_threads=0
    )
    ep = DemoDataset(tmp_path / "ds")[0]
    assert ep["policy_state"].shape == (ep["length"], 4)
    assert ep["policy_state"].dtype == np.float16
    np.testing.assert_allclose(ep["policy_state"][:, :2], ep["goal"][:, :2], rtol=1e-3)
    np.testing.assert_allclose(ep["action_mean"], ep["action"], atol=1e-6)
    assert (ep["slot"] == ep["env_slot"]).all()

    def clash(policy, obs, action):
        return {"action": action}

    with pytest.raises(ConfigError, match="reserved"):
        record_episodes("teacher", tmp_path / "other", cfg, 1, extra_fn=clash, progress=False)


def test_settings_mismatch_and_foreign_folder_are_data_errors(
    small_demos: Path, tmp_path: Path, small_cfg
):
    cfg, seed = small_cfg, 3
    bigger = dataclasses.replace(cfg, image_height=32)
    with pytest.raises(DataError, match="image_height"):
        record_episodes("teacher", small_demos, bigger, 8, seed=seed, progress=False)
    with pytest.raises(DataError, match="policy"):
        record_episodes("goal_seeker", small_demos, cfg, 8, seed=seed, progress=False)
    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "todo.txt").write_text("x")
    with pytest.raises(DataError, match="not a demonstrations dataset"):
        record_episodes("teacher", foreign, cfg, 1, progress=False)
    with pytest.raises(ConfigError, match="num_episodes"):
        record_episodes("teacher", tmp_path / "new", cfg, 0, progress=False)


@pytest.mark.slow
def test_worker_processes_record_the_same_slot_streams(
    tmp_path: Path, small_cfg, small_demos: Path
):
    root = tmp_path / "ds"
    result = record_episodes("teacher", root, small_cfg, 5, seed=3, workers=2, progress=False)
    assert result.written == 5 and len(fmt.list_episode_files(root)) == 5
    ds = DemoDataset(root)
    for i in range(len(ds)):
        a = ds.attrs(i)
        # Global slot g drives families[g % F] and is seeded [seed, first_index, g].
        assert a["family"] == small_cfg.families[a["env_slot"] % 2]
        assert a["seed_key"] == [3, 0, a["env_slot"]]
    assert len(set(_starts(root))) == 5
    assert fmt.read_meta(root)["runs"][0]["workers"] == 2
    # A slot's episodes do not depend on which process ran it: compare with one process.
    single = DemoDataset(small_demos)
    compared = 0
    for slot in (0, 1):
        mine = [ds[i] for i in range(len(ds)) if ds[i]["env_slot"] == slot]
        ref = [single[i] for i in range(len(single)) if single[i]["env_slot"] == slot]
        for m, r in zip(mine, ref, strict=False):
            np.testing.assert_array_equal(m["rgb"], r["rgb"])
            np.testing.assert_array_equal(m["action"], r["action"])
            compared += 1
    assert compared >= 2
    with pytest.raises(ConfigError, match="workers"):
        record_episodes("teacher", root, small_cfg, 9, workers=3, progress=False)
