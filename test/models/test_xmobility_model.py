"""The X-Mobility model: processing limits, recurrent resets, API agreement, overfitting."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from compass_nav.contract.body import get_embodiment, list_embodiments
from compass_nav.il.dagger import DaggerConfig, collect_round
from compass_nav.learning.sequences import SequenceBuffer
from compass_nav.models.xmobility import RSSMState, XMobility, preset
from compass_nav.models.xmobility import processing as P
from compass_nav.utils.errors import ConfigError


def _obs(b: int, hw: int = 32, seed: int = 0, body: str = "carter") -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {
        "rgb": torch.randint(0, 256, (b, hw, hw, 3), generator=g, dtype=torch.uint8),
        "depth": torch.rand(b, hw, hw, generator=g) * 8,
        "speed": torch.randn(b, 3, generator=g) * 0.5,
        "route": torch.randn(b, 10, 2, generator=g),
        "goal": torch.randn(b, 3, generator=g) * 2,
        "embodiment": torch.from_numpy(get_embodiment(body).descriptor()).expand(b, -1),
    }


@pytest.mark.parametrize("name", list_embodiments())
def test_processing_clips_actions_to_every_embodiment(name):
    spec = get_embodiment(name)
    low, high = spec.action_low, spec.action_high
    emb = torch.from_numpy(spec.descriptor()).expand(200, -1)
    u = torch.linspace(-3, 3, 600).reshape(200, 3)
    a = P.scale_action(u, emb).numpy()
    assert (a >= low - 1e-6).all() and (a <= high + 1e-6).all()
    ends = P.scale_action(torch.tensor([[1.0, 1.0, 1.0], [-1.0, -1.0, -1.0]]), emb[:2]).numpy()
    np.testing.assert_allclose(ends[0], high, atol=1e-6)
    np.testing.assert_allclose(ends[1], low, atol=1e-6)
    # normalise is the inverse of scale inside the limits (a zero limit maps to 0).
    inside = torch.rand(200, 3) * 2 - 1
    back = P.normalise_action(P.scale_action(inside, emb), emb)
    expect = inside * torch.from_numpy((high > 0).astype(np.float32))
    torch.testing.assert_close(back, expect, atol=1e-5, rtol=1e-5)


def test_image_input_resizes_and_normalises():
    cfg = preset("debug")
    obs = _obs(2, hw=64)
    x = P.image_input(obs["rgb"], obs["depth"], cfg)
    assert x.shape == (2, cfg.image_channels, cfg.image_height, cfg.image_width)
    assert x[:, :3].min() >= -0.5 and x[:, :3].max() <= 0.5
    assert x[:, 3].min() >= 0 and x[:, 3].max() <= 1


def test_config_errors_name_the_field():
    with pytest.raises(ConfigError, match="kl_balance"):
        preset("debug", kl_balance=1.5)
    with pytest.raises(ConfigError, match="image_height"):
        preset("debug", image_height=30)
    with pytest.raises(ConfigError, match="preset"):
        preset("huge")


def test_state_resets_at_episode_boundaries():
    torch.manual_seed(0)
    model = XMobility(preset("debug")).eval()
    seq = [_obs(2, seed=t) for t in range(5)]
    prev = torch.full((2, 3), 0.3)
    with torch.no_grad():
        state = model.initial(2)
        outs = []
        for t, obs in enumerate(seq):
            first = torch.tensor([t == 0 or t == 3, t == 0])
            state, out = model.observe(obs, prev, state, first)
            outs.append(out)
        # Row 0 restarted at t=3: from there it equals a run that starts fresh at t=3.
        fresh = model.initial(2)
        for t in (3, 4):
            fresh, ref = model.observe(seq[t], prev, fresh, torch.tensor([t == 3, t == 3]))
            torch.testing.assert_close(outs[t]["action"][0], ref["action"][0])
            torch.testing.assert_close(outs[t]["path"][0], ref["path"][0])
        # Row 1 did not restart, so it must differ from the fresh run.
        assert not torch.allclose(outs[4]["latent"][1], ref["latent"][1])


def test_step_matches_observe_and_imagine_runs():
    torch.manual_seed(1)
    model = XMobility(preset("debug")).eval()
    obs = _obs(3, seed=4)
    prev = torch.randn(3, 3) * 0.2
    with torch.no_grad():
        cfg = model.cfg
        state0 = RSSMState(torch.randn(3, cfg.deter_dim), torch.randn(3, cfg.stoch_dim))
        state, out = model.observe(obs, prev, state0, torch.zeros(3, dtype=torch.bool))
        a, path, h, z = model.step(
            obs["rgb"],
            obs["depth"],
            obs["speed"],
            obs["route"],
            obs["goal"],
            obs["embodiment"],
            prev,
            state0.h,
            state0.z,
        )
        torch.testing.assert_close(a, out["action"])
        torch.testing.assert_close(path, out["path"])
        torch.testing.assert_close(h, state.h)
        assert path.shape == (3, model.cfg.path_points, 2)
        dream = model.imagine(lambda lat: torch.zeros(lat.shape[0], 3), state, horizon=4)
    assert dream["latent"].shape == (4, 3, model.cfg.latent_dim)
    assert dream["depth"].shape == (4, 3, 1, model.cfg.recon_size, model.cfg.recon_size)
    assert torch.isfinite(dream["latent"]).all()


@pytest.fixture(scope="module")
def one_episode(small_episode) -> dict[str, np.ndarray]:
    """One teacher episode, recorded in memory at 32x32."""
    episode = small_episode((0, 0), families=("hall",), max_episode_steps=120)
    cfg = DaggerConfig(episodes=1, num_envs=1, episode=episode)
    episodes, stats = collect_round(
        None,
        cfg,
        ("carter",),
        0,
        seed=5,
        image_hw=(32, 32),
        route_points=10,
        route_spacing=0.4,
        progress=False,
    )
    assert stats["episodes"] == 1
    return episodes[0]


@pytest.mark.slow
def test_single_episode_can_be_overfit(one_episode):
    torch.manual_seed(0)
    buf = SequenceBuffer()
    buf.add([one_episode])
    model = XMobility(preset("debug"))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    rng = np.random.default_rng(0)
    seq = min(8, len(buf))
    eval_batch = buf.sample(np.random.default_rng(1), 16, seq, 0.0)
    with torch.no_grad():
        _, start = model.loss(eval_batch)
    losses = []
    for _ in range(250):
        loss, terms = model.loss(buf.sample(rng, 8, seq, 0.0))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(terms["total"])
    with torch.no_grad():
        _, end = model.loss(eval_batch)
    assert np.mean(losses[-20:]) < np.mean(losses[:20])
    assert end["action"] < 0.2 * start["action"], (start, end)
    assert end["action_mae"] < 0.5 * start["action_mae"], (start, end)


def test_rgb_only_model_reads_no_depth_and_learns_depth_from_the_recording():
    """use_depth=False: the encoder reads RGB alone (the action ignores depth), while the
    reconstruction target is the recorded depth image (not the last RGB channel)."""
    import dataclasses

    cfg = dataclasses.replace(preset("debug"), use_depth=False)
    assert cfg.image_channels == 3
    torch.manual_seed(0)
    model = XMobility(cfg)
    b, n, hw = 2, 3, cfg.image_height
    obs = _obs(b * n, hw)
    batch = {k: v.unflatten(0, (b, n)) for k, v in obs.items()}
    batch["prev_action"] = torch.zeros(b, n, 3)
    batch["action"] = torch.zeros(b, n, 3)
    batch["path"] = torch.zeros(b, n, cfg.path_points, 2)
    batch["is_first"] = torch.zeros(b, n, dtype=torch.bool)
    batch["is_first"][:, 0] = True
    torch.manual_seed(1)
    with torch.no_grad():
        _, near = model.loss(batch)
    far = dict(batch, depth=batch["depth"] + 5.0)
    torch.manual_seed(1)
    with torch.no_grad():
        _, far_terms = model.loss(far)
    assert far_terms["recon"] != pytest.approx(near["recon"])
    assert far_terms["action"] == pytest.approx(near["action"])  # depth is no input
    # One step without any depth in the observation.
    state = model.initial(2)
    out = model.step(
        obs["rgb"][:2],
        None,
        obs["speed"][:2],
        obs["route"][:2],
        obs["goal"][:2],
        obs["embodiment"][:2],
        torch.zeros(2, 3),
        state.h,
        state.z,
    )
    assert torch.isfinite(out[0]).all()


@pytest.mark.parametrize("body_dim", [0, 8])
def test_body_embedding_lets_the_policy_act_differently_per_body(body_dim):
    import dataclasses

    torch.manual_seed(0)
    model = XMobility(dataclasses.replace(preset("debug"), body_dim=body_dim)).eval()
    outs = {}
    for body in ("carter", "tallbot"):
        obs = _obs(2, hw=16, body=body)
        _, out = model.observe(obs, torch.zeros(2, 3), model.initial(2), torch.ones(2, dtype=bool))
        outs[body] = out["action_norm"]
    same = torch.allclose(outs["carter"], outs["tallbot"])
    # Without the embedding only the action limits differ; with it the policy itself does.
    assert same == (body_dim == 0)
    batch = {k: v[:, None].expand(2, 3, *v.shape[1:]) for k, v in _obs(2, hw=16).items()}
    batch.update(
        action=torch.zeros(2, 3, 3),
        prev_action=torch.zeros(2, 3, 3),
        path=torch.zeros(2, 3, 5, 2),
        is_first=torch.ones(2, 3, dtype=bool),
    )
    total, _ = model.loss(batch)
    assert torch.isfinite(total)


def test_body_dim_must_be_a_non_negative_int():
    import dataclasses

    with pytest.raises(ConfigError, match="body_dim"):
        dataclasses.replace(preset("debug"), body_dim=-1)
