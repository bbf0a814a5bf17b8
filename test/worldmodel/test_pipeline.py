"""The tiny preset end to end, and what the trained model must show on its training data."""

from __future__ import annotations

import json

import numpy as np
import pytest

from compass_nav.worldmodel.evaluate import judge_on_real, video_quality
from compass_nav.worldmodel.pool import load_split


@pytest.mark.slow
def test_tiny_pipeline_writes_a_complete_report(tiny_run):
    report = tiny_run / "report"
    for name in ("results.json", "report.md", "success_scatter.png", "psnr_horizon.png"):
        assert (report / name).is_file(), name
    assert list(report.glob("episode_*.gif"))
    res = json.loads((report / "results.json").read_text())
    per = res["per_policy"]
    # The privileged teacher cannot act on imagined frames; the others are imagined.
    assert per["teacher"]["predicted"] is None and "teacher" in res["not_evaluable"]
    for spec in ("wall", "goal_seeker", "standstill"):
        p = per[spec]["predicted"]
        assert p is not None
        assert p["success"] + p["collision"] + p["timeout"] == pytest.approx(1.0)
    # Standing still never satisfies the success rule, in the simulator or in imagination.
    assert per["standstill"]["real"]["success"] == 0.0
    assert per["standstill"]["predicted"]["success"] == 0.0
    assert per["standstill"]["predicted"]["timeout"] > 0.5
    assert res["imagination"]["steps_per_second"] > 0
    for g in ("all", "heldout"):
        assert res["correlation"][g]["policies"] >= 2
    h = res["headline"]
    assert {"psnr_ar8", "psnr_ar8_copy", "psnr_ar8_shuffled", "train_minutes"} <= set(h)
    assert (tiny_run / "data" / "ground_truth.json").is_file()


@pytest.fixture(scope="module")
def train_rollouts(tiny_model, tiny_run):
    return load_split(tiny_model.config, tiny_run / "data", "train")


@pytest.fixture(scope="module")
def quality(tiny_model, train_rollouts):
    return video_quality(tiny_model, list(train_rollouts.values()), (1, 4, 8), 32, seed=0)


@pytest.mark.slow
def test_model_beats_copy_last_frame(quality):
    ar = quality["ar"]
    for i, h in enumerate((1, 4, 8)):
        if h > 1:
            assert ar["model"]["psnr"][i] > ar["copy"]["psnr"][i], (h, ar)


@pytest.mark.slow
def test_action_conditioning_matters(quality):
    # The same model fed another window's actions predicts worse frames at longer horizons.
    ar = quality["ar"]
    assert ar["shuffled"]["psnr"][-1] < ar["model"]["psnr"][-1], ar
    assert ar["shuffled"]["ssim"][-1] < ar["model"]["ssim"][-1], ar


@pytest.mark.slow
def test_judge_on_known_real_episodes(tiny_model, train_rollouts):
    # Every 'wall' episode ends in a collision, no teacher episode does.
    assert train_rollouts["wall"].collision_end.all()
    assert not train_rollouts["teacher"].collision_end.any()
    res = judge_on_real(tiny_model, train_rollouts, offset=0.0, mode="hazard", threshold=0.5)
    assert res["collision_auroc"] >= 0.9, res
    assert res["collision_balanced_accuracy"] >= 0.8, res
    assert res["episodes"] == sum(r.num_episodes for r in train_rollouts.values())


@pytest.mark.slow
def test_imagination_is_closed_loop(tiny_model, tiny_run):
    """Different policies from the same first frames imagine different episodes."""
    from compass_nav.policies import make_policy
    from compass_nav.worldmodel.imagine import imagine_episodes

    real = load_split(tiny_model.config, tiny_run / "data", "eval")["goal_seeker"]
    a = imagine_episodes(tiny_model, make_policy("goal_seeker"), real, 40, keep_frames=(0,))
    b = imagine_episodes(tiny_model, make_policy("standstill"), real, 40, keep_frames=(0,))
    assert a.frames[0].shape[1:] == (16, 16, 3)
    fa, fb = a.frames[0], b.frames[0]
    n = min(len(fa), len(fb))
    assert np.abs(fa[:n].astype(int) - fb[:n].astype(int)).mean() > 1.0
    assert not b.reached.any()


