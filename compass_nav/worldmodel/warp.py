"""Ego-motion warp: a real frame re-projected to another camera pose through its own depth.

The scenes are static, so what a real frame measured stays where it is while the body moves:
every pixel with depth is a 3-D point, and the body's odometry says where the camera went.
:class:`FrameWarper` moves those points into the new camera and splats them there (nearest
surface wins, a z-buffer), through the embedded renderer's own camera model (one vertical
plane per image column at the pinhole azimuth, a ray per row at the pinhole elevation tilted
by the pitch; depth is z-depth along the optical axis, as :class:`~compass_nav.worldmodel
.geometry.DepthProjector` inverts it). Each source pixel is splatted as 2 x 2 sub-pixel
points so that a view moving closer does not open holes between neighbours.

What comes out is a partial frame and a mask of the pixels it covers. The rest — places the
real frame did not see (new ground at the image edges after a turn, what a near obstacle hid)
— is left to the learned model: :func:`compose` takes the warped pixels where they exist and
the model's prediction elsewhere. Pixels with no depth in range (0: nothing within the
camera's ``far``) are warped as directions at ``far`` and keep depth 0.

Poses are (x, y, yaw) of the robot (not the camera) in one frame; the camera sits
``camera_x`` ahead of the robot's origin at ``camera_height``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.nn import functional as F

from compass_nav.utils.errors import ConfigError
from compass_nav.worldmodel.config import EGO_WARP_MODES
from compass_nav.worldmodel.model import feature_limits, tensor_to_frames

__all__ = [
    "EGO_WARP_MODES",
    "EgoWarp",
    "FrameWarper",
    "check_ego_warp",
    "compose",
    "feature_motion",
    "odometry_poses",
]

SUPERSAMPLE = 2  # splatted points per source pixel side
#: ``EGO_WARP_MODES`` (defined with the config): ``off`` (the model's frames alone), ``warp``
#: (warped real pixels where they cover the view), ``reanchor`` (the same, and the model
#: continues from the composed frame as if it had been observed), ``memory`` (as
#: ``reanchor``, and pixels the real frame does not cover come from the previous composed
#: frame warped by the last step's motion where it covers them).


def check_ego_warp(mode: str) -> None:
    """Raises ConfigError for an unknown ``ego_warp`` mode."""
    if mode not in EGO_WARP_MODES:
        raise ConfigError(f"ego_warp={mode!r}: must be one of {EGO_WARP_MODES}")


class FrameWarper:
    """Warps frames of one body's camera between robot poses.

    Args:
        body: The :class:`~compass_nav.contract.body.EmbodimentSpec`.
        size: Image side, px (square frames).
    """

    def __init__(self, body, size: int) -> None:
        self.size = int(size)
        self.pitch = float(body.camera_pitch)
        hfov = math.radians(body.camera_hfov_deg)
        self.f = (size * 0.5) / math.tan(hfov * 0.5)
        self.cam_x = float(body.camera_x)
        self.cam_h = float(body.camera_height)
        self.far = float(body.camera_far)
        self._fine = self._rays(SUPERSAMPLE)  # splatted sub-pixel points
        self._pix = self._rays(1)  # pixel centres (hole filling)
        rpd, _, _, slope = self._pix
        # depth at which each pixel's ray meets the floor (0 where it looks up)
        self._floor_depth = torch.where(
            slope < -1e-6, self.cam_h / (-slope).clamp(min=1e-6) / rpd, torch.zeros_like(slope)
        )

    def _rays(self, k: int) -> tuple[torch.Tensor, ...]:
        """(range per depth, cos az, sin az, slope), each (S k, S k), at sub-pixel centres."""
        size = self.size
        sub = (np.arange(size * k) + 0.5) / k  # continuous pixel coordinate of each point
        tan = (size * 0.5 - sub) / self.f  # tan(azimuth) per column, elevation per row
        az = np.arctan(tan)
        cos_az = np.cos(az)[None, :]
        s = np.tan(-self.pitch + np.arctan(tan))[:, None] * cos_az  # dz per metre
        denom = cos_az * math.cos(self.pitch) - s * math.sin(self.pitch)
        out = (
            1.0 / np.maximum(denom, 1e-6),
            np.broadcast_to(cos_az, s.shape),
            np.broadcast_to(np.sin(az)[None, :], s.shape),
            s,
        )
        return tuple(torch.as_tensor(np.ascontiguousarray(v), dtype=torch.float64) for v in out)

    def _move(self, depth: torch.Tensor, rays, src: torch.Tensor, dst: torch.Tensor):
        """Points of ``depth`` (B, h, w) seen from ``src`` -> (u, v, depth, ok) in ``dst``."""
        rpd, cos_a, sin_a, slope = rays
        t = depth * rpd
        px, py, pz = self.cam_x + t * cos_a, t * sin_a, self.cam_h + slope * t
        cs, ss = src[:, 2].cos()[:, None, None], src[:, 2].sin()[:, None, None]
        wx = src[:, 0, None, None] + cs * px - ss * py
        wy = src[:, 1, None, None] + ss * px + cs * py
        dx, dy = wx - dst[:, 0, None, None], wy - dst[:, 1, None, None]
        cd, sd = dst[:, 2].cos()[:, None, None], dst[:, 2].sin()[:, None, None]
        qx = cd * dx + sd * dy - self.cam_x
        qy = -sd * dx + cd * dy
        t2 = torch.sqrt(qx * qx + qy * qy).clamp(min=1e-9)
        ahead = qx > 1e-3
        qx = torch.where(ahead, qx, torch.ones_like(qx))
        cos2 = qx / t2
        s2 = (pz - self.cam_h) / t2
        elev = torch.atan(s2 / cos2) + self.pitch
        u = self.size * 0.5 - (qy / qx) * self.f
        v = self.size * 0.5 - torch.tan(elev) * self.f
        d2 = t2 * (cos2 * math.cos(self.pitch) - s2 * math.sin(self.pitch))
        ok = (
            ahead
            & (u >= 0)
            & (u < self.size)
            & (v >= 0)
            & (v < self.size)
            & (d2 > 1e-3)
            & (elev.abs() < math.pi / 2 - 1e-3)
        )
        return u, v, d2, ok

    def warp(
        self,
        frames: torch.Tensor,
        depth: torch.Tensor | np.ndarray,
        src_pose: np.ndarray,
        dst_pose: np.ndarray,
        fill: int = 2,
        snap_floor: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Re-projects frames seen from ``src_pose`` to ``dst_pose``.

        Forward splatting leaves holes where the view magnifies more than the sub-pixel
        points cover (the floor just ahead, a wall approached). ``fill`` rounds then try,
        for each hole, the floor along its ray, accepted when it projects into the source
        frame onto a pixel that saw the floor, and the nearest and farthest depth among its
        covered neighbours, accepted when it projects onto a pixel that measured that very
        depth (within 5 cm + 5 %).

        Args:
            frames: (B, C, S, S) frames (every channel is carried as it is; :func:`compose`
                rewrites the inverse-depth channel).
            depth: (B, S, S) the frames' z-depth, m (0: nothing in range).
            src_pose: (B, 3) robot poses (x, y, yaw) the frames were seen from.
            dst_pose: (B, 3) robot poses to see them from (same common frame).
            fill: Hole-filling rounds (0: splatting only).
            snap_floor: A pixel won by a point its source pixel saw as floor takes the floor
                depth along its own ray (else the winning point's depth, which is biased
                near: the nearest of the floor points that landed in the pixel).

        Returns:
            ``(warped, depth_w, valid)``: warped frames (B, C, S, S) (0 where nothing
            landed), their depth (B, S, S) m (0: nothing in range), and the (B, S, S) bool
            mask of covered pixels.
        """
        S, k = self.size, SUPERSAMPLE
        B, C = frames.shape[:2]
        d_src = torch.as_tensor(np.asarray(depth) if not torch.is_tensor(depth) else depth)
        d_src = d_src.to(torch.float64)
        empty_src = ~(d_src > 0)
        d_src = torch.where(empty_src, torch.full_like(d_src, self.far), d_src)
        src = torch.as_tensor(np.asarray(src_pose, np.float64))
        dst = torch.as_tensor(np.asarray(dst_pose, np.float64))
        d = d_src.repeat_interleave(k, 1).repeat_interleave(k, 2)  # (B, Sk, Sk)
        u, v, d2, ok = self._move(d, self._fine, src, dst)
        bi, ii, jj = torch.nonzero(ok, as_tuple=True)
        col = u[bi, ii, jj].floor().long().clamp(0, S - 1)
        row = v[bi, ii, jj].floor().long().clamp(0, S - 1)
        key = (bi * S + row) * S + col
        dep = d2[bi, ii, jj]
        zbuf = torch.full((B * S * S,), math.inf, dtype=torch.float64)
        zbuf.scatter_reduce_(0, key, dep, reduce="amin")
        win = dep <= zbuf[key]
        key_w = key[win]
        si, sj = ii[win] // k, jj[win] // k
        out = torch.zeros(B * S * S, C, dtype=frames.dtype)
        out[key_w] = frames[bi[win], :, si, sj]
        empty = torch.zeros(B * S * S, dtype=torch.bool)
        empty[key_w] = empty_src[bi[win], si, sj]
        valid = torch.zeros(B * S * S, dtype=torch.bool)
        valid[key_w] = True
        if snap_floor:
            # A pixel keeps its nearest splatted point, and the floor points landing in one
            # pixel span a range of depths: the nearest reads nearer than the floor along the
            # pixel's own ray (an obstacle to a depth reader). A pixel won by a point the
            # source saw as floor shows the floor along its own ray instead.
            fd_src = self._floor_depth[si, sj]
            seen = d_src[bi[win], si, sj]
            is_floor = (fd_src > 0) & ((seen - fd_src).abs() <= 0.02 * fd_src + 0.01)
            fd_dst = self._floor_depth.reshape(-1)[key_w % (S * S)]
            snap = is_floor & (fd_dst > 0)
            zbuf[key_w[snap]] = fd_dst[snap]
        out, zbuf = out.view(B, S, S, C), zbuf.view(B, S, S)
        valid, empty = valid.view(B, S, S), empty.view(B, S, S)
        for _ in range(fill):
            holes = ~valid
            if not holes.any():
                break
            near = torch.where(valid, zbuf, torch.full_like(zbuf, math.inf))
            far = torch.where(valid, zbuf, torch.full_like(zbuf, -math.inf))
            near = -F.max_pool2d(-near[:, None], 3, 1, 1)[:, 0]
            far = F.max_pool2d(far[:, None], 3, 1, 1)[:, 0]
            floor = self._floor_depth.expand(B, S, S)
            for is_floor, hyp in ((True, floor), (False, near), (False, far)):
                try_ = holes & torch.isfinite(hyp) & (hyp > 0)
                if not try_.any():
                    continue
                u, v, d_exp, ok = self._move(
                    torch.where(try_, hyp, torch.ones_like(hyp)), self._pix, dst, src
                )
                ok &= try_
                b, i, j = torch.nonzero(ok, as_tuple=True)
                si = v[b, i, j].floor().long().clamp(0, S - 1)
                sj = u[b, i, j].floor().long().clamp(0, S - 1)
                de = d_exp[b, i, j]
                seen = d_src[b, si, sj]
                if is_floor:  # the source pixel saw the floor (its own floor depth)
                    fd = self._floor_depth[si, sj]
                    match = (seen - fd).abs() <= 0.02 * fd + 0.01
                else:
                    match = (seen - de).abs() <= 0.05 + 0.05 * de
                b, i, j, si, sj = b[match], i[match], j[match], si[match], sj[match]
                out[b, i, j] = frames[b, :, si, sj]
                zbuf[b, i, j] = hyp[b, i, j]
                empty[b, i, j] = empty_src[b, si, sj]
                valid[b, i, j] = True
                holes = ~valid
        depth_w = torch.where(valid & ~empty, zbuf, torch.zeros_like(zbuf)).float()
        return out.permute(0, 3, 1, 2).contiguous(), depth_w, valid


