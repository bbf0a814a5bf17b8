"""Residual PPO: an update raises return, the feature env's autoreset, the trainer and CLI."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from rsl_rl.env import VecEnv
from tensordict import TensorDict

from compass_nav.cli import main
from compass_nav.contract.body import DESCRIPTOR_DIM
from compass_nav.learning.common import CheckpointManager
from compass_nav.rl.artifact import load_residual
from compass_nav.rl.config import HeadConfig, PPOConfig, rl_preset
from compass_nav.rl.env import PRIVILEGED_DIM, ResidualNavEnv
from compass_nav.rl.modules import ResidualHead
from compass_nav.rl.ppo import build_ppo
from compass_nav.rl.runner import train_rl
from compass_nav.utils.errors import ModelError


class _Bandit(VecEnv):
    """A one-step task: the reward is -|action - target(features)|^2, every step is done."""

    def __init__(self, ps_dim: int = 8, n: int = 64, seed: int = 0) -> None:
        self.num_envs, self.num_actions, self.max_episode_length = n, 3, 1
        self.device, self.cfg = "cpu", {}
        self.episode_length_buf = torch.zeros(n, dtype=torch.long)
        self.gen = torch.Generator().manual_seed(seed)
        self.width = ResidualHead(ps_dim, HeadConfig()).input_dim
        self.w = torch.randn(self.width, 3, generator=self.gen) * 0.4
        self.target = None
        self._obs = self._draw()

    def _draw(self) -> TensorDict:
        x = torch.randn(self.num_envs, self.width, generator=self.gen)
        self.target = 0.5 * torch.tanh(x @ self.w)
        return TensorDict(
            {
                "head_input": x,
                "base_action": torch.zeros(self.num_envs, 3),
                "privileged": torch.zeros(self.num_envs, 2),
            },
            batch_size=[self.num_envs],
        )

    def reward(self, actions: torch.Tensor) -> torch.Tensor:
        return -(actions - self.target).square().sum(1)

    def get_observations(self) -> TensorDict:
        return self._obs

    def step(self, actions):
        r = self.reward(actions)
        self._obs = self._draw()
        return (
            self._obs,
            r,
            torch.ones(self.num_envs, dtype=torch.bool),
            {"time_outs": torch.zeros(self.num_envs, dtype=torch.bool)},
        )


def test_ppo_update_raises_return():
    torch.manual_seed(0)
    env = _Bandit()
    alg = build_ppo(
        env,
        PPOConfig(learning_rate=3e-3, entropy_coef=0.0, critic_hidden_dims=(32,)),
        HeadConfig(hidden_dims=(64,), init_std=0.3),
        steps_per_env=8,
    )

    def greedy_return() -> float:
        with torch.no_grad():
            return env.reward(alg.actor(env.get_observations())).mean().item()

    before = np.mean([greedy_return() for _ in range(5)])
    alg.train_mode()
    obs = env.get_observations()
    for _ in range(25):
        with torch.inference_mode():
            for _ in range(8):
                actions = alg.act(obs)
                obs, rewards, dones, extras = env.step(actions)
                alg.process_env_step(obs, rewards, dones, extras)
            alg.compute_returns(obs)
        alg.update()
    alg.eval_mode()
    after = np.mean([greedy_return() for _ in range(5)])
    assert after > 0.5 * before  # returns are negative: the squared error at least halves


def test_feature_env_autoreset_and_base_state(debug_base, small_sim_config):
    cfg = small_sim_config((16, 16), route_mode="mapless", max_episode_steps=3)
    env = ResidualNavEnv(cfg, debug_base, seed=0)
    obs = env.get_observations()
    ps = debug_base.cfg.policy_state_dim
    assert obs["head_input"].shape == (2, ps + 5 + 3 + DESCRIPTOR_DIM)
    assert obs["privileged"].shape == (2, PRIVILEGED_DIM)
    zero = torch.zeros(2, 3)
    for t in range(3):
        obs, rew, dones, extras = env.step(zero)
        assert dones.tolist() == ([True, True] if t == 2 else [False, False])
    assert extras["time_outs"].all() and not extras["episode"]["success"].any()
    obs, rew, dones, extras = env.step(zero)  # the simulator resets both slots now
    assert not dones.any() and torch.all(rew == 0)
    # The returned features are those of a fresh episode: base state started from zero.
    from compass_nav.models.xmobility import processing as P

    t = P.obs_to_tensors(env.last_obs)
    with torch.no_grad():
        _, out = debug_base.observe(
            t, torch.ones(2, 3), debug_base.initial(2), torch.ones(2, dtype=torch.bool)
        )
    assert torch.allclose(obs["head_input"][:, :ps], out["policy_state"])
    assert torch.allclose(obs["base_action"], out["action_norm"])
    env.sim.close()


def test_train_rl_resume_and_artifact(tmp_path):
    cfg = rl_preset("debug", iterations=2, embodiment="spot")
    path = train_rl(cfg, tmp_path / "run", progress=False, tensorboard=False)
    assert [s for s, _ in CheckpointManager(tmp_path / "run").list()] == [1, 2]
    more = rl_preset("debug", iterations=3, embodiment="spot")
    train_rl(more, tmp_path / "run", resume=True, progress=False, tensorboard=False)
    assert CheckpointManager(tmp_path / "run").list()[-1][0] == 3
    policy = load_residual(path)
    assert policy.info["role"] == "specialist" and policy.info["embodiments"] == ["spot"]
    assert policy.info["extra"]["iterations"] == 3
    assert policy.head.obs_count.item() > 0  # normalisation statistics were learned and kept
    with pytest.raises(ModelError, match="does not exist"):
        load_residual(tmp_path / "missing.pt")
    torch.save({"kind": "xmobility"}, tmp_path / "other.pt")
    with pytest.raises(ModelError, match="kind='xmobility'"):
        load_residual(tmp_path / "other.pt")


@pytest.mark.slow
def test_train_rl_cli(tmp_path, capsys, fresh_python):
    out = str(tmp_path / "cli")
    code = main(
        [
            "rl",
            "train",
            "--preset",
            "debug",
            "--embodiment",
            "g1",
            "--out",
            out,
            "--set",
            "iterations=1",
            "--no-progress",
            "--no-tensorboard",
        ]
    )
    assert code == 0 and "specialist.pt" in capsys.readouterr().out
    assert main(["rl", "train", "--out", out, "--resume", "--preset", "debug"]) == 2
    assert "--resume" in capsys.readouterr().err
    code = main(
        [
            "rl",
            "train",
            "--preset",
            "debug",
            "--out",
            str(tmp_path / "x"),
            "--set",
            "ppo.clip_param=2",
        ]
    )
    assert code == 2 and "ppo.clip_param=2" in capsys.readouterr().err
    # make_policy reaches the run folder through the registry (fresh interpreter, as the CLI).
    probe = (
        "from compass_nav.plugins import register_all; from compass_nav.policies import "
        "make_policy; register_all(); "
        f"print(type(make_policy({out!r})).__name__)"
    )
    assert fresh_python(probe).strip() == "ResidualAgent"


def test_time_budget_stops_training_and_still_writes_the_specialist(tmp_path):
    cfg = rl_preset("debug", iterations=50, time_budget_min=1e-6)
    path = train_rl(cfg, tmp_path / "run", progress=False, tensorboard=False)
    extra = load_residual(path).info["extra"]
    assert extra["iterations"] == 1 and extra["stopped_by_time_budget"]
    assert CheckpointManager(tmp_path / "run").list()[-1][0] == 1


def test_feature_env_proximity_term_is_added_near_obstacles(debug_base, small_sim_config):
    """With only the proximity term on, each step's extra reward is -w x the penalty."""
    from compass_nav.rl.env import map_at_pose
    from compass_nav.rl.rewards import proximity_penalty

    cfg = small_sim_config(
        (16, 16), num_envs=4, families=("warehouse",), route_mode="mapless", max_episode_steps=50
    )
    plain = ResidualNavEnv(cfg, debug_base, seed=3)
    near = ResidualNavEnv(cfg, debug_base, seed=3, proximity_weight=-2.0, proximity_margin=5.0)
    push = torch.tensor([[1.0, 0.0, 0.0]] * 4)
    for _ in range(4):
        resetting = near._pending.copy()  # a slot being reset gets reward 0 this step
        _, r_plain, _, _ = plain.step(push)
        _, r_near, _, _ = near.step(push)
        radius = np.array([b.circumscribed_radius for b in near.bodies])
        expected = np.where(
            resetting,
            0.0,
            -2.0 * proximity_penalty(map_at_pose(near.sim, "clearance"), radius, 5.0),
        )
        assert np.allclose((r_near - r_plain).numpy(), expected, atol=1e-5)
    assert (expected < 0).any()  # a 5 m margin: robots in a warehouse are inside it
    plain.sim.close()
    near.sim.close()


def test_diverging_ppo_stops_by_name_and_writes_no_specialist(tmp_path):
    """An infinite learning rate blows the head up: the run ends with a named error before a
    checkpoint or specialist holding NaN is written (1e4 does not diverge: the adaptive
    schedule shrinks it)."""
    from compass_nav.utils.errors import NonFiniteError

    cfg = rl_preset("debug", iterations=3, embodiment="spot")
    # Config files refuse a non-finite rate; set it on the dataclass to reach the trainer's check.
    cfg = dataclasses.replace(cfg, ppo=dataclasses.replace(cfg.ppo, learning_rate=float("inf")))
    with pytest.raises(NonFiniteError, match="residual PPO.*diverged at (step|iteration)"):
        train_rl(cfg, tmp_path / "run", progress=False, tensorboard=False)
    assert not (tmp_path / "run" / "specialist.pt").exists()
    for _, ckpt in CheckpointManager(tmp_path / "run").list():
        state = CheckpointManager.load(ckpt)["ppo"]["actor_state_dict"]
        assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())
