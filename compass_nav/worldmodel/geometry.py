"""Contacts from geometry: an obstacle map fused from depth frames, checked against the footprint.

Wiring: :func:`compass_nav.worldmodel.imagine.imagine_episodes` keeps one
:class:`ObstacleMap` per batch of imagined episodes. The real first frame and every predicted
frame are back-projected through the body's camera model (:class:`DepthProjector`, the
embedded renderer's own pinhole-per-column geometry) at the imagined pose, and the cells
where they show an obstacle are counted. After every transition :meth:`ObstacleMap.clearance`
measures how far the body's footprint is from the nearest mapped obstacle; the ``map`` judge
(:func:`compass_nav.worldmodel.imagine.outcomes`) calls a contact once it falls below a
calibrated distance. :func:`compass_nav.worldmodel.evaluate.judge_on_real` runs the same rule
on real frames.

Why: the hazard head has to learn contacts from the latent, and it learned them from the
training policies' ways of driving; a contact is a geometric event, and the model's predicted
depth plus the body's known odometry and footprint decide it without learning. The simulator
calls a collision when any point of the footprint's outline lies in an obstacle cell; here an
obstacle cell is one that enough frames show an obstacle point in, and clearance is the signed
distance from the footprint (negative inside it) to the nearest such cell's sample point, so
clearance <= 0 is the simulator's own rule on the mapped cells.

Frames: all poses are (x, y, yaw) in the episode's start frame (REP-103); the map is a square
grid centred on the start pose.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["DepthProjector", "ObstacleMap", "footprint_lattice"]

#: Obstacle points: height above the floor within [MIN_HEIGHT_M, camera height + HEAD_ROOM_M]
#: (floor points of blurred predicted depth scatter a few cm around 0; the ceiling is above).
MIN_HEIGHT_M = 0.08
HEAD_ROOM_M = 0.3
#: Only points this close to the camera enter the map: far depth is coarse at 32 px and cannot
#: cause a contact before closer frames see the same place again.
MAX_RANGE_M = 4.0
#: Clearance is reported up to this distance (the lattice covers the footprint + this margin).
MAX_CLEARANCE_M = 0.4
LATTICE_STEP_M = 0.04  # finer than a 0.1 m cell, as in the simulator's own footprint test


class DepthProjector:
    """Back-projects a depth image of the body's camera into robot-frame points.

    The embedded renderer casts one vertical plane per image column at the pinhole azimuth
    and, within it, a ray per row at the pinhole elevation tilted by the camera pitch; its
    depth is the z-depth along the optical axis. Inverting that: horizontal range
    ``t = d / (cos(az) cos(pitch) - s sin(pitch))``, point ``(cam_x + t cos(az), t sin(az))``
    at height ``camera_height + s t``, with ``s`` the row's slope.

    Args:
        body: The :class:`~compass_nav.sim.embodiment.EmbodimentSpec`.
        size: Image side, px (square frames).
    """

    def __init__(self, body, size: int) -> None:
        hfov = math.radians(body.camera_hfov_deg)
        pitch = float(body.camera_pitch)
        f = (size * 0.5) / math.tan(hfov * 0.5)
        az = np.arctan((size * 0.5 - (np.arange(size) + 0.5)) / f)  # (W,)
        b = (size * 0.5 - (np.arange(size) + 0.5)) / f  # (H,)
        cos_az = np.cos(az)[None, :]
        s = np.tan(-pitch + np.arctan(b))[:, None] * cos_az  # (H, W) dz per metre
        denom = cos_az * math.cos(pitch) - s * math.sin(pitch)
        self.range_per_depth = (1.0 / np.maximum(denom, 1e-6)).astype(np.float64)  # (H, W)
        self.cos_az = np.broadcast_to(np.cos(az)[None, :], (size, size)).astype(np.float64)
        self.sin_az = np.broadcast_to(np.sin(az)[None, :], (size, size)).astype(np.float64)
        self.slope = s.astype(np.float64)
        self.cam_x = float(body.camera_x)
        self.cam_h = float(body.camera_height)
        self.near, self.far = float(body.camera_near), float(body.camera_far)

    def obstacle_points(self, depth: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Robot-frame obstacle points of a batch of depth images.

        Args:
            depth: (N, S, S) z-depth, m (0 or >= far: nothing in range).

        Returns:
            ``(env, x, y)``: flat arrays, one entry per pixel that shows an obstacle (height in
            the obstacle band, within ``MAX_RANGE_M``).
        """
        d = np.asarray(depth, np.float64)
        t = d * self.range_per_depth[None]
        z = self.cam_h + self.slope[None] * t
        ok = ((d > 0) & (d < self.far * 0.98) & (t <= MAX_RANGE_M)
              & (z >= MIN_HEIGHT_M) & (z <= self.cam_h + HEAD_ROOM_M))
        env, i, j = np.nonzero(ok)
        tt = t[env, i, j]
        return env, self.cam_x + tt * self.cos_az[i, j], tt * self.sin_az[i, j]


