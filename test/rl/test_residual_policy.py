"""Residual policy: starts exactly as the base, always within limits, head normalisation."""

from __future__ import annotations

import numpy as np
import torch

from compass_nav.contract.body import list_embodiments
from compass_nav.models.checkpoint_policy import XMobilityPolicy
from compass_nav.models.xmobility import processing as P
from compass_nav.rl.agent import ResidualAgent
from compass_nav.rl.config import HeadConfig
from compass_nav.rl.modules import ResidualHead, ResidualPolicy
from compass_nav.sim.config import SimConfig
from compass_nav.sim.env import NavVectorEnv


def _env(base, bodies, n=None, **kw) -> NavVectorEnv:
    cfg = SimConfig(
        num_envs=n or len(bodies),
        embodiments=tuple(bodies),
        families=("hall",),
        image_height=base.cfg.image_height,
        image_width=base.cfg.image_width,
        route_mode="mapless",
        **kw,
    )
    return NavVectorEnv(cfg)


def test_fresh_residual_policy_acts_exactly_like_the_base(debug_base):
    policy = ResidualPolicy(
        debug_base, ResidualHead(debug_base.cfg.policy_state_dim, HeadConfig())
    )
    agent, base = ResidualAgent(policy), XMobilityPolicy(debug_base)
    env = _env(debug_base, ("carter", "spot", "g1"), max_episode_steps=5)
    obs, _ = env.reset(seed=0)
    start = np.ones(env.num_envs, bool)
    for _ in range(8):  # crosses an episode boundary: recurrent state resets must agree too
        a_res, a_base = agent.act(obs, start), base.act(obs, start)
        assert np.array_equal(a_res, a_base)
        assert np.array_equal(agent.last["action_mean"], agent.last["base_action"])
        obs, _, _, _, info = env.step(a_base)
        start = info["_episode"]
    env.close()


def test_actions_stay_within_every_embodiments_limits(debug_base):
    bodies = list_embodiments()
    head = ResidualHead(debug_base.cfg.policy_state_dim, HeadConfig())
    with torch.no_grad():  # a wild residual: several times the limits, both signs
        head.mlp[-1].weight.normal_(0.0, 20.0)
        head.mlp[-1].bias.normal_(0.0, 5.0)
    policy = ResidualPolicy(debug_base, head)
    agent = ResidualAgent(policy)
    env = _env(debug_base, bodies)
    obs, _ = env.reset(seed=1)
    low = np.stack([b.action_low for b in env.env_bodies])
    high = np.stack([b.action_high for b in env.env_bodies])
    start = np.ones(env.num_envs, bool)
    saturated = np.zeros_like(low, bool)
    for _ in range(4):
        a = agent.act(obs, start)
        assert np.all(a >= low - 1e-6) and np.all(a <= high + 1e-6)
        assert np.abs(agent.last["action_mean"]).max() > 1.0  # the residual did push past them
        saturated |= np.isclose(a, low) | np.isclose(a, high)
        # The export path (explicit tensors) clips the same way.
        t = P.obs_to_tensors(obs)
        n = env.num_envs
        c = debug_base.cfg
        with torch.no_grad():
            out = policy.step(
                t["rgb"],
                t["depth"],
                t["speed"],
                t["route"],
                t["goal"],
                t["embodiment"],
                torch.zeros(n, 3),
                torch.zeros(n, c.deter_dim),
                torch.zeros(n, c.stoch_dim),
            )[0].numpy()
        assert np.all(out >= low - 1e-6) and np.all(out <= high + 1e-6)
        obs, *_ = env.step(a)
        start[:] = False
    holonomic = np.array([b.holonomic for b in env.env_bodies])
    assert saturated[holonomic].any() and saturated[:, [0, 2]].all(axis=1).any()
    env.close()


def test_head_normalisation_matches_batch_statistics():
    head = ResidualHead(4, HeadConfig(hidden_dims=(8,)))
    data = torch.randn(300, head.input_dim, dtype=torch.float64).float() * 3 + 1
    head.update_normalization(data[:100])
    head.update_normalization(data[100:])
    part = data[:, : head.norm_dim].double()
    assert torch.allclose(head.obs_mean.double(), part.mean(0), atol=1e-5)
    assert torch.allclose(head.obs_var.double(), part.var(0, unbiased=False), atol=1e-4)
    x = head.normalise(data)
    assert x[:, : head.norm_dim].abs().max() <= head.cfg.input_clip
    assert torch.equal(x[:, head.norm_dim :], data[:, head.norm_dim :])  # descriptor untouched
