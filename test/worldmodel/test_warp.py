"""The ego-motion warp: real frames re-projected through their depth to another pose."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from compass_nav.contract.body import get_embodiment
from compass_nav.sim.env import NavVectorEnv
from compass_nav.sim.scenes import list_families
from compass_nav.worldmodel.model import frames_to_tensor
from compass_nav.worldmodel.warp import FrameWarper, compose, feature_motion, odometry_poses


def _relative(p0: np.ndarray, p1: np.ndarray) -> np.ndarray:
    """Pose p1 in the robot frame of p0 (rows)."""
    d = p1[:, :2] - p0[:, :2]
    c, s = np.cos(p0[:, 2]), np.sin(p0[:, 2])
    yaw = np.arctan2(np.sin(p1[:, 2] - p0[:, 2]), np.cos(p1[:, 2] - p0[:, 2]))
    return np.stack([c * d[:, 0] + s * d[:, 1], -s * d[:, 0] + c * d[:, 1], yaw], 1)


def test_warp_to_the_same_pose_is_the_frame():
    env = NavVectorEnv(
        num_envs=3, embodiments=("carter",), families=("office",), image_height=16, image_width=16
    )
    obs, _ = env.reset(seed=1)
    x = frames_to_tensor(obs["rgb"], obs["depth"])
    w = FrameWarper(get_embodiment("carter"), 16)
    pose = np.array([[1.0, -2.0, 0.3]] * 3)
    warped, depth, valid = w.warp(x, obs["depth"], pose, pose)
    assert valid.all()
    assert torch.equal(warped, x)
    assert np.allclose(depth.numpy(), obs["depth"], rtol=1e-4, atol=1e-4)
    assert torch.allclose(compose(torch.zeros_like(x), warped, depth, valid), x, atol=1e-6)


@pytest.mark.parametrize("body_name", ["carter", "h1"])  # h1: camera pitched down, high
def test_warp_predicts_the_rendered_view_after_moving(body_name):
    """Drive a few steps forward while turning: the first frame warped by the true motion
    agrees with the frame the renderer draws there, on most of the view."""
    fams = tuple(list_families())
    n = 2 * len(fams)
    env = NavVectorEnv(
        num_envs=n, embodiments=(body_name,), families=fams, image_height=32, image_width=32
    )
    obs0, _ = env.reset(seed=5)
    pose0 = env.pose.copy()
    body = get_embodiment(body_name)
    cmd = np.tile([0.5 * body.action_high[0], 0.0, 0.3 * body.action_high[2]], (n, 1))
    for _ in range(4):
        obs, _r, term, trunc, _ = env.step(cmd.astype(np.float32))
    moved = ~(term | trunc)
    assert moved.sum() >= n // 2
    rel = _relative(pose0, env.pose)[moved]
    x0 = frames_to_tensor(obs0["rgb"], obs0["depth"])[moved]
    warped, depth, valid = FrameWarper(body, 32).warp(
        x0, obs0["depth"][moved], np.zeros_like(rel), rel
    )
    real_d = obs["depth"][moved]
    assert valid.float().mean() > 0.8
    both = valid.numpy() & (real_d > 0) & (depth.numpy() > 0)
    rel_err = np.abs(depth.numpy()[both] - real_d[both]) / real_d[both]
    assert np.median(rel_err) < 0.03, np.median(rel_err)
    # Colour: the warp is closer to the new frame than the unmoved first frame is.
    x1 = frames_to_tensor(obs["rgb"], obs["depth"])[moved]
    m = valid[:, None].expand(-1, 3, -1, -1)
    err_warp = (warped[:, :3] - x1[:, :3]).abs()[m].mean()
    err_copy = (x0[:, :3] - x1[:, :3]).abs()[m].mean()
    assert err_warp < 0.85 * err_copy, (err_warp, err_copy)  # h1: 0.75 (render noise)


def test_odometry_integration_hand_cases():
    # 1 m/s ahead for 10 steps of 0.1 s: 1 m along x.
    p = odometry_poses(np.tile([1.0, 0.0, 0.0], (1, 10, 1)))
    assert p.shape == (1, 11, 3)
    assert np.allclose(p[0, -1], [1.0, 0.0, 0.0])
    # A quarter circle of radius 1: v = 1 m/s, w = 1 rad/s for pi/2 s ends at (1, 1, pi/2)
    # (midpoint rule; 0.01 s steps).
    steps = 157
    p = odometry_poses(np.tile([1.0, 0.0, 1.0], (1, steps, 1)), dt=np.pi / 2 / steps)
    assert np.allclose(p[0, -1], [1.0, 1.0, np.pi / 2], atol=1e-3)


def test_feature_motion_inverts_the_feature_scaling():
    body = get_embodiment("carter")
    descr = body.descriptor()[None]
    from compass_nav.worldmodel.model import action_features

    v0, v1 = np.array([[0.4, 0.0, 0.2]], np.float32), np.array([[0.6, 0.0, -0.2]], np.float32)
    f = action_features(np.zeros((1, 3), np.float32), v0, v1, descr)
    assert np.allclose(feature_motion(f, descr), [[0.5, 0.0, 0.0]], atol=1e-6)


def test_ego_warp_modes_compose_and_remember():
    """``off`` passes the prediction through; ``warp`` shows the real frame where it covers
    the view; ``memory`` also carries the previous composed frame; bad modes are refused."""
    from compass_nav.utils.errors import ConfigError
    from compass_nav.worldmodel.warp import EgoWarp

    env = NavVectorEnv(
        num_envs=2, embodiments=("carter",), families=("hall",), image_height=16, image_width=16
    )
    obs, _ = env.reset(seed=2)
    body = get_embodiment("carter")
    x = frames_to_tensor(obs["rgb"], obs["depth"])
    pred = torch.full_like(x, 0.5)
    origin = np.zeros((2, 3))
    assert torch.equal(EgoWarp(body, "off", x, obs["depth"], origin)(pred, origin), pred)
    still = EgoWarp(body, "warp", x, obs["depth"], origin)(pred, origin)
    assert torch.allclose(still, x, atol=1e-6)
    # A turn in place: the side coming into view is the prediction (warp) or, one step
    # later, what the previous composed frame showed there (memory).
    turn = np.array([[0.0, 0.0, 0.3]] * 2)
    warp = EgoWarp(body, "warp", x, obs["depth"], origin)
    mem = EgoWarp(body, "memory", x, obs["depth"], origin)
    assert mem.reanchor and not warp.reanchor
    a = warp(pred, turn)
    assert (a == 0.5).all(1).any()  # part of the view is new
    mem(pred, turn)
    b = mem(torch.zeros_like(x), turn * 1.01)
    new_in_a = (a == 0.5).all(1)
    assert (b[:, :3].permute(0, 2, 3, 1)[new_in_a] > 0.4).float().mean() > 0.8
    with pytest.raises(ConfigError, match="ego_warp"):
        EgoWarp(body, "sideways", x, obs["depth"], origin)


def test_snapped_floor_is_the_floor_along_each_ray():
    """Bare floor seen from the start and warped forward and round a turn: with
    ``snap_floor`` every covered pixel shows the floor depth along its own ray; without, the
    nearest floor point in a pixel reads nearer (what a depth reader takes for an obstacle)."""
    body = get_embodiment("carter")
    w = FrameWarper(body, 32)
    floor = w._floor_depth.numpy().astype(np.float32)  # 0 above the horizon: nothing in range
    depth = np.repeat(floor[None], 2, 0)
    x = frames_to_tensor(np.zeros((2, 32, 32, 3), np.uint8), depth)
    dst = np.array([[0.6, 0.0, 0.0], [0.4, 0.1, 0.35]])
    below = floor > 0

    def nearer(snap: bool, fill: int) -> np.ndarray:
        """Relative amount by which each covered floor pixel reads nearer than the floor."""
        _, dw, valid = w.warp(x, depth, np.zeros((2, 3)), dst, fill=fill, snap_floor=snap)
        on = valid.numpy() & below[None]
        assert on.mean(axis=(1, 2)).min() > 0.3  # most of the floor stays covered
        return ((floor[None] - dw.numpy()) / np.where(below, floor, 1.0)[None])[on]

    assert np.abs(nearer(True, 0)).max() < 1e-5  # splatted pixels: exact
    # Hole filling may still take a neighbour's depth at the image border.
    assert (nearer(True, 2) > 0.02).mean() < 0.01
    assert (nearer(False, 2) > 0.02).mean() > 0.05