@pytest.mark.slow
def test_model_beats_copy_one_step(quality):
    # The skip path starts from the previous real frame: a one-step prediction beats copying
    # it (without the skip path the tiny model's one-step frames were 2.8 dB below the copy).
    for mode in ("ar", "tf"):
        assert quality[mode]["model"]["psnr"][0] > quality[mode]["copy"]["psnr"][0], quality


@pytest.mark.slow
def test_checkpoint_without_skip_path_loads_as_trained(tmp_path, tiny_model):
    """A checkpoint written before the skip path existed rebuilds its own architecture."""
    import dataclasses

    import torch

    from compass_nav.worldmodel.config import to_dict
    from compass_nav.worldmodel.model import InverseDynamics, WorldModel
    from compass_nav.worldmodel.train import load_checkpoint

    cfg = dataclasses.replace(
        tiny_model.config, model=dataclasses.replace(tiny_model.config.model, ref_skip=False)
    )
    old = to_dict(cfg)
    del old["model"]["ref_skip"], old["model"]["blend_channels"]
    del old["train"]["teacher_forcing_floor"], old["evaluate"]["judge_rule"]
    model = WorldModel(cfg.model)
    torch.save(
        {
            "model": model.state_dict(),
            "idm": InverseDynamics(cfg.model).state_dict(),
            "config": old,
            "info": {},
        },
        tmp_path / "old.pt",
    )
    loaded = load_checkpoint(tmp_path / "old.pt")
    assert loaded.model.blend is None and not loaded.config.model.ref_skip
    # It was trained without a teacher-forcing floor; it is evaluated with today's rule.
    assert loaded.config.train.teacher_forcing_floor == 0.0
    assert loaded.config.evaluate.judge_rule == "episode_brier"


@pytest.mark.slow
def test_warm_start_copies_matching_weights(tmp_path, tiny_model, tiny_run, train_rollouts):
    import dataclasses

    import torch

    from compass_nav.utils.errors import ModelError
    from compass_nav.worldmodel.train import load_checkpoint, train_world_model

    cfg = tiny_model.config
    cfg = dataclasses.replace(
        cfg,
        train=dataclasses.replace(
            cfg.train, steps=1, idm_steps=1, init=str(tiny_run / "model.pt"), lr=1e-12
        ),
    )
    summary = train_world_model(
        cfg, list(train_rollouts.values()), tmp_path / "warm.pt", progress=False
    )
    assert summary["warm_start"]["fresh"] == [] and summary["warm_start"]["copied"] > 10
    warm = load_checkpoint(tmp_path / "warm.pt").model.state_dict()
    src = tiny_model.model.state_dict()
    assert torch.allclose(warm["encoder.fc.weight"], src["encoder.fc.weight"], atol=1e-6)
    bad = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, init=str(tmp_path)))
    with pytest.raises(ModelError):
        train_world_model(bad, list(train_rollouts.values()), tmp_path / "x.pt", progress=False)


@pytest.mark.slow
def test_depth_judge_on_known_real_episodes(tiny_model, train_rollouts):
    # On real frames the depth rule alone separates the 'wall' contacts from the teacher.
    res = judge_on_real(tiny_model, train_rollouts, offset=0.0, mode="depth", threshold=0.5)
    assert res["collision_balanced_accuracy"] >= 0.9, res


