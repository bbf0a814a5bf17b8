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
training policies' ways of driving; a contact is a geometric event, and depth plus the body's
known odometry and footprint decide it without learning. The simulator calls a collision when
any point of the footprint's outline lies in an obstacle cell; clearance is the signed
distance from the footprint (negative inside it) to the nearest mapped obstacle cell's sample
point, so clearance <= 0 is the simulator's own rule on the mapped cells.

Measured against predicted: the real first frame is a measurement. Its obstacle points mark
obstacle cells, and along each image column the floor it sees up to the first obstacle marks
free cells (an obstacle there would have hidden that floor); so does the start footprint,
which the simulator places clear of obstacles. Those cells are *observed* and predicted
frames never change them: predicted depth of an unseen place is the model's guess, and on
training scenes most predicted obstacle points 8+ steps ahead lie in free cells
(``docs/WORLDMODEL.md``). Predicted frames fill only the unobserved cells, with occupancy
evidence: +1 where a frame shows an obstacle, -1 where it sees floor, and a cell counts as
an obstacle at ``min_views``.

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
        body: The :class:`~compass_nav.contract.body.EmbodimentSpec`.
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
        self.azimuth = az.astype(np.float64)
        self.cos_az = np.broadcast_to(np.cos(az)[None, :], (size, size)).astype(np.float64)
        self.sin_az = np.broadcast_to(np.sin(az)[None, :], (size, size)).astype(np.float64)
        self.slope = s.astype(np.float64)
        self.cam_x = float(body.camera_x)
        self.cam_h = float(body.camera_height)
        self.near, self.far = float(body.camera_near), float(body.camera_far)

    def _classify(self, depth: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(range t, obstacle mask, floor mask), each (N, S, S)."""
        d = np.asarray(depth, np.float64)
        t = d * self.range_per_depth[None]
        z = self.cam_h + self.slope[None] * t
        valid = (d > 0) & (d < self.far * 0.98) & (t <= MAX_RANGE_M)
        obstacle = valid & (z >= MIN_HEIGHT_M) & (z <= self.cam_h + HEAD_ROOM_M)
        floor = valid & (z < MIN_HEIGHT_M) & (self.slope[None] < 0)
        return t, obstacle, floor

    def obstacle_points(self, depth: np.ndarray, heights: bool = False):
        """Robot-frame obstacle points of a batch of depth images.

        Args:
            depth: (N, S, S) z-depth, m (0 or >= far: nothing in range).
            heights: Also return each point's height above the floor.

        Returns:
            ``(env, x, y)`` (and ``z`` with ``heights``): flat arrays, one entry per pixel that
            shows an obstacle (height in the obstacle band, within ``MAX_RANGE_M``).
        """
        t, ok, _ = self._classify(depth)
        env, i, j = np.nonzero(ok)
        tt = t[env, i, j]
        out = (env, self.cam_x + tt * self.cos_az[i, j], tt * self.sin_az[i, j])
        if heights:
            out += (self.cam_h + self.slope[i, j] * tt,)
        return out

    def free_range(self, depth: np.ndarray) -> np.ndarray:
        """(N, S) per image column: horizontal range from the camera seen to be free, m.

        Up to the farthest floor the column sees, but not beyond its nearest obstacle point
        (less half a cell): an obstacle nearer than a visible stretch of floor would hide it.
        """
        t, obstacle, floor = self._classify(depth)
        first_obstacle = np.where(obstacle, t, np.inf).min(1)
        floor_far = np.where(floor, t, 0.0).max(1)
        return np.clip(np.minimum(floor_far, first_obstacle - 0.05), 0.0, MAX_RANGE_M)


def footprint_lattice(
    length: float, width: float, margin: float = MAX_CLEARANCE_M, step: float = LATTICE_STEP_M
) -> tuple[np.ndarray, np.ndarray]:
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
    """Per-episode obstacle map on a grid around the start pose: measured and predicted.

    Real frames (:meth:`add_real`) mark obstacle cells and the free cells they see; those
    cells are *observed*. The start plan (:meth:`add_plan`) marks its free corridor, and
    :meth:`enter` counts the cells a footprint covers that are neither (the ``map_prior``
    judge's exposure). Predicted frames (:meth:`add`) keep occupancy evidence per cell
    (+1 for an obstacle point, -1 for seen free, never below 0); an unobserved cell is an
    obstacle once its evidence reaches ``min_views``.

    Args:
        n: Episodes.
        projector: The camera's :class:`DepthProjector`.
        length, width: Footprint, m.
        min_views: Predicted frames that must show an obstacle in an unobserved cell.
        resolution: Cell side, m (the simulator's grid is 0.1 m).
        extent: Grid side, m (episodes end within a few metres of their start).
    """

    def __init__(
        self,
        n: int,
        projector: DepthProjector,
        length: float,
        width: float,
        min_views: int = 2,
        resolution: float = 0.1,
        extent: float = 30.0,
    ) -> None:
        self.n = int(n)
        self.proj = projector
        self.res = float(resolution)
        self.g = int(math.ceil(extent / resolution))
        self.half = self.g * self.res * 0.5
        self.min_views = max(1, int(min_views))
        cells = self.g * self.g
        self.real = np.zeros((self.n, cells), bool)  # measured obstacle
        self.observed = np.zeros((self.n, cells), bool)  # measured, obstacle or free
        self.pred = np.zeros((self.n, cells), np.int16)  # predicted frames showing obstacles
        self.top = np.zeros((self.n, cells), np.float32)  # highest measured obstacle point, m
        self.corridor = np.zeros((self.n, cells), bool)  # free by the start plan (add_plan)
        self.plan_weight = np.ones((self.n, cells), np.float32)  # graded band (add_plan)
        self.entered = np.zeros((self.n, cells), bool)  # unknown when the footprint entered
        self.unknown = np.zeros(self.n, np.int64)  # cells in ``entered``
        self.unknown_band = np.zeros(self.n, np.float64)  # the same weighted by plan_weight
        self.lattice, self.lattice_dist = footprint_lattice(length, width)
        self._inside = self.lattice[self.lattice_dist <= 0.0]  # footprint points (enter)

    def _cells(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        j = np.floor((x + self.half) / self.res).astype(np.int64)
        i = np.floor((y + self.half) / self.res).astype(np.int64)
        inside = (i >= 0) & (j >= 0) & (i < self.g) & (j < self.g)
        return i * self.g + j, inside

    def _cells_at(self, x, y, yaw, px, py) -> tuple[np.ndarray, np.ndarray]:
        """Cells, and whether on the grid, of robot-frame points (px, py) at (x, y, yaw)."""
        c, s = np.cos(yaw), np.sin(yaw)
        return self._cells(x + c * px - s * py, y + s * px + c * py)

    def _flat_keys(
        self, env: np.ndarray, poses: np.ndarray, px: np.ndarray, py: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Flat (episode, cell) keys of the on-grid robot-frame points, and the on-grid mask."""
        cell, inside = self._cells_at(poses[env, 0], poses[env, 1], poses[env, 2], px, py)
        return (env * (self.g * self.g) + cell)[inside], inside

    def _keys(
        self, env: np.ndarray, poses: np.ndarray, px: np.ndarray, py: np.ndarray
    ) -> np.ndarray:
        """Unique flat (episode, cell) keys of robot-frame points seen from ``poses``."""
        return np.unique(self._flat_keys(env, poses, px, py)[0])

    def _free_keys(
        self,
        poses: np.ndarray,
        depth: np.ndarray,
        keep: np.ndarray,
        step: float,
        spread: tuple[float, ...],
    ) -> np.ndarray:
        """Keys of the cells the kept frames see free, up to each column's free range.

        Rays run at the column azimuths shifted by each ``spread`` times half a column.
        """
        free = np.where(keep[:, None], self.proj.free_range(depth), 0.0)  # (N, S)
        az = self.proj.azimuth
        half = 0.5 * (az[0] - az[1]) if az.size > 1 else 0.0
        u = np.arange(self.proj.near, MAX_RANGE_M, step)  # (U,)
        e, col, k = np.nonzero(u[None, None, :] < free[:, :, None])
        if e.size == 0:
            return np.zeros(0, np.int64)
        keys = [
            self._keys(
                e,
                poses,
                self.proj.cam_x + u[k] * np.cos(az[col] + f * half),
                u[k] * np.sin(az[col] + f * half),
            )
            for f in spread
        ]
        return np.unique(np.concatenate(keys))

    def add(
        self,
        poses: np.ndarray,
        depth: np.ndarray,
        rows: np.ndarray | None = None,
        step: float = 0.1,
    ) -> None:
        """Adds one predicted depth frame per episode seen from ``poses`` (N, 3).

        Occupancy-grid evidence: +1 in every cell the frame shows an obstacle in, and the
        cells it sees free (floor up to the first obstacle, one ray per column) lose one,
        down to 0. A guess that moves with the camera (blur at a fixed place in the image)
        is carved away by the next frame's floor; an obstacle that stays put in the world
        gathers views.
        """
        keep = np.ones(self.n, bool) if rows is None else np.asarray(rows, bool)
        flat = self.pred.reshape(-1)
        key = self._free_keys(poses, depth, keep, step, (0.0,))
        flat[key] = np.maximum(flat[key] - 1, 0)
        env, px, py = self.proj.obstacle_points(depth)
        sel = keep[env]
        if sel.any():
            flat[self._keys(env[sel], poses, px[sel], py[sel])] += 1  # unique keys

    def add_real(
        self,
        poses: np.ndarray,
        depth: np.ndarray,
        rows: np.ndarray | None = None,
        start: bool = False,
        step: float = 0.05,
    ) -> None:
        """Adds measured frames: their obstacle cells, and the free cells they see.

        Args:
            poses: (N, 3) camera body poses, start frame.
            depth: (N, S, S) measured depth, m.
            rows: (N,) bool, which episodes to add (all when None).
            start: The poses are where the simulator placed the bodies: their footprints are
                free too.
            step: Sampling step along the free rays, m.
        """
        keep = np.ones(self.n, bool) if rows is None else np.asarray(rows, bool)
        flat_real, flat_obs = self.real.reshape(-1), self.observed.reshape(-1)
        env, px, py, pz = self.proj.obstacle_points(depth, heights=True)
        sel = keep[env]
        if sel.any():
            keys, inside = self._flat_keys(env[sel], poses, px[sel], py[sel])
            flat_real[keys] = True
            flat_obs[keys] = True
            # Highest point per cell: an obstacle is extruded from the floor to at least it.
            np.maximum.at(self.top.reshape(-1), keys, pz[sel][inside].astype(np.float32))
        # Free cells: rays at three azimuths per column, up to the column's free range.
        flat_obs[self._free_keys(poses, depth, keep, step, (-2.0 / 3.0, 0.0, 2.0 / 3.0))] = True
        if start:
            pts = self.lattice[self.lattice_dist <= 0.0]
            e = np.repeat(np.flatnonzero(keep), len(pts))
            m = int(keep.sum())
            flat_obs[self._keys(e, poses, np.tile(pts[:, 0], m), np.tile(pts[:, 1], m))] = True

    def measured_depth(
        self, poses: np.ndarray, depth: np.ndarray, step: float = 0.05
    ) -> tuple[np.ndarray, np.ndarray]:
        """Depth the measured cells determine, seen from ``poses``; elsewhere ``depth``.

        Each image column marches through the map at its azimuth. A pixel's ray is decided
        by measurement when it meets the floor before leaving the measured cells and before
        any measured obstacle, or when it meets a measured obstacle cell below that cell's
        highest measured point (obstacles are extruded from the floor). Other pixels keep
        their value in ``depth`` (the model's prediction), but no nearer than the measured
        free stretch their ray crosses first.

        Returns:
            ``(depth, measured)``: (N, S, S) the combined depth, m, and which pixels the
            measured cells decided.
        """
        pr = self.proj
        n = depth.shape[0]
        u = np.arange(pr.near, MAX_RANGE_M, step)  # (U,)
        az = pr.azimuth  # (S,)
        lx = pr.cam_x + u[None, :] * np.cos(az)[:, None]  # (S, U)
        ly = u[None, :] * np.sin(az)[:, None]
        x, y, yaw = (poses[:, k][:, None, None] for k in range(3))
        cell, inside = self._cells_at(x, y, yaw, lx, ly)  # (N, S, U)
        idx = np.where(inside, cell, 0).reshape(n, -1)
        real = np.take_along_axis(self.real, idx, 1).reshape(cell.shape) & inside
        seen = np.take_along_axis(self.observed, idx, 1).reshape(cell.shape) & inside
        top = np.take_along_axis(self.top, idx, 1).reshape(cell.shape)
        big = len(u)
        first_unseen = np.where((~seen).any(-1), (~seen).argmax(-1), big)  # (N, S)
        first_real = np.where(real.any(-1), real.argmax(-1), big)
        u_ext = np.append(u, np.inf)
        t_unseen, t_real = u_ext[first_unseen], u_ext[first_real]  # (N, S) ranges
        top_real = np.take_along_axis(top, np.minimum(first_real, big - 1)[..., None], -1)[..., 0]
        slope = pr.slope[None]  # (1, S, S): rows x columns
        t_floor = np.where(slope < 0, pr.cam_h / np.maximum(-slope, 1e-9), np.inf)
        tu, tr = t_unseen[:, None, :], t_real[:, None, :]  # broadcast over rows
        floor_hit = (t_floor < tu) & (t_floor < tr)
        ray_h = pr.cam_h + slope * tr  # height of the ray where it meets the obstacle cell
        wall_hit = (tr < tu) & (tr <= t_floor) & (ray_h <= top_real[:, None, :])
        hit_t = np.where(floor_hit, t_floor, np.where(wall_hit, tr, np.nan))
        measured = floor_hit | wall_hit
        # Elsewhere the ray is known free up to the first unmeasured or obstacle cell: the
        # depth is at least that far (a predicted obstacle nearer is a phantom).
        free_t = np.minimum(np.minimum(tu, tr), u[-1])
        lower = free_t / pr.range_per_depth[None]
        out = np.where(measured, hit_t / pr.range_per_depth[None], np.maximum(depth, lower))
        return out.astype(np.float32), measured

    def clearance(self, poses: np.ndarray, predicted: bool = True) -> np.ndarray:
        """(N,) signed distance from each footprint at ``poses`` to the nearest obstacle cell, m.

        Negative: an obstacle cell lies inside the footprint (the simulator's collision);
        ``MAX_CLEARANCE_M`` when no obstacle cell is that close.

        Args:
            poses: (N, 3) poses in the start frame.
            predicted: Use predicted frames for unobserved cells (else measured cells only).
        """
        lx, ly = self.lattice[:, 0][None], self.lattice[:, 1][None]
        cell, inside = self._cells_at(poses[:, 0:1], poses[:, 1:2], poses[:, 2:3], lx, ly)
        idx = np.where(inside, cell, 0)
        occ = np.take_along_axis(self.real, idx, 1)
        if predicted:
            pred = np.take_along_axis(self.pred, idx, 1) >= self.min_views
            occ |= pred & ~np.take_along_axis(self.observed, idx, 1)
        occ &= inside
        d = np.where(occ, self.lattice_dist[None], MAX_CLEARANCE_M)
        return d.min(1)

    def add_plan(
        self,
        plans: np.ndarray,
        plan_len: np.ndarray,
        radius: float,
        band: float = 0.0,
        step: float = 0.05,
    ) -> None:
        """Marks the cells within ``radius`` of each episode's start plan as free.

        The simulator's planner keeps the body's centre at least its inscribed radius (plus a
        margin) from every obstacle, so the disc of that radius around every point of the
        plan is free ground: what the global route the robot is handed says about the map.
        Beyond it the planner's cost keeps plans away from obstacles where it can: unknown
        cells whose centre lies within ``band`` beyond ``radius`` weigh in proportion to
        their distance into the band (``plan_weight``; 1 elsewhere).

        Args:
            plans: (N, M, 2) plan points in the start frame.
            plan_len: (N,) valid points per plan (fewer than 2: no plan, a mapless route).
            radius: Free radius around the plan, m.
            band: Width of the graded band beyond ``radius``, m (0: none).
            step: Sampling step along the plan, m.
        """
        reach = radius + max(band, 0.0)
        r = np.arange(-reach, reach + 1e-9, step)
        ox, oy = np.meshgrid(r, r)
        dist = np.hypot(ox, oy)
        free = (dist <= radius)[dist <= reach]
        ox, oy = ox[dist <= reach], oy[dist <= reach]
        flat, weight = self.corridor.reshape(-1), self.plan_weight.reshape(-1)
        for e in range(self.n):
            m = int(plan_len[e])
            if m < 2:
                continue
            pts = np.asarray(plans[e, :m], np.float64)
            seg = pts[1:] - pts[:-1]
            k = np.maximum(np.ceil(np.hypot(seg[:, 0], seg[:, 1]) / step).astype(int), 1)
            idx = np.repeat(np.arange(len(seg)), k)
            frac = np.concatenate([np.arange(kk) / kk for kk in k])
            line = np.concatenate([pts[:-1][idx] + seg[idx] * frac[:, None], pts[-1:]])
            px, py = line[:, 0:1] + ox[None], line[:, 1:2] + oy[None]
            cell, inside = self._cells(px[:, free].ravel(), py[:, free].ravel())
            flat[e * self.g * self.g + np.unique(cell[inside])] = True
            if band <= 0:
                continue
            cell, inside = self._cells(px.ravel(), py.ravel())
            cell = np.unique(cell[inside])
            gi, gj = np.divmod(cell, self.g)
            cx, cy = (gj + 0.5) * self.res - self.half, (gi + 0.5) * self.res - self.half
            d = np.full(cell.size, np.inf)
            for c0 in range(0, len(line), 256):  # nearest plan sample, in chunks
                seg_pts = line[c0 : c0 + 256]
                d = np.minimum(
                    d,
                    np.hypot(
                        cx[:, None] - seg_pts[None, :, 0], cy[:, None] - seg_pts[None, :, 1]
                    ).min(1),
                )
            w = np.clip((d - radius) / band, 0.0, 1.0).astype(np.float32)
            key = e * self.g * self.g + cell
            weight[key] = np.minimum(weight[key], w)

    def enter(
        self, poses: np.ndarray, rows: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Counts the cells entered unknown: neither measured nor on the plan's corridor.

        Each cell the footprints at ``poses`` (N, 3) cover counts once, when a footprint first
        covers it while it is unknown; ``rows`` (N,) bool selects the episodes that moved.

        Returns:
            ``(cells, weighted)``: (N,) cells entered unknown so far (the ``map_prior``
            judge's exposure) and their sum of ``plan_weight`` (``map_prior_band``).
        """
        keep = np.ones(self.n, bool) if rows is None else np.asarray(rows, bool)
        env = np.repeat(np.flatnonzero(keep), len(self._inside))
        m = int(keep.sum())
        keys, _ = self._flat_keys(
            env, poses, np.tile(self._inside[:, 0], m), np.tile(self._inside[:, 1], m)
        )
        keys = np.unique(keys)
        new = keys[
            ~(
                self.observed.reshape(-1)[keys]
                | self.corridor.reshape(-1)[keys]
                | self.entered.reshape(-1)[keys]
            )
        ]
        self.entered.reshape(-1)[new] = True
        np.add.at(self.unknown, new // (self.g * self.g), 1)
        np.add.at(self.unknown_band, new // (self.g * self.g), self.plan_weight.reshape(-1)[new])
        return self.unknown.copy(), self.unknown_band.copy()
