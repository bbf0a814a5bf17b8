"""Gait-induced camera motion: bob, pitch and roll oscillation of a walking body's camera.

:func:`gait_camera` turns each env's gait phase into the camera offsets (height, pitch, roll)
that :meth:`compass_nav.sim.env.NavVectorEnv._cams` adds to the static mount; the column
renderer (:func:`compass_nav.sim.render.render_batch`) applies height and pitch directly.
Roll is a rotation about the optical axis, which for a pinhole camera is exactly a rotation
of the image about its centre: :func:`roll_images` applies it to the rendered RGB and depth
(nearest neighbour; pixels rotated in from outside the frame repeat the nearest edge pixel).

A gait cycle spans ``stride_length`` metres (phase 0..2 pi): the body rises and pitches
twice per cycle (each footfall) and rolls once (left / right stance).
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np


def gait_camera(
    phase: np.ndarray, bob: np.ndarray, pitch_osc: np.ndarray, roll_osc: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Camera (height, pitch, roll) offsets for each env's gait phase.

    Args:
        phase: (N,) gait phase, rad (advances 2 pi per stride).
        bob: (N,) vertical amplitude, m.
        pitch_osc: (N,) pitch amplitude, rad.
        roll_osc: (N,) roll amplitude, rad.

    Returns:
        (N,) height offset m (``bob * sin(phase)``, as before), pitch offset rad (twice per
        stride, a quarter cycle after the bob), roll rad (once per stride).
    """
    dz = bob * np.sin(phase)
    dpitch = pitch_osc * np.sin(2.0 * phase + 0.5 * np.pi)
    roll = roll_osc * np.sin(0.5 * phase)
    return dz, dpitch, roll


@nb.njit(parallel=True, cache=True)
def roll_images(rgb, depth, roll, want_rgb, want_depth):
    """Rotate each env's image by ``roll[e]`` rad about its centre, in place.

    Positive roll tilts the camera clockwise as seen from behind (the scene turns
    counter-clockwise in the image). Envs with ``roll == 0`` are left untouched.

    Args:
        rgb: (N, H, W, 3) uint8.
        depth: (N, H, W) float32.
        roll: (N,) float64 rad.
        want_rgb: Whether ``rgb`` holds images.
        want_depth: Whether ``depth`` holds images.
    """
    n = roll.shape[0]
    H = rgb.shape[1] if want_rgb else depth.shape[1]
    W = rgb.shape[2] if want_rgb else depth.shape[2]
    cy, cx = 0.5 * H - 0.5, 0.5 * W - 0.5
    for e in nb.prange(n):
        r = roll[e]
        if r == 0.0:
            continue
        c, s = math.cos(r), math.sin(r)
        src_rgb = rgb[e].copy()
        src_d = depth[e].copy()
        for i in range(H):
            for j in range(W):
                y, x = i - cy, j - cx
                si = int(round(cy + c * y - s * x))
                sj = int(round(cx + s * y + c * x))
                si = min(max(si, 0), H - 1)
                sj = min(max(sj, 0), W - 1)
                if want_rgb:
                    for k in range(3):
                        rgb[e, i, j, k] = src_rgb[si, sj, k]
                if want_depth:
                    depth[e, i, j] = src_d[si, sj]


def any_roll(roll: np.ndarray) -> bool:
    """Whether any env's camera is rolled (skip the image pass otherwise)."""
    return bool(np.any(roll != 0.0))


__all__ = ["any_roll", "gait_camera", "roll_images"]