class EgoWarp:
    """Composes imagined frames from warped real (and remembered) pixels and predictions.

    Args:
        body: The :class:`~compass_nav.contract.body.EmbodimentSpec`.
        mode: One of :data:`EGO_WARP_MODES`.
        frames: (B, 4, S, S) the real reference frames (tensor layout of
            :func:`~compass_nav.worldmodel.model.frames_to_tensor`).
        depth: (B, S, S) their depth, m.
        pose: (B, 3) the robot poses they were seen from.
        snap_floor: Warped floor pixels take the floor depth along their own ray
            (:meth:`FrameWarper.warp`).
    """

    def __init__(
        self,
        body,
        mode: str,
        frames: torch.Tensor,
        depth,
        pose: np.ndarray,
        snap_floor: bool = False,
    ) -> None:
        check_ego_warp(mode)
        self.mode = mode
        self.snap_floor = bool(snap_floor)
        self.far = float(body.camera_far)
        self.warper = FrameWarper(body, frames.shape[-1]) if mode != "off" else None
        self.reset(frames, depth, pose)

    @property
    def reanchor(self) -> bool:
        """The model continues from the composed frames (``reanchor`` and ``memory``)."""
        return self.mode in ("reanchor", "memory")

    def reset(self, frames: torch.Tensor, depth, pose: np.ndarray) -> None:
        """New real reference frames (and the end of what was remembered)."""
        self.ref, self.ref_depth = frames, depth
        self.ref_pose = np.asarray(pose, np.float64).copy()
        self.prev, self.prev_depth, self.prev_pose = frames, depth, self.ref_pose

    def __call__(self, predicted: torch.Tensor, pose: np.ndarray) -> torch.Tensor:
        """The frame (B, 4, S, S) at robot ``pose`` given the model's ``predicted`` frame."""
        if self.warper is None:
            return predicted
        out = predicted
        if self.mode == "memory":
            out = compose(
                out,
                *self.warper.warp(
                    self.prev, self.prev_depth, self.prev_pose, pose, snap_floor=self.snap_floor
                ),
            )
        out = compose(
            out,
            *self.warper.warp(
                self.ref, self.ref_depth, self.ref_pose, pose, snap_floor=self.snap_floor
            ),
        )
        if self.mode == "memory":
            self.prev, self.prev_depth = out, tensor_to_frames(out, far=self.far)[1]
            self.prev_pose = np.asarray(pose, np.float64).copy()
        return out


