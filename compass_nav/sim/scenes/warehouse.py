"""Warehouse family: rows of racks with aisles and cross-aisles, pallets and pillars."""

from __future__ import annotations

from compass_nav.sim.scenes import register_family
from compass_nav.sim.scenes.base import (
    BOX,
    OUTER_WALL,
    PILLAR,
    RACK,
    TEX_BRICKS,
    TEX_GRAIN,
    TEX_PANELS,
    TEX_SHELVES,
    Scene,
    SceneBuilder,
)


@register_family("warehouse")
def generate(seed: int, layout: str = "v1") -> Scene:
    """Warehouse aisles: 1-4 rack rows (single or multi rack), pallets in the aisles.

    Layout ``v2``: a larger hall (19-23 x 15-23 m), 2-6 rows with narrower aisles
    (1.4-2.6 m) and cross-aisles that are often a tight gap (0.75-1.1 m).
    """
    v2 = layout == "v2"
    size = dict(width=(19, 23), depth=(15, 23)) if v2 else dict(width=(14, 21), depth=(11, 17))
    b = SceneBuilder.random_size("warehouse", seed, wall_height=(5.0, 7.0), **size)
    rng, depth = b.rng, b.depth
    x0, y0, x1, y1 = b.bounds
    rack_h = rng.uniform(2.0, 4.5)
    rack_d = rng.uniform(0.8, 1.2)
    aisle = rng.uniform(1.4, 2.6) if v2 else rng.uniform(2.2, 3.2)
    n_rows = int(rng.integers(2, 7)) if v2 else int(rng.integers(1, 5))
    # Rows run along x; the block of rows is centred in y.
    block = n_rows * rack_d + (n_rows - 1) * aisle
    if block > depth - 2 * aisle:
        n_rows = max(1, int((depth - 2 * aisle + aisle) // (rack_d + aisle)))
        block = n_rows * rack_d + (n_rows - 1) * aisle
    ys = y0 + (depth - block) / 2 + rng.uniform(-0.5, 0.5)
    margin_x = rng.uniform(1.8, 3.0)
    for r in range(n_rows):
        ry = ys + r * (rack_d + aisle)
        x = x0 + margin_x
        while x < x1 - margin_x - 1.0:
            seg = rng.uniform(3.0, 7.0)
            xe = min(x + seg, x1 - margin_x)
            b.box(x, ry, xe, ry + rack_d, rack_h * rng.uniform(0.85, 1.0), RACK)
            if v2 and rng.random() < 0.5:
                x = xe + rng.uniform(0.75, 1.1)  # a tight gap between two racks
            else:
                x = xe + rng.uniform(1.8, 2.8)  # cross-aisle
    # Pallets and boxes scattered on the floor, kept off the walls.
    for _ in range(int(rng.integers(3, 12))):
        w, d = rng.uniform(0.6, 1.3), rng.uniform(0.6, 1.3)
        px, py = rng.uniform(x0 + 0.5, x1 - 0.5 - w), rng.uniform(y0 + 0.5, y1 - 0.5 - d)
        if b.is_free(px, py, px + w, py + d, margin=0.9):
            b.box(px, py, px + w, py + d, rng.uniform(0.15, 1.6), BOX)
    # Structural pillars.
    for _ in range(int(rng.integers(0, 5))):
        px, py = rng.uniform(x0 + 1, x1 - 1), rng.uniform(y0 + 1, y1 - 1)
        if b.is_free(px - 0.3, py - 0.3, px + 0.3, py + 0.3, margin=1.0):
            b.box(px - 0.25, py - 0.25, px + 0.25, py + 0.25, b.wall_height, PILLAR)
    return b.finish(
        {OUTER_WALL: TEX_BRICKS, RACK: TEX_SHELVES, BOX: TEX_GRAIN, PILLAR: TEX_PANELS},
        ceiling_height=b.wall_height,
    )
