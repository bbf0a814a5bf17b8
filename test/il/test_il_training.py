"""Imitation trainer: loss falls, resume repeats the interrupted steps, CLI, loader policy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from compass_nav.cli import main
from compass_nav.il.cli import build_il_config
from compass_nav.il.runner import ILRunner
from compass_nav.models.checkpoint_policy import XMobilityPolicy, load_model
from compass_nav.policies import make_policy
from compass_nav.sim.env import NavVectorEnv


def _cfg(out, data, *overrides):
    return build_il_config(str(out), "debug", data=str(data), overrides=list(overrides))


@pytest.mark.slow
def test_loss_falls_on_tiny_dataset(tmp_path, tiny_demos):
    cfg = _cfg(
        tmp_path / "run",
        tiny_demos,
        "steps=80",
        "dagger.rounds=0",
        "lr=3e-3",
        "checkpoint_every=1000",
    )
    runner = ILRunner(cfg, tmp_path / "run", progress=False)
    runner.train()
    first = np.mean([h["total"] for h in runner.history[:10]])
    last = np.mean([h["total"] for h in runner.history[-10:]])
    assert last < 0.7 * first, (first, last)
    act_first = np.mean([h["action"] for h in runner.history[:10]])
    act_last = np.mean([h["action"] for h in runner.history[-10:]])
    assert act_last < act_first
    assert (tmp_path / "run" / "model.pt").is_file()
    assert (tmp_path / "run" / "config.yaml").is_file()


def test_resume_after_interruption_repeats_the_same_steps(tmp_path, tiny_demos):
    # 12 steps, a DAgger round at step 6, checkpoints every 4 steps.
    common = ("steps=12", "checkpoint_every=4", "dagger.start=0.5")
    full = ILRunner(_cfg(tmp_path / "a", tiny_demos, *common), tmp_path / "a", progress=False)
    full.train()
    # "Killed" after step 10: the work of steps 9-10 is lost, the checkpoint of step 8 stays.
    cut = ILRunner(
        _cfg(tmp_path / "b", tiny_demos, *common), tmp_path / "b", progress=False, stop_after=10
    )
    cut.train()
    assert not (tmp_path / "b" / "model.pt").exists()
    resumed = ILRunner(
        _cfg(tmp_path / "b", tiny_demos, *common), tmp_path / "b", resume=True, progress=False
    )
    assert resumed.step == 0
    resumed.train()
    assert [h["total"] for h in resumed.history] == [h["total"] for h in full.history[8:]]
    a, b = load_model(tmp_path / "a"), load_model(tmp_path / "b")
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb), name


def test_cli_trains_and_refuses_a_preset_on_resume(tmp_path, tiny_demos, capsys):
    out = tmp_path / "cli"

    def il_train(out, *extra: str) -> int:
        return main(["il", "train", "--data", str(tiny_demos), "--out", str(out), *extra])

    steps = ["--set", "steps=3", "--set", "dagger.rounds=0"]
    assert il_train(out, "--preset", "debug", *steps, "--no-progress") == 0
    assert (out / "model.pt").is_file()
    assert main(["il", "train", "--out", str(out), "--preset", "debug", "--resume"]) == 2
    # the folder already holds a run
    assert il_train(out, "--preset", "debug", "--no-progress") == 2
    assert il_train(tmp_path / "x", "--preset", "debug", "--set", "seq_len=0") == 2
    err = capsys.readouterr().err
    assert "--resume" in err and "seq_len=0" in err


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, tiny_demos):
    out = tmp_path_factory.mktemp("policy") / "run"
    torch.set_num_threads(1)
    ILRunner(_cfg(out, tiny_demos, "steps=5", "dagger.rounds=0"), out, progress=False).train()
    return out


@pytest.mark.parametrize("image", [32, 64])
def test_loader_policy_drives_the_env(trained_run, image):
    policy = make_policy(str(trained_run))
    assert isinstance(policy, XMobilityPolicy)
    env = NavVectorEnv(
        num_envs=4,
        embodiments=("carter", "spot"),
        families=("hall", "office"),
        image_height=image,
        image_width=image,
        max_episode_steps=8,
    )
    policy.bind(env)
    obs, _ = env.reset(seed=0)
    start = np.ones(4, bool)
    lows = np.stack([b.action_low for b in env.env_bodies])
    highs = np.stack([b.action_high for b in env.env_bodies])
    for _ in range(12):
        action = policy.act(obs, start)
        assert action.shape == (4, 3) and np.isfinite(action).all()
        assert (action >= lows - 1e-6).all() and (action <= highs + 1e-6).all()
        obs, _, _, _, info = env.step(action)
        start = info["_episode"]  # NEXT_STEP autoreset: the obs after an end is a new one's
    assert policy.last_path.shape == (4, 5, 2)


def test_loader_policy_resets_rows_that_start_an_episode(trained_run):
    env = NavVectorEnv(num_envs=2, families=("hall",), image_height=32, image_width=32)
    obs, _ = env.reset(seed=3)
    running = make_policy(str(trained_run))
    for _ in range(3):
        running.act(obs, np.zeros(2, bool))
    fresh = make_policy(str(trained_run))
    got = running.act(obs, np.array([True, False]))
    ref = fresh.act(obs, np.ones(2, bool))
    np.testing.assert_allclose(got[0], ref[0], atol=1e-6)
    assert not np.allclose(got[1], ref[1])


@pytest.mark.parametrize(
    ("lr", "message"),
    [("1e4", "diverged at step"), ("inf", "lr='inf': expected a finite number")],
)
def test_diverging_training_stops_by_name_and_writes_no_model(
    tmp_path, tiny_demos, capsys, lr, message
):
    """A learning rate that blows the weights up ends the run with a named error (exit 2)
    before any checkpoint or model holding NaN is written; an infinite one is refused when
    the config is read."""
    out = tmp_path / "run"
    argv = ["il", "train", "--data", str(tiny_demos), "--out", str(out), "--preset", "debug"]
    argv += ["--set", "steps=20", "--set", "dagger.rounds=0", "--set", "checkpoint_every=1"]
    code = main([*argv, "--set", f"lr={lr}", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "compass-nav: error:" in err and message in err
    assert not (out / "model.pt").exists()
    for ckpt in (out / "checkpoints").glob("*.pt"):
        state = torch.load(ckpt, weights_only=True)["model"]
        assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())


def test_v2_training_takes_stale_map_demos_and_runs_stale_map_dagger(tmp_path):
    from compass_nav.data import record_episodes
    from compass_nav.sim.config import SimConfig

    demos = tmp_path / "demos"
    sim = SimConfig(
        num_envs=2,
        embodiments=("carter", "rover"),
        families=("warehouse", "warehouse"),
        image_height=16,
        image_width=16,
        suite="v2",
        route_mode="stale_map",
        moving_obstacles=2,
        max_episode_steps=40,
    )
    record_episodes("teacher", demos, sim, 2, seed=3, progress=False)
    out = tmp_path / "run"
    cfg = _cfg(
        out,
        demos,
        "steps=4",
        "embodiments=[]",
        "dagger.start=0.5",
        "dagger.episode.suite=v2",
        "dagger.episode.route_mode=stale_map",
        "dagger.episode.moving_obstacles=2",
        "dagger.episode.families=[warehouse]",
    )
    runner = ILRunner(cfg, out, progress=False)
    runner.train()
    stats = runner.summary["dagger"]["0"]
    assert "success_stale_map" in stats or "success_mapless" in stats
    assert runner.summary["demo_episodes"] == 2 and (out / "model.pt").is_file()
    # Both recorded bodies were driven in the round (empty embodiments = the dataset's).
    from compass_nav.il.dagger import load_round

    bodies = {tuple(ep["embodiment"][0]) for ep in load_round(out / "dagger" / "round_00.npz")}
    assert len(bodies) == 2