@pytest.mark.slow
def test_training_resumes_after_a_kill(tmp_path, tiny_model, train_rollouts, monkeypatch):
    """A run killed mid-way continues from its latest state and ends where an uninterrupted
    run ends; a state written with other settings is refused by name."""
    import dataclasses

    import torch

    from compass_nav.utils.errors import ModelError
    from compass_nav.worldmodel import train as T

    base = tiny_model.config
    cfg = dataclasses.replace(
        base,
        train=dataclasses.replace(
            base.train, steps=12, checkpoint_every=5, idm_steps=2, max_cpu_minutes=0.0
        ),
    )
    rolls = list(train_rollouts.values())
    ref = T.train_world_model(cfg, rolls, tmp_path / "ref.pt", progress=False)
    assert ref["resumed_from_step"] is None

    real_sample, calls = T.WindowSampler.sample, {"n": 0}

    def dying_sample(self, *a, **kw):
        calls["n"] += 1
        if calls["n"] == 8:  # during step 8: the state of step 5 is on disk
            raise KeyboardInterrupt
        return real_sample(self, *a, **kw)

    monkeypatch.setattr(T.WindowSampler, "sample", dying_sample)
    with pytest.raises(KeyboardInterrupt):
        T.train_world_model(cfg, rolls, tmp_path / "run.pt", progress=False)
    monkeypatch.setattr(T.WindowSampler, "sample", real_sample)
    partial = T.partial_path(tmp_path / "run.pt")
    assert partial.is_file() and not (tmp_path / "run.pt").exists()

    other = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, lr=1e-3))
    with pytest.raises(ModelError, match="other settings"):
        T.train_world_model(other, rolls, tmp_path / "run.pt", progress=False)

    done = T.train_world_model(cfg, rolls, tmp_path / "run.pt", progress=False)
    assert done["resumed_from_step"] == 5 and done["steps"] == ref["steps"] == 12
    assert not partial.exists()
    a = T.load_checkpoint(tmp_path / "run.pt").model.state_dict()
    b = T.load_checkpoint(tmp_path / "ref.pt").model.state_dict()
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)


@pytest.mark.parametrize(("steps", "checkpoint_every"), [(1, 1), (3, 0)])
def test_diverging_training_stops_by_name_and_writes_no_model(
    tmp_path, tiny_model, train_rollouts, steps, checkpoint_every
):
    """An infinite learning rate turns the weights to NaN after the first step: the run ends
    with a named error (the loss of the next step, or the weights before the save) and writes
    neither a model nor a resumable state holding NaN."""
    import dataclasses

    from compass_nav.utils.errors import NonFiniteError
    from compass_nav.worldmodel import train as T

    base = tiny_model.config
    cfg = dataclasses.replace(
        base,
        train=dataclasses.replace(
            base.train,
            steps=steps,
            idm_steps=1,
            lr=float("inf"),
            checkpoint_every=checkpoint_every,
            max_cpu_minutes=0.0,
            init="",
        ),
    )
    with pytest.raises(NonFiniteError, match="world model training diverged at step"):
        T.train_world_model(cfg, list(train_rollouts.values()), tmp_path / "m.pt", progress=False)
    assert not (tmp_path / "m.pt").exists()
    assert not T.partial_path(tmp_path / "m.pt").exists()


def test_teacher_forcing_decays_to_its_floor():
    from compass_nav.utils.errors import ConfigError
    from compass_nav.worldmodel.config import TrainConfig
    from compass_nav.worldmodel.train import teacher_forcing

    assert teacher_forcing(0.0, 0.4) == 1.0
    assert teacher_forcing(0.2, 0.4) == pytest.approx(0.5)
    assert teacher_forcing(0.9, 0.4) == 0.0
    # With a floor, late windows still get real frames now and then.
    assert teacher_forcing(0.2, 0.4, floor=0.1) == pytest.approx(0.5)
    assert teacher_forcing(0.9, 0.4, floor=0.1) == pytest.approx(0.1)
    assert teacher_forcing(0.5, 0.0, floor=0.2) == pytest.approx(0.2)
    with pytest.raises(ConfigError, match="teacher_forcing_floor"):
        TrainConfig(teacher_forcing_floor=1.0)


@pytest.mark.slow
def test_map_judge_on_known_real_episodes(tiny_model, train_rollouts):
    # On real frames the obstacle map of the depth frames and the footprint separate the
    # 'wall' contacts from the teacher's contact-free episodes.
    res = judge_on_real(tiny_model, train_rollouts, offset=0.0, mode="map", threshold=0.5)
    assert res["collision_balanced_accuracy"] >= 0.9, res


