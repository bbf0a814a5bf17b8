"""Batched ego-camera renderer: a 2.5D ray caster over the occupancy grid, compiled by numba.

Each image column is a vertical plane at the pinhole azimuth of that column; within it, a
pixel's elevation is the pinhole elevation (exact at zero pitch; with pitch, the azimuth
shift across rows is ignored). A column's ray walks the grid with a DDA, collecting every
obstacle cell it crosses until one is tall enough to hide everything behind it; each pixel
then takes the first surface its ray meets: an obstacle's front face, an obstacle's top (seen
from above, e.g. a pallet), the floor or the ceiling. Occlusion is therefore exact for
extruded obstacles. Shading: per-material colour and procedural texture, face orientation
against the scene's light direction, distance fog, and deterministic per-pixel noise (a hash
of the env's noise seed, the step and the pixel: deterministic under a seed and independent of
thread scheduling).

Depth is the z-depth along the optical axis in metres (0 where nothing is within range).
The work is parallel over (env, column) with ``numba.prange``: both cores are used.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from compass_nav.sim.scenes.base import GRID_CELLS, N_MATERIALS, RESOLUTION

MAX_HITS = 96  # obstacle cells remembered per column

# Offsets into Scene.appearance_vector().
_PAL = 0
_TEX = N_MATERIALS * 3
_TSC = _TEX + N_MATERIALS
_FLC = _TSC + N_MATERIALS
_FTILE = _FLC + 6
_CEIL = _FTILE + 1
_CEILH = _CEIL + 3
_LIGHT = _CEILH + 1


@nb.njit(inline="always")
def _hash(a: np.uint32, b: np.uint32, c: np.uint32) -> float:
    h = np.uint32(a * np.uint32(0x9E3779B1)) ^ np.uint32(b * np.uint32(0x85EBCA77))
    h ^= np.uint32(c * np.uint32(0xC2B2AE3D))
    h ^= h >> np.uint32(15)
    h = np.uint32(h * np.uint32(0x2C1B3C6D))
    h ^= h >> np.uint32(12)
    h = np.uint32(h * np.uint32(0x297A2D39))
    h ^= h >> np.uint32(15)
    return float(h) * (1.0 / 4294967296.0)


@nb.njit(inline="always")
def _frac(x: float) -> float:
    return x - math.floor(x)


@nb.njit(inline="always")
def _texture(kind: int, scale: float, u: float, z: float) -> float:
    if kind == 1:  # shelves: horizontal beams and vertical uprights
        f = 1.0
        if _frac(z / (scale * 1.5)) < 0.12:
            f = 0.55
        if _frac(u / (scale * 3.0)) < 0.06:
            f = 0.45
        return f
    if kind == 2:  # vertical panels
        return 0.72 if _frac(u / scale) < 0.07 else 1.0
    if kind == 3:  # grain / noise blocks
        return 0.8 + 0.4 * _hash(
            np.uint32(int(math.floor(u / (scale * 0.3))) & 0xFFFFFF),
            np.uint32(int(math.floor(z / (scale * 0.3))) & 0xFFFFFF),
            np.uint32(7),
        )
    if kind == 4:  # bricks
        row = math.floor(z / (scale * 0.4))
        off = 0.5 * (row % 2)
        if _frac(z / (scale * 0.4)) < 0.1 or _frac(u / (scale * 0.8) + off) < 0.06:
            return 0.6
        return 1.0
    return 1.0


@nb.njit(parallel=True, fastmath=True, cache=True)
def render_batch(
    height,
    material,
    appearance,
    poses,
    cams,
    steps,
    noise_seeds,
    rgb_out,
    depth_out,
    want_rgb,
    want_depth,
):
    """Render N ego images.

    Args:
        height: (N, G, G) float32 obstacle heights.
        material: (N, G, G) uint8 material slots.
        appearance: (N, A) float32 scene appearance vectors.
        poses: (N, 3) float64 robot (x, y, yaw).
        cams: (N, 6) float64 camera (height incl. bob, pitch, hfov, x offset, near, far).
        steps: (N,) int64 step counter (noise varies per step).
        noise_seeds: (N,) int64.
        rgb_out: (N, H, W, 3) uint8, written.
        depth_out: (N, H, W) float32, written.
        want_rgb: Render colour (skip the work when nobody reads it).
        want_depth: Render depth (likewise).
    """
    n_env = poses.shape[0]
    H = rgb_out.shape[1] if want_rgb else depth_out.shape[1]
    W = rgb_out.shape[2] if want_rgb else depth_out.shape[2]
    G = height.shape[1]
    res = RESOLUTION
    for task in nb.prange(n_env * W):
        e = task // W
        j = task % W
        x, y, yaw = poses[e, 0], poses[e, 1], poses[e, 2]
        c_h, pitch, hfov, cam_x, near, far = (
            cams[e, 0],
            cams[e, 1],
            cams[e, 2],
            cams[e, 3],
            cams[e, 4],
            cams[e, 5],
        )
        ap = appearance[e]
        ceil_h = ap[_CEILH]
        intensity, light_az, fog, noise_sigma = (
            ap[_LIGHT],
            ap[_LIGHT + 1],
            ap[_LIGHT + 2],
            ap[_LIGHT + 3],
        )
        f = (W * 0.5) / math.tan(hfov * 0.5)
        a = (W * 0.5 - (j + 0.5)) / f
        az = math.atan(a)
        cos_az = math.cos(az)
        theta = yaw + az
        dx, dy = math.cos(theta), math.sin(theta)
        ox = x + cam_x * math.cos(yaw)
        oy = y + cam_x * math.sin(yaw)
        # Steepest upward slope in this column: obstacles taller than this line hide the rest.
        b_top = (H * 0.5 - 0.5) / f
        s_top = math.tan(-pitch + math.atan(b_top)) * cos_az
        # --- DDA through the grid, collecting obstacle cells -------------------------------
        t_in = np.empty(MAX_HITS)
        t_out = np.empty(MAX_HITS)
        hh = np.empty(MAX_HITS)
        mat = np.empty(MAX_HITS, np.int64)
        face = np.empty(MAX_HITS, np.int64)
        n_hits = 0
        ci = int(math.floor(oy / res))
        cj = int(math.floor(ox / res))
        step_j = 1 if dx > 0 else -1
        step_i = 1 if dy > 0 else -1
        inv_dx = 1.0 / dx if abs(dx) > 1e-12 else 1e30
        inv_dy = 1.0 / dy if abs(dy) > 1e-12 else 1e30
        next_x = (cj + (1 if dx > 0 else 0)) * res
        next_y = (ci + (1 if dy > 0 else 0)) * res
        tmx = (next_x - ox) * inv_dx if abs(dx) > 1e-12 else 1e30
        tmy = (next_y - oy) * inv_dy if abs(dy) > 1e-12 else 1e30
        tdx = abs(res * inv_dx) if abs(dx) > 1e-12 else 1e30
        tdy = abs(res * inv_dy) if abs(dy) > 1e-12 else 1e30
        t = 0.0
        last_face = 0
        while t < far and n_hits < MAX_HITS:
            if ci < 0 or cj < 0 or ci >= G or cj >= G:
                break
            hcell = height[e, ci, cj]
            t_next = min(tmx, tmy)
            if hcell > 0.0 and t > 0.0:
                t_in[n_hits] = t
                t_out[n_hits] = t_next
                hh[n_hits] = hcell
                mat[n_hits] = material[e, ci, cj]
                face[n_hits] = last_face
                n_hits += 1
                if hcell >= c_h + s_top * t or hcell >= ceil_h:
                    break
            if tmx < tmy:
                t = tmx
                tmx += tdx
                cj += step_j
                last_face = 0
            else:
                t = tmy
                tmy += tdy
                ci += step_i
                last_face = 1
        # --- per pixel: first surface along the ray ------------------------------------------
        for i in range(H):
            b = (H * 0.5 - (i + 0.5)) / f
            s = math.tan(-pitch + math.atan(b)) * cos_az  # dz per metre of horizontal travel
            t_floor = c_h / (-s) if s < -1e-9 else 1e30
            t_ceil = (ceil_h - c_h) / s if s > 1e-9 else 1e30
            hit_t = 1e30
            kind = 0  # 0 floor, 1 ceiling, 2 face, 3 top
            hk = -1
            for k in range(n_hits):
                if t_floor <= t_in[k] or t_ceil <= t_in[k]:
                    break
                z_in = c_h + s * t_in[k]
                if z_in <= hh[k]:
                    hit_t = t_in[k]
                    kind = 2
                    hk = k
                    break
                z_out = c_h + s * t_out[k]
                if z_out <= hh[k]:
                    hit_t = (hh[k] - c_h) / s
                    kind = 3
                    hk = k
                    break
            if hk < 0:
                if t_floor < t_ceil:
                    hit_t = t_floor
                    kind = 0
                else:
                    hit_t = t_ceil
                    kind = 1
            d = hit_t * (cos_az * math.cos(pitch) - s * math.sin(pitch))
            in_range = hit_t < far * 1.5 and d <= far
            if want_depth:
                depth_out[e, i, j] = d if (in_range and d >= near) else (near if d < near else 0.0)
            if not want_rgb:
                continue
            px = ox + dx * hit_t
            py = oy + dy * hit_t
            if kind == 2 or kind == 3:
                m = mat[hk]
                r0, g0, b0 = ap[_PAL + 3 * m], ap[_PAL + 3 * m + 1], ap[_PAL + 3 * m + 2]
                zt = c_h + s * hit_t
                if kind == 2:
                    u = py if face[hk] == 0 else px
                    nx = 1.0 if face[hk] == 0 else 0.0
                    shade = 0.7 + 0.3 * abs(
                        nx * math.cos(light_az) + (1.0 - nx) * math.sin(light_az)
                    )
                    tex = _texture(int(ap[_TEX + m]), ap[_TSC + m], u, zt)
                else:
                    shade = 1.05
                    tex = _texture(int(ap[_TEX + m]), ap[_TSC + m], px, py)
            elif kind == 0:
                tile = ap[_FTILE]
                parity = (int(math.floor(px / tile)) + int(math.floor(py / tile))) & 1
                r0 = ap[_FLC + 3 * parity]
                g0 = ap[_FLC + 3 * parity + 1]
                b0 = ap[_FLC + 3 * parity + 2]
                shade = 0.9
                tex = 0.92 + 0.08 * _hash(
                    np.uint32(int(math.floor(px * 8)) & 0xFFFFFF),
                    np.uint32(int(math.floor(py * 8)) & 0xFFFFFF),
                    np.uint32(3),
                )
            else:
                r0, g0, b0 = ap[_CEIL], ap[_CEIL + 1], ap[_CEIL + 2]
                shade = 1.0
                tex = 1.25 if _frac(px / 3.0) < 0.08 else 1.0  # light strips
            atten = intensity * shade * tex / (1.0 + fog * hit_t)
            noise = 0.0
            if noise_sigma > 0:
                u1 = _hash(
                    np.uint32(noise_seeds[e] & 0xFFFFFFFF),
                    np.uint32(steps[e] & 0xFFFFFFFF),
                    np.uint32(i * 4099 + j),
                )
                u2 = _hash(
                    np.uint32(noise_seeds[e] & 0xFFFFFFFF),
                    np.uint32(i * 7 + 1),
                    np.uint32((steps[e] * 131 + j) & 0xFFFFFFFF),
                )
                noise = (u1 + u2 - 1.0) * noise_sigma * 2.45  # triangular, std ~ sigma
            rgb_out[e, i, j, 0] = min(255.0, max(0.0, r0 * atten * 255.0 + noise))
            rgb_out[e, i, j, 1] = min(255.0, max(0.0, g0 * atten * 255.0 + noise))
            rgb_out[e, i, j, 2] = min(255.0, max(0.0, b0 * atten * 255.0 + noise))


def render(
    scenes_height,
    scenes_material,
    appearance,
    poses,
    cams,
    steps,
    noise_seeds,
    image_hw: tuple[int, int],
    rgb: bool = True,
    depth: bool = True,
):
    """Allocate outputs and call :func:`render_batch` (see it for shapes)."""
    n = poses.shape[0]
    h, w = image_hw
    rgb_out = np.zeros((n, h, w, 3) if rgb else (n, 1, 1, 3), np.uint8)
    depth_out = np.zeros((n, h, w) if depth else (n, 1, 1), np.float32)
    if not rgb and not depth:
        return rgb_out, depth_out
    render_batch(
        scenes_height,
        scenes_material,
        appearance,
        poses,
        cams,
        steps,
        noise_seeds,
        rgb_out,
        depth_out,
        rgb,
        depth,
    )
    return rgb_out, depth_out


__all__ = ["GRID_CELLS", "render", "render_batch"]
