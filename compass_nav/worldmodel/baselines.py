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
* :func:`baseline_psnr`: both predictors' PSNR against logged frames, per step ahead.

Plain numpy in and out, on the arrays of :class:`compass_nav.logs.LogEpisode` (frames,
depth, ``odom_twist``, ``action``); the offline evaluator's reports set them beside the
learned model (docs/LOGS.md).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from compass_nav.contract.body import EmbodimentSpec
from compass_nav.utils.errors import ConfigError

__all__ = [
    "MOTION_SOURCES",
    "baseline_psnr",
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
    fill: tuple[int, int, int] | str = "mean",
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
        fill: RGB of pixels the first frame did not cover, or ``"mean"``: the first frame's
            mean colour (one fixed colour per prediction; black costs about 2-5 dB of PSNR
            against logged frames where a turn uncovers the image's edges).
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
    if isinstance(fill, str):
        if fill != "mean":
            raise ConfigError(f"fill={fill!r}: an (R, G, B) colour or 'mean'")
        colour = rgb.reshape(-1, 3).mean(axis=0).round().astype(np.uint8)
    else:
        colour = np.asarray(fill, np.uint8)
    out[~covered] = colour
    return out, d_w.numpy().astype(np.float32), covered


def shuffled_actions(action: np.ndarray, seed: int = 0) -> np.ndarray:
    """The rows of ``action`` (T, 3) in a random order (a fixed seed)."""
    a = np.asarray(action)
    return a[np.random.default_rng(seed).permutation(a.shape[0])]


def baseline_psnr(
    episodes,
    horizon: int = 16,
    stride: int = 8,
    motion_source: str = "odometry",
    fill: tuple[int, int, int] | str = "mean",
) -> dict[str, Any]:
    """PSNR of the model-free predictors against logged frames, per step ahead.

    From every ``stride``-th step ``t0`` of every episode with ``horizon`` logged steps
    after it, frames ``t0+1 .. t0+horizon`` are predicted by copying frame ``t0`` and by
    re-projecting it along the logged ego-motion, and compared with the logged frames.

    Args:
        episodes: :class:`~compass_nav.logs.LogEpisode` objects (a ``LogDataset``), with
            depth and square frames.
        horizon: Steps ahead.
        stride: Steps between window starts.
        motion_source: ``odometry`` or ``command`` (:func:`ego_motion`).
        fill: Colour of pixels the re-projection does not cover
            (:func:`reproject_first_frame`).

    Returns:
        ``{"windows": n, "copy_last_frame": (horizon,) mean dB, "reproject_first_frame":
        (horizon,) mean dB, "coverage": (horizon,) mean covered fraction}``.

    Raises:
        ConfigError: Bad ``horizon``/``stride``, or no episode long enough with depth.
    """
    from compass_nav.worldmodel.metrics import psnr

    if horizon < 1 or stride < 1:
        raise ConfigError(f"horizon={horizon!r}, stride={stride!r}: both must be >= 1")
    copy_db, warp_db, cover = [], [], []
    for ep in episodes:
        if ep.depth is None or ep.length <= horizon:
            continue
        dt = 1.0 / float(ep.attrs["control_hz"])
        motion = ego_motion(ep.odom_twist, ep.action, motion_source)
        for t0 in range(0, ep.length - horizon, stride):
            target = ep.rgb[t0 + 1 : t0 + 1 + horizon]
            copied = copy_last_frame(ep.rgb[t0 : t0 + 1], horizon)
            warped, _, covered = reproject_first_frame(
                ep.rgb[t0], ep.depth[t0], ep.body, motion[t0 : t0 + horizon], dt, fill
            )
            copy_db.append(psnr(copied / 255.0, target / 255.0))
            warp_db.append(psnr(warped / 255.0, target / 255.0))
            cover.append(covered.mean(axis=(1, 2)))
    if not copy_db:
        raise ConfigError(f"no logged episode with depth is longer than horizon={horizon} steps")

    def mean(rows: list[np.ndarray]) -> np.ndarray:
        a = np.stack(rows)
        return np.where(np.isfinite(a), a, 100.0).mean(axis=0)  # identical frames: 100 dB

    return {
        "windows": len(copy_db),
        "copy_last_frame": mean(copy_db),
        "reproject_first_frame": mean(warp_db),
        "coverage": np.stack(cover).mean(axis=0),
    }