def compose(
    predicted: torch.Tensor, warped: torch.Tensor, depth_w: torch.Tensor, valid: torch.Tensor
) -> torch.Tensor:
    """Frames (B, 4, S, S): the warped real pixels where they exist, the prediction elsewhere.

    The warped pixels' inverse-depth channel is recomputed from their new depth (the layout
    of :func:`~compass_nav.worldmodel.model.frames_to_tensor`).
    """
    w = warped.clone()
    w[:, 3] = 1.0 / (1.0 + depth_w.to(w.dtype))
    return torch.where(valid[:, None], w, predicted)


def odometry_poses(motion: np.ndarray, dt: float = 0.1) -> np.ndarray:
    """Poses (B, T+1, 3) from the origin, integrated from per-transition body velocities.

    Args:
        motion: (B, T, 3) mean body velocity (vx, vy, wz) of each transition (the body's
            odometry: the mean of the velocities at its two ends).
        dt: Control period, s.
    """
    m = np.asarray(motion, np.float64)
    B, T = m.shape[:2]
    pose = np.zeros((B, T + 1, 3))
    for t in range(T):
        mid = pose[:, t, 2] + 0.5 * m[:, t, 2] * dt
        c, s = np.cos(mid), np.sin(mid)
        pose[:, t + 1, 0] = pose[:, t, 0] + (c * m[:, t, 0] - s * m[:, t, 1]) * dt
        pose[:, t + 1, 1] = pose[:, t, 1] + (s * m[:, t, 0] + c * m[:, t, 1]) * dt
        pose[:, t + 1, 2] = pose[:, t, 2] + m[:, t, 2] * dt
    return pose


def feature_motion(feats: np.ndarray, descriptor: np.ndarray) -> np.ndarray:
    """(..., 3) mean body velocity of transitions from their action features (..., 9).

    The inverse of :func:`~compass_nav.worldmodel.model.action_features`' scaling: the mean
    of the speed at the start and the speed after the transition.
    """
    f = np.asarray(feats, np.float64)
    return 0.5 * (f[..., 3:6] + f[..., 6:9]) * feature_limits(descriptor)
