"""Scene data and the helpers family generators draw with.

Grid convention (:mod:`compass_nav.contract.geometry`): cell ``[i, j]`` covers world ``x in [j*res,
(j+1)*res)``, ``y in [i*res, (i+1)*res)``; world frame REP-103 (x forward/east, y left/north, z
up). A cell with height 0 is free floor; any other cell is an obstacle extruded from the floor to
its height. Every grid has the fixed size :data:`GRID_CELLS` so that a batch of scenes packs into
one array; the room occupies part of it and the rest is solid.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from compass_nav.contract.geometry import GRID_CELLS, RESOLUTION

#: The first material slots, drawn first (the v1 scenes' appearance stream).
N_BASE_MATERIALS = 8
#: Every material slot; the later ones are drawn after everything else in :meth:`finish` so
#: that adding them left the appearance of the earlier scenes unchanged.
N_MATERIALS = 12

# Material slots (colours and textures are drawn per scene).
FLOOR, OUTER_WALL, INNER_WALL, RACK, BOX, FURNITURE, PILLAR, DOOR_FRAME = range(N_BASE_MATERIALS)
# Objects that are not on the scene's map (the stale-map suite adds them per episode) and the
# held-out family's own furniture.
PALLET, CART, PERSON, BED = range(N_BASE_MATERIALS, N_MATERIALS)

# Texture kinds understood by the renderer.
TEX_PLAIN, TEX_SHELVES, TEX_PANELS, TEX_GRAIN, TEX_BRICKS = range(5)


@dataclasses.dataclass
class Scene:
    """One generated world.

    Attributes:
        family: Scene family name.
        seed: Generator seed.
        height: (G, G) float32 obstacle height per cell, m (0 = free).
        material: (G, G) uint8 material slot per cell.
        palette: (N_MATERIALS, 3) float32 RGB in [0, 1]; slot 0 is the floor's first colour.
        texture: (N_MATERIALS,) int32 texture kind per slot.
        texture_scale: (N_MATERIALS,) float32 texture period per slot, m.
        floor_colors: (2, 3) float32 floor tile colours.
        floor_tile: Floor tile size, m.
        ceiling_color: (3,) float32.
        ceiling_height: m.
        light: (4,) float32 = (intensity, light azimuth rad, fog per metre, noise sigma in
            grey levels).
        bounds: (x0, y0, x1, y1) of the room interior, m.
    """

    family: str
    seed: int
    height: np.ndarray
    material: np.ndarray
    palette: np.ndarray
    texture: np.ndarray
    texture_scale: np.ndarray
    floor_colors: np.ndarray
    floor_tile: float
    ceiling_color: np.ndarray
    ceiling_height: float
    light: np.ndarray
    bounds: tuple[float, float, float, float]

    @property
    def occupancy(self) -> np.ndarray:
        """(G, G) bool, True where an obstacle stands."""
        return self.height > 0

    def appearance_vector(self) -> np.ndarray:
        """Flat float32 vector of everything the renderer needs besides the grids."""
        return np.concatenate(
            [
                self.palette.ravel(),
                self.texture.astype(np.float32),
                self.texture_scale,
                self.floor_colors.ravel(),
                [self.floor_tile],
                self.ceiling_color,
                [self.ceiling_height],
                self.light,
            ]
        ).astype(np.float32)


APPEARANCE_DIM = N_MATERIALS * 3 + N_MATERIALS * 2 + 6 + 1 + 3 + 1 + 4


class SceneBuilder:
    """Draws a room into a fresh grid with randomised appearance."""

    def __init__(
        self, family: str, seed: int, width: float, depth: float, wall_height: float
    ) -> None:
        self.family = family
        self.seed = seed
        self.rng = np.random.default_rng([seed, _family_salt(family)])
        g = GRID_CELLS
        self.height = np.full((g, g), wall_height, np.float32)
        self.material = np.full((g, g), OUTER_WALL, np.uint8)
        # Room interior centred in the grid.
        x0 = round((g * RESOLUTION - width) / 2, 1)
        y0 = round((g * RESOLUTION - depth) / 2, 1)
        self.bounds = (x0, y0, x0 + width, y0 + depth)
        self.box(x0, y0, x0 + width, y0 + depth, 0.0, FLOOR)
        self.width, self.depth = width, depth
        self.wall_height = wall_height

    @classmethod
    def random_size(
        cls,
        family: str,
        seed: int,
        width: tuple[float, float],
        depth: tuple[float, float],
        wall_height: tuple[float, float],
    ) -> SceneBuilder:
        """A builder for a room whose size is drawn uniformly from the (low, high) ranges.

        Width, depth and wall height are the first draws of the scene's own stream; the
        builder's :attr:`rng` starts that stream afresh for the room's contents.
        """
        rng = np.random.default_rng([seed, _family_salt(family)])
        w, d = rng.uniform(*width), rng.uniform(*depth)
        return cls(family, seed, width=w, depth=d, wall_height=float(rng.uniform(*wall_height)))

    def _cells(self, x0: float, y0: float, x1: float, y1: float) -> tuple[slice, slice]:
        j0 = int(np.floor(min(x0, x1) / RESOLUTION + 1e-6))
        j1 = int(np.ceil(max(x0, x1) / RESOLUTION - 1e-6))
        i0 = int(np.floor(min(y0, y1) / RESOLUTION + 1e-6))
        i1 = int(np.ceil(max(y0, y1) / RESOLUTION - 1e-6))
        g = GRID_CELLS
        return slice(max(i0, 0), min(i1, g)), slice(max(j0, 0), min(j1, g))

    def box(self, x0: float, y0: float, x1: float, y1: float, h: float, mat: int) -> None:
        """Fill an axis-aligned box (h = 0 clears it to floor)."""
        si, sj = self._cells(x0, y0, x1, y1)
        self.height[si, sj] = h
        self.material[si, sj] = mat if h > 0 else FLOOR

    def cylinder(self, cx: float, cy: float, r: float, h: float, mat: int) -> None:
        """Fill a vertical cylinder."""
        si, sj = self._cells(cx - r, cy - r, cx + r, cy + r)
        ii, jj = np.mgrid[si, sj]
        inside = ((jj + 0.5) * RESOLUTION - cx) ** 2 + ((ii + 0.5) * RESOLUTION - cy) ** 2 <= r * r
        self.height[ii[inside], jj[inside]] = h
        self.material[ii[inside], jj[inside]] = mat

    def is_free(self, x0: float, y0: float, x1: float, y1: float, margin: float = 0.0) -> bool:
        """True if the box (grown by ``margin``) holds no obstacle."""
        si, sj = self._cells(x0 - margin, y0 - margin, x1 + margin, y1 + margin)
        return bool(np.all(self.height[si, sj] == 0))

    def finish(self, textures: dict[int, int], ceiling_height: float) -> Scene:
        """Draw the random appearance and return the scene."""
        rng = self.rng
        nb = N_BASE_MATERIALS
        palette = rng.uniform(0.15, 0.9, (nb, 3)).astype(np.float32)
        # Keep materials in plausible families of colour: desaturate some.
        grey = palette.mean(axis=1, keepdims=True)
        mix = rng.uniform(0.0, 0.7, (nb, 1))
        palette = (mix * grey + (1 - mix) * palette).astype(np.float32)
        texture = np.zeros(nb, np.int32)
        for slot, kind in textures.items():
            if slot < nb:
                texture[slot] = kind
        # Randomly swap in other textures so appearance does not identify the material.
        swap = rng.random(nb) < 0.25
        texture[swap] = rng.integers(0, 5, swap.sum())
        texture_scale = rng.uniform(0.3, 1.2, nb).astype(np.float32)
        base = rng.uniform(0.25, 0.75, 3)
        floor_colors = np.stack([base, np.clip(base * rng.uniform(0.7, 1.3, 3), 0, 1)]).astype(
            np.float32
        )
        light = np.array(
            [
                rng.uniform(0.6, 1.25),  # intensity
                rng.uniform(-np.pi, np.pi),  # light azimuth
                rng.uniform(0.0, 0.08),  # fog per metre
                rng.uniform(0.0, 6.0),  # pixel noise sigma, grey levels
            ],
            np.float32,
        )
        floor_tile = float(rng.uniform(0.4, 1.5))
        ceiling_color = rng.uniform(0.55, 0.95, 3).astype(np.float32)
        palette, texture, texture_scale = _extra_materials(
            rng, palette, texture, texture_scale, textures
        )
        return Scene(
            family=self.family,
            seed=self.seed,
            height=self.height,
            material=self.material,
            palette=palette,
            texture=texture,
            texture_scale=texture_scale,
            floor_colors=floor_colors,
            floor_tile=floor_tile,
            ceiling_color=ceiling_color,
            ceiling_height=float(ceiling_height),
            light=light,
            bounds=self.bounds,
        )


def _extra_materials(rng, palette, texture, texture_scale, textures):
    """Append the slots past :data:`N_BASE_MATERIALS`, drawn after every earlier draw.

    Pallets are wood-coloured, carts metallic grey, people in clothes of any colour, beds
    pale; each with a little per-scene variation.
    """
    n = N_MATERIALS - N_BASE_MATERIALS
    base = np.array(
        [[0.62, 0.48, 0.30], [0.55, 0.57, 0.60], [0.45, 0.35, 0.40], [0.85, 0.86, 0.88]],
        np.float32,
    )
    jitter = rng.uniform(-0.12, 0.12, (n, 3)).astype(np.float32)
    jitter[2] = rng.uniform(-0.3, 0.4, 3)  # clothes vary most
    extra = np.clip(base + jitter, 0.05, 0.95).astype(np.float32)
    kinds = np.array([TEX_GRAIN, TEX_PANELS, TEX_PLAIN, TEX_PLAIN], np.int32)
    for slot, kind in textures.items():
        if slot >= N_BASE_MATERIALS:
            kinds[slot - N_BASE_MATERIALS] = kind
    scales = rng.uniform(0.2, 0.6, n).astype(np.float32)
    return (
        np.concatenate([palette, extra]).astype(np.float32),
        np.concatenate([texture, kinds]).astype(np.int32),
        np.concatenate([texture_scale, scales]).astype(np.float32),
    )


def _family_salt(family: str) -> int:
    return int.from_bytes(family.encode()[:8].ljust(8, b"\0"), "little") % (2**31)