@pytest.mark.slow
def test_static_camera_rule(tiny_model, train_rollouts):
    """A camera that has not moved since its real frame predicts that frame; after moving and
    stopping, the frame stays put; switched off, the learned model alone draws the frames."""
    import torch

    from compass_nav.worldmodel.model import frames_to_tensor

    model = tiny_model.model
    r = train_rollouts["teacher"]
    x0 = frames_to_tensor(r.rgb[r.start], r.depth[r.start].astype(np.float32))
    still = torch.zeros(x0.shape[0], 9)
    move = torch.zeros(x0.shape[0], 9)
    move[:, [0, 3, 6]] = 0.5  # command, speed and next speed: driving forward
    try:
        state = model.initial(x0)
        for _ in range(3):
            state, _ = model.imagine(state, still)
            assert torch.equal(model.render(state), x0)
        state, _ = model.imagine(state, move)
        moved = model.render(state)
        assert (moved - x0).abs().mean() > 1e-3
        for _ in range(3):
            state, _ = model.imagine(state, still)
            assert torch.equal(model.render(state), moved)
        model.static_camera = False
        state, _ = model.imagine(model.initial(x0), still)
        assert not torch.equal(model.render(state), x0)
    finally:
        model.static_camera = True


@pytest.mark.slow
def test_ego_warp_in_imagination_and_video(tiny_model, tiny_run):
    """Every ego-warp setting imagines closed-loop; the composed frames of a moving robot
    differ from the model's own; the video metric composes frames the same way."""
    from compass_nav.policies import make_policy
    from compass_nav.worldmodel.imagine import imagine_episodes

    real = load_split(tiny_model.config, tiny_run / "data", "eval")["goal_seeker"]
    frames = {}
    for mode in ("off", "warp", "reanchor", "memory"):
        im = imagine_episodes(
            tiny_model, make_policy("goal_seeker"), real, 30, keep_frames=(0,), ego_warp=mode
        )
        frames[mode] = im.frames[0]
        assert np.isfinite(im.logits).all()
    n = min(len(f) for f in frames.values())
    assert np.abs(frames["warp"][:n].astype(int) - frames["off"][:n].astype(int)).mean() > 0.5
    rolls = list(load_split(tiny_model.config, tiny_run / "data", "eval").values())
    q = video_quality(tiny_model, rolls, (1, 4), 8, ego_warp="warp")
    for mode in ("ar", "tf"):
        for name in ("model", "shuffled", "copy"):
            assert np.isfinite(q[mode][name]["psnr"]).all(), q


def test_depth_l1_loss_hand_case():
    """Predicted frames of RGB 0 and depth channel 0 against real RGB 0, depth 0.2: squared
    error 0.04 on one channel of four is 0.01; absolute error at weight 0.15 is 0.0075."""
    import torch

    from compass_nav.worldmodel.config import ModelConfig
    from compass_nav.worldmodel.model import WorldModel

    cfg = ModelConfig(
        image_size=16,
        channels=(8, 8),
        latent_dim=16,
        hidden_dim=16,
        fourier_bands=1,
        action_dim=8,
        idm_channels=(8, 8),
        ref_skip=False,
    )

    class Black(torch.nn.Module):
        def forward(self, z):
            return torch.zeros(z.shape[0], 4, 16, 16)

    model = WorldModel(cfg)
    model.decoder = Black()
    frames = torch.zeros(2, 3, 4, 16, 16)
    frames[:, :, 3] = 0.2
    feats, coll = torch.zeros(2, 2, 9), torch.zeros(2, 2)
    w = {"recon": 1.0, "pred": 1.0, "latent": 0.0, "collision": 0.0}
    _, mse = model.loss(frames, feats, coll, 0.0, w)
    _, l1 = model.loss(frames, feats, coll, 0.0, dict(w, depth_l1=0.15))
    assert mse["pred"] == pytest.approx(0.01, rel=1e-5)
    assert l1["pred"] == pytest.approx(0.0075, rel=1e-5)


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"image_size": 36, "channels": (8, 16, 32)}, r"2\*\*3 \(channels\)"),
        ({"image_size": 36, "channels": (8, 16), "idm_channels": (8, 8, 8)}, "idm_channels"),
    ],
)
def test_image_size_must_halve_through_every_conv_stage(fields, needle):
    from compass_nav.utils.errors import ConfigError
    from compass_nav.worldmodel.config import ModelConfig

    with pytest.raises(ConfigError, match=f"model.image_size.*{needle}"):
        ModelConfig(**fields)
    ModelConfig(image_size=32, channels=(8, 16), idm_channels=(8, 8, 8))  # 32 halves 3 times