def footprint_lattice(length: float, width: float, margin: float = MAX_CLEARANCE_M,
                      step: float = LATTICE_STEP_M) -> tuple[np.ndarray, np.ndarray]:
    """Sample points of the footprint grown by ``margin``, with their signed distances.

    Returns:
        ``points`` (P, 2) robot frame and ``dist`` (P,): Euclidean distance to the footprint
        rectangle outside it, minus the distance to its outline inside it.
    """
    hl, hw = 0.5 * length, 0.5 * width
    xs = np.arange(-hl - margin, hl + margin + 1e-9, step)
    ys = np.arange(-hw - margin, hw + margin + 1e-9, step)
    gx, gy = np.meshgrid(xs, ys, indexing="ij")
    qx, qy = np.abs(gx) - hl, np.abs(gy) - hw
    outside = np.hypot(np.maximum(qx, 0.0), np.maximum(qy, 0.0))
    inside = np.minimum(np.maximum(qx, qy), 0.0)
    dist = outside + inside
    keep = dist <= margin
    return np.stack([gx[keep], gy[keep]], 1), dist[keep]


class ObstacleMap:
    """Per-episode obstacle evidence on a grid around the start pose.

    Each added frame counts once in every cell where it shows an obstacle point; a cell is an
    obstacle once ``min_views`` frames agree (the real first frame counts ``min_views`` times:
    it is a measurement, predicted frames are guesses whose blur moves from frame to frame).

    Args:
        n: Episodes.
        projector: The camera's :class:`DepthProjector`.
        length, width: Footprint, m.
        min_views: Frames that must show an obstacle in a cell.
        resolution: Cell side, m (the simulator's grid is 0.1 m).
        extent: Grid side, m (episodes end within a few metres of their start).
    """

    def __init__(self, n: int, projector: DepthProjector, length: float, width: float,
                 min_views: int = 2, resolution: float = 0.1, extent: float = 30.0) -> None:
        self.n = int(n)
        self.proj = projector
        self.res = float(resolution)
        self.g = int(math.ceil(extent / resolution))
        self.half = self.g * self.res * 0.5
        self.min_views = max(1, int(min_views))
        self.counts = np.zeros((self.n, self.g * self.g), np.int16)
        self.lattice, self.lattice_dist = footprint_lattice(length, width)

    def _cells(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        j = np.floor((x + self.half) / self.res).astype(np.int64)
        i = np.floor((y + self.half) / self.res).astype(np.int64)
        inside = (i >= 0) & (j >= 0) & (i < self.g) & (j < self.g)
        return i * self.g + j, inside

    def add(self, poses: np.ndarray, depth: np.ndarray, rows: np.ndarray | None = None,
            weight: int = 1) -> None:
        """Adds one depth frame per episode seen from ``poses`` (N, 3) (rows: which to add)."""
        env, px, py = self.proj.obstacle_points(depth)
        if rows is not None:
            keep = np.asarray(rows, bool)[env]
            env, px, py = env[keep], px[keep], py[keep]
        if env.size == 0:
            return
        x, y, yaw = poses[env, 0], poses[env, 1], poses[env, 2]
        c, s = np.cos(yaw), np.sin(yaw)
        cell, inside = self._cells(x + c * px - s * py, y + s * px + c * py)
        key = np.unique(env[inside] * (self.g * self.g) + cell[inside])  # once per frame
        self.counts.reshape(-1)[key] += np.int16(weight)  # unique keys: a plain fancy add

    def add_real(self, poses: np.ndarray, depth: np.ndarray) -> None:
        """Adds a measured frame: enough evidence on its own."""
        self.add(poses, depth, weight=self.min_views)

    def clearance(self, poses: np.ndarray) -> np.ndarray:
        """(N,) signed distance from each footprint at ``poses`` to the nearest obstacle cell, m.

        Negative: an obstacle cell lies inside the footprint (the simulator's collision);
        ``MAX_CLEARANCE_M`` when no obstacle cell is that close.
        """
        lx, ly = self.lattice[:, 0][None], self.lattice[:, 1][None]
        x, y, yaw = poses[:, 0:1], poses[:, 1:2], poses[:, 2:3]
        c, s = np.cos(yaw), np.sin(yaw)
        cell, inside = self._cells(x + c * lx - s * ly, y + s * lx + c * ly)
        occ = np.take_along_axis(self.counts, np.where(inside, cell, 0), 1) >= self.min_views
        occ &= inside
        d = np.where(occ, self.lattice_dist[None], MAX_CLEARANCE_M)
        return d.min(1)
