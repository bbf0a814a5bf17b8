"""Distillation: the KL, loss falls, the descriptor drives the action, offline + DAgger run."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from compass_nav.contract.body import DESCRIPTOR_DIM, get_embodiment
from compass_nav.distill.algorithm import Distillation, FeatureBuffer, action_mask, gaussian_kl
from compass_nav.distill.config import distill_preset
from compass_nav.distill.runner import train_distill
from compass_nav.models.xmobility import processing as P
from compass_nav.rl.artifact import load_residual
from compass_nav.rl.config import HeadConfig, rl_preset
from compass_nav.rl.modules import ResidualHead, ResidualPolicy, head_inputs
from compass_nav.rl.record import EXTRA_KEYS, record_specialist
from compass_nav.rl.runner import train_rl
from compass_nav.sim.config import EpisodeSpec, SimConfig
from compass_nav.sim.env import NavVectorEnv
from compass_nav.utils.errors import ConfigError


def test_gaussian_kl_matches_torch():
    g = torch.Generator().manual_seed(0)
    mp, mq = torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g)
    sp, sq = torch.rand(5, 3, generator=g) + 0.1, torch.rand(5, 3, generator=g) + 0.1
    ref = torch.distributions.kl_divergence(
        torch.distributions.Normal(mp, sp), torch.distributions.Normal(mq, sq)
    )
    assert torch.allclose(gaussian_kl(mp, sp, mq, sq), ref, atol=1e-6)
    assert torch.allclose(gaussian_kl(mp, sp, mp, sp), torch.zeros(5, 3), atol=1e-7)


def test_action_mask_ignores_what_a_body_cannot_do():
    emb = torch.tensor(np.stack([get_embodiment(n).descriptor() for n in ("carter", "spot")]))
    assert action_mask(emb).tolist() == [[1.0, 0.0, 1.0], [1.0, 1.0, 1.0]]


def _synthetic(ps_dim: int, n: int, seed: int) -> dict[str, torch.Tensor]:
    """Two bodies whose 'specialists' want different actions for the same states."""
    g = torch.Generator().manual_seed(seed)
    bodies = ("spot", "g1")
    emb = torch.tensor(np.stack([get_embodiment(b).descriptor() for b in bodies]))
    which = torch.randint(0, 2, (n,), generator=g)
    ps = torch.randn(n, ps_dim, generator=g)
    goal = torch.randn(n, 3, generator=g)
    x = head_inputs(ps, goal, torch.zeros(n, 3), emb[which])
    w = torch.randn(2, ps_dim, 3, generator=g) * 0.3
    mean = 0.6 * torch.tanh(torch.einsum("bi,bij->bj", ps, w[which]))
    std = torch.where(which[:, None] == 0, 0.05, 0.2).expand(n, 3).clone()
    return {
        "head_input": x,
        "base_action": torch.zeros(n, 3),
        "mean": mean,
        "std": std,
        "mask": action_mask(emb[which]),
    }


def test_distillation_lowers_loss_and_the_descriptor_changes_the_action():
    torch.manual_seed(0)
    ps_dim = 16
    data = _synthetic(ps_dim, 4000, seed=1)
    buf = FeatureBuffer()
    buf.extend(data)
    head = ResidualHead(ps_dim, HeadConfig(hidden_dims=(64, 64), heteroscedastic=True))
    head.update_normalization(data["head_input"])
    algo = Distillation(head, lr=3e-3, weight_decay=0.0)
    first = algo.evaluate(data)["kl"]
    gen = torch.Generator().manual_seed(0)
    for _ in range(400):
        algo.update(buf.sample(256, gen))
    last = algo.evaluate(data)["kl"]
    assert last < 0.25 * first, (first, last)
    # Same states, only the descriptor differs: the action follows the body's specialist.
    spot, g1 = (torch.tensor(get_embodiment(b).descriptor()) for b in ("spot", "g1"))
    x = data["head_input"][:200].clone()
    x_spot, x_g1 = x.clone(), x.clone()
    x_spot[:, -DESCRIPTOR_DIM:] = head_inputs(
        torch.zeros(1, ps_dim), torch.zeros(1, 3), torch.zeros(1, 3), spot[None]
    )[:, -DESCRIPTOR_DIM:]
    x_g1[:, -DESCRIPTOR_DIM:] = head_inputs(
        torch.zeros(1, ps_dim), torch.zeros(1, 3), torch.zeros(1, 3), g1[None]
    )[:, -DESCRIPTOR_DIM:]
    with torch.no_grad():
        (m_spot, s_spot), (m_g1, s_g1) = head(x_spot), head(x_g1)
    assert (m_spot - m_g1).abs().mean() > 0.1
    assert s_spot.mean() < 0.5 * s_g1.mean()  # and the spread of the matching specialist


def test_generalist_policy_reads_the_descriptor(debug_base):
    head = ResidualHead(
        debug_base.cfg.policy_state_dim, HeadConfig(hidden_dims=(32,), heteroscedastic=True)
    )
    torch.manual_seed(0)
    with torch.no_grad():
        head.mlp[-1].weight.normal_(0.0, 0.5)
    policy = ResidualPolicy(debug_base, head)
    env = NavVectorEnv(
        SimConfig(
            num_envs=2, embodiments=("h1",), families=("hall",), image_height=16, image_width=16
        )
    )
    obs, _ = env.reset(seed=0)
    t = P.obs_to_tensors(obs)
    first = torch.ones(2, dtype=torch.bool)
    with torch.no_grad():
        _, a = policy.act(t, torch.zeros(2, 3), policy.initial(2), first)
        walker = np.stack([get_embodiment("walker").descriptor()] * 2)
        t2 = dict(t, embodiment=torch.tensor(walker))
        _, b = policy.act(t2, torch.zeros(2, 3), policy.initial(2), first)
    assert not torch.allclose(a["action_mean"], b["action_mean"], atol=1e-3)
    env.close()


@pytest.fixture(scope="module")
def two_specialists(tmp_path_factory):
    root = tmp_path_factory.mktemp("specialists")
    specs, data = [], []
    for body in ("carter", "spot"):
        cfg = rl_preset("debug", embodiment=body, iterations=1, base="random:debug")
        specs.append(str(train_rl(cfg, root / f"rl_{body}", progress=False, tensorboard=False)))
        data.append(
            str(
                record_specialist(
                    specs[-1],
                    root / f"rec_{body}",
                    2,
                    num_envs=2,
                    episode=EpisodeSpec(
                        families=("hall",),
                        route_mode="mapless",
                        max_episode_steps=30,
                        image_height=0,
                        image_width=0,
                    ),
                    progress=False,
                )
            )
        )
    return root, specs, data


def test_recorded_rollouts_hold_the_specialist_extras(two_specialists):
    from compass_nav.data import DemoDataset

    _, _, data = two_specialists
    ep = DemoDataset(data[1])[0]
    t = len(ep["action"])
    for k in EXTRA_KEYS:
        assert ep[k].shape[0] == t
    assert ep["policy_state"].shape[1] == 16
    assert np.all(ep["action_std"] > 0)


def test_train_distill_offline_then_dagger_and_resume(two_specialists, tmp_path):
    _, specs, data = two_specialists
    cfg = distill_preset("debug", specialists=specs, data=data, dagger_rounds=1)
    path = train_distill(cfg, tmp_path / "gen", progress=False)
    more = distill_preset("debug", specialists=specs, data=data, dagger_rounds=2)
    train_distill(more, tmp_path / "gen", resume=True, progress=False)
    summary = json.loads((tmp_path / "gen" / "summary.json").read_text())
    assert [h["phase"] for h in summary["history"]] == ["offline", "dagger_0", "dagger_1"]
    assert summary["history"][2]["samples"] > summary["history"][1]["samples"]
    gen = load_residual(path)
    assert gen.info["role"] == "generalist" and gen.info["embodiments"] == ["carter", "spot"]
    assert gen.head.cfg.heteroscedastic
    with pytest.raises(ConfigError, match="two specialists"):
        train_distill(
            distill_preset("debug", specialists=[specs[0], specs[0]], data=data),
            tmp_path / "dup",
            progress=False,
        )
    with pytest.raises(ConfigError, match="not a specialist"):
        train_distill(
            distill_preset("debug", specialists=[str(path)], data=data),
            tmp_path / "gen2",
            progress=False,
        )


def test_an_infinite_learning_rate_is_refused_by_the_config():
    with pytest.raises(ConfigError, match="lr=inf: expected a finite number"):
        distill_preset("debug", lr=float("inf"))


def test_diverging_distillation_stops_by_name_and_writes_no_generalist(two_specialists, tmp_path):
    """A learning rate that blows the generalist's head up ends the run with a named error
    before a checkpoint or generalist holding NaN is written."""
    from compass_nav.learning.common import CheckpointManager
    from compass_nav.utils.errors import NonFiniteError

    lr = 1e30
    _, specs, data = two_specialists
    cfg = distill_preset("debug", specialists=specs, data=data, dagger_rounds=0, lr=lr)
    with pytest.raises(NonFiniteError, match="distillation training diverged at step"):
        train_distill(cfg, tmp_path / "gen", progress=False)
    assert not (tmp_path / "gen" / "generalist.pt").exists()
    for _, ckpt in CheckpointManager(tmp_path / "gen").list():
        state = CheckpointManager.load(ckpt)["algo"]["head"]
        assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())
