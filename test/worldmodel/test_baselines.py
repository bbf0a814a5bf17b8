"""Model-free frame predictors on robot logs: copy-last-frame, first-frame re-projection."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from compass_nav.contract.body import get_embodiment
from compass_nav.utils.errors import ConfigError
from compass_nav.worldmodel.baselines import (
    baseline_psnr,
    copy_last_frame,
    ego_motion,
    reproject_first_frame,
    shuffled_actions,
)


def test_copy_last_frame_and_shuffle():
    frames = np.arange(2 * 4 * 4 * 3, dtype=np.uint8).reshape(2, 4, 4, 3)
    out = copy_last_frame(frames, 3)
    assert out.shape == (3, 4, 4, 3) and all((o == frames[1]).all() for o in out)
    a = np.arange(30, dtype=np.float32).reshape(10, 3)
    s = shuffled_actions(a, seed=1)
    assert sorted(map(tuple, s)) == sorted(map(tuple, a)) and not np.array_equal(s, a)
    with pytest.raises(ConfigError, match="horizon=0"):
        copy_last_frame(frames, 0)


def test_ego_motion_sources():
    twist = np.array([[0.0, 0, 0], [1.0, 0, 0.2], [1.0, 0, 0.4]])
    act = np.array([[0.5, 0, 0], [0.6, 0, 0], [0.7, 0, 0]])
    np.testing.assert_allclose(ego_motion(twist, act), [[0.5, 0, 0.1], [1.0, 0, 0.3]])
    np.testing.assert_allclose(ego_motion(twist, act, "command"), act[:2])
    with pytest.raises(ConfigError, match="source='x'"):
        ego_motion(twist, act, "x")


def _pattern(size: int) -> tuple[np.ndarray, np.ndarray]:
    rgb = np.zeros((size, size, 3), np.uint8)
    rgb[:, :, 0] = (np.arange(size) * 7)[None, :]  # column code
    rgb[:, :, 1] = (np.arange(size) * 5)[:, None]  # row code
    return rgb, np.full((size, size), 3.0, np.float32)


def test_reprojection_pure_rotation_shifts_the_image():
    # camera on the rotation axis: turning left by the angle of 4 pixels at the image centre
    body = dataclasses.replace(get_embodiment("carter"), camera_x=0.0, camera_pitch=0.0)
    S = 32
    f = S / 2 / math.tan(math.radians(body.camera_hfov_deg) / 2)
    angle = math.atan(4 / f)
    rgb, depth = _pattern(S)
    frames, d, covered = reproject_first_frame(
        rgb, depth, body, np.array([[0.0, 0.0, angle / 0.1]]), 0.1, fill=(255, 0, 255)
    )
    out, cov = frames[0], covered[0]
    # the centre moves 4 columns right
    for u in range(14, 19):
        rows = cov[:, u]
        assert rows.sum() >= S - 4 and (out[rows, u, 0] == rgb[rows, u - 4, 0]).all()
    # every covered pixel shows the source pixel the pinhole rotation predicts (+-1 px)
    c = (S / 2 - (np.arange(S) + 0.5)) / f  # tan of the offset of each pixel centre
    vv, uu = np.meshgrid(c, c, indexing="ij")
    dx = np.cos(angle) - np.sin(angle) * uu  # the view direction rotated into the source
    dy = np.sin(angle) + np.cos(angle) * uu
    src_u = S / 2 - f * dy / dx - 0.5
    src_v = S / 2 - f * vv / dx - 0.5
    assert np.abs(out[:, :, 0] / 7 - src_u)[cov].max() <= 1.0
    assert np.abs(out[:, :, 1] / 5 - src_v)[cov].max() <= 1.0
    seen = (src_u > -0.5) & (src_u < S - 0.5) & (src_v > -0.5) & (src_v < S - 0.5)
    assert cov.sum() >= 0.9 * seen.sum()  # the warp covers what the first frame saw
    # what the first frame never saw (left edge after turning left) is the fixed fill
    assert not cov[:, :4].any()
    assert (out[:, :4] == np.array([255, 0, 255], np.uint8)).all()
    assert (d[0][~cov] == 0).all() and (d[0][cov] > 0).all()


def test_reprojection_no_motion_is_identity_and_forward_motion_magnifies():
    body = get_embodiment("carter")
    rgb, depth = _pattern(16)
    frames, d, cov = reproject_first_frame(rgb, depth, body, np.zeros((2, 3)), 0.1)
    assert cov.all() and (frames == rgb).all()
    np.testing.assert_allclose(d, np.broadcast_to(depth, d.shape), atol=1e-4)
    frames, d, cov = reproject_first_frame(rgb, depth, body, np.array([[1.0, 0, 0]]), 0.1)
    # 0.1 m closer to a plane 3 m ahead: depth shrinks by 0.1 m where covered
    near = d[0][cov[0] & (d[0] > 0)]
    assert near.size > 0.5 * 16 * 16
    np.testing.assert_allclose(near, 2.9, atol=0.05)
    with pytest.raises(ConfigError, match="square"):
        reproject_first_frame(rgb[:8], depth[:8], body, np.zeros((1, 3)), 0.1)


def _static_episode(T: int, depth: bool = True):
    from compass_nav.logs import LogEpisode

    rgb, d = _pattern(16)
    return LogEpisode(
        stamp=np.arange(T) * 0.1,
        rgb=np.repeat(rgb[None], T, 0),
        depth=np.repeat(d[None], T, 0) if depth else None,
        odom_pose=np.zeros((T, 3)),
        odom_twist=np.zeros((T, 3), np.float32),
        action=np.zeros((T, 3), np.float32),
        goal=np.zeros(3),
        routes=[],
        route_stamps=np.zeros(0),
        route_index=np.full(T, -1, np.int32),
        body=get_embodiment("carter"),
        attrs={"control_hz": 10.0},
    )


def test_baseline_psnr_on_a_still_robot():
    out = baseline_psnr([_static_episode(12), _static_episode(3)], horizon=4, stride=4)
    assert out["windows"] == 2  # starts 0 and 4 of the first episode; the second is too short
    # nothing moves: both predictors reproduce the logged frames exactly
    np.testing.assert_array_equal(out["copy_last_frame"], 100.0)
    np.testing.assert_array_equal(out["reproject_first_frame"], 100.0)
    np.testing.assert_array_equal(out["coverage"], 1.0)
    with pytest.raises(ConfigError, match="no logged episode with depth"):
        baseline_psnr([_static_episode(12, depth=False)], horizon=4)
