"""Model-free frame predictors on robot logs: what a learned video model must beat.

* :func:`copy_last_frame`: the future looks like the last frame seen.
* :func:`reproject_first_frame`: the first frame re-projected through its own depth to each
  future camera pose, the poses integrated from odometry-style body velocities (logged
  odometry or the commands), a fixed fill colour where the first frame saw nothing. The
  camera model is the body's (:class:`~compass_nav.worldmodel.warp.FrameWarper`: mount,
  pitch, field of view, far plane from the embodiment spec), so it needs no simulator.
* :func:`shuffled_actions`: the commands of an episode in random order, the control for an
  evaluator that ignores the actions.
* :func:`ego_motion`: per-transition body velocities of a logged episode.

Plain numpy in and out, on the arrays of :class:`compass_nav.logs.LogEpisode` (frames,
depth, ``odom_twist``, ``action``); the offline evaluator's reports set them beside the
learned model (docs/LOGS.md).
"""

from __future__ import annotations

import numpy as np

from compass_nav.contract.body import EmbodimentSpec
from compass_nav.utils.errors import ConfigError

__all__ = [
    "MOTION_SOURCES",
    "copy_last_frame",
    "ego_motion",
    "reproject_first_frame",
    "shuffled_actions",
]

MOTION_SOURCES = ("odometry", "command")


def copy_last_frame(frames: np.ndarray, horizon: int) -> np.ndarray:
    """(horizon, H, W, C): the last of ``frames`` (F, H, W, C) repeated."""
    if horizon < 1:
        raise ConfigError(f"horizon={horizon!r}: must be >= 1")
    frames = np.asarray(frames)
    if frames.ndim < 3 or frames.shape[0] < 1:
        raise ConfigError(f"frames must be (F >= 1, H, W, ...), got shape {frames.shape}")
    return np.repeat(frames[-1:], horizon, axis=0)


def ego_motion(odom_twist: np.ndarray, action: np.ndarray, source: str = "odometry") -> np.ndarray:
    """(T-1, 3) mean body velocity of each logged transition t -> t+1.

    Args:
        odom_twist: (T, 3) logged body-frame velocities.
        action: (T, 3) logged commands.
        source: ``odometry``: the mean of the measured velocities at both ends (how the
            body's odometry integrates); ``command``: the command of step t as if the body
            followed it at once (no actuator model).
    """
    if source not in MOTION_SOURCES:
        raise ConfigError(f"source={source!r}: must be one of {', '.join(MOTION_SOURCES)}")
    if source == "odometry":
        v = np.asarray(odom_twist, np.float64)
        return 0.5 * (v[:-1] + v[1:])
    return np.asarray(action, np.float64)[:-1]


def reproject_first_frame(
    rgb: np.ndarray,
    depth: np.ndarray,
    body: EmbodimentSpec,
    motion: np.ndarray,
    dt: float,
    fill: tuple[int, int, int] = (0, 0, 0),
    fill_rounds: int = 2,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Predict frames 1..T by re-projecting frame 0 along integrated ego-motion.

    Args:
        rgb: (H, W, 3) uint8 first frame (square: H = W).
        depth: (H, W) float32 its z-depth, m (0: nothing within the camera's range).
        body: The body; only its camera mount and range are used.
        motion: (T, 3) mean body velocity (vx, vy, wz) of each transition
            (:func:`ego_motion`).
        dt: Control period, s.
        fill: RGB of pixels the first frame did not cover.
        fill_rounds: Hole-filling rounds of the warp (0: splatting only).

    Returns:
        ``(frames, depth, covered)``: (T, H, W, 3) uint8, (T, H, W) float32 m, (T, H, W) bool.
    """
    import torch

    from compass_nav.worldmodel.warp import FrameWarper, odometry_poses

    rgb = np.asarray(rgb)
    depth = np.asarray(depth, np.float32)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.shape[0] != rgb.shape[1]:
        raise ConfigError(f"rgb must be square (S, S, 3), got shape {rgb.shape}")
    if depth.shape != rgb.shape[:2]:
        raise ConfigError(f"depth shape {depth.shape} differs from the frame's {rgb.shape[:2]}")
    motion = np.asarray(motion, np.float64).reshape(-1, 3)
    T = motion.shape[0]
    if T == 0:
        S = rgb.shape[0]
        return (
            np.zeros((0, S, S, 3), np.uint8),
            np.zeros((0, S, S), np.float32),
            np.zeros((0, S, S), bool),
        )
    poses = odometry_poses(motion[None], dt)[0]  # (T+1, 3) from the first frame's pose
    warper = FrameWarper(body, rgb.shape[0])
    src = torch.as_tensor(rgb, dtype=torch.float32).permute(2, 0, 1)[None].expand(T, -1, -1, -1)
    d0 = np.repeat(depth[None], T, axis=0)
    warped, d_w, valid = warper.warp(
        src.contiguous(), d0, np.repeat(poses[:1], T, 0), poses[1:], fill=fill_rounds
    )
    out = warped.permute(0, 2, 3, 1).round().clamp(0, 255).to(torch.uint8).numpy()
    covered = valid.numpy()
    out[~covered] = np.asarray(fill, np.uint8)
    return out, d_w.numpy().astype(np.float32), covered


def shuffled_actions(action: np.ndarray, seed: int = 0) -> np.ndarray:
    """The rows of ``action`` (T, 3) in a random order (a fixed seed)."""
    a = np.asarray(action)
    return a[np.random.default_rng(seed).permutation(a.shape[0])]
