"""Cluttered open hall: boxes, cylinders and partial walls scattered over a large floor."""

from __future__ import annotations

from compass_nav.sim.scenes import register_family
from compass_nav.sim.scenes.base import (
    BOX,
    FURNITURE,
    INNER_WALL,
    OUTER_WALL,
    PILLAR,
    TEX_BRICKS,
    TEX_GRAIN,
    TEX_PANELS,
    Scene,
    SceneBuilder,
)


@register_family("hall")
def generate(seed: int) -> Scene:
    """Open hall with 8-25 obstacles of mixed size and height."""
    b = SceneBuilder.random_size("hall", seed, width=(13, 21), depth=(11, 17), wall_height=(4, 8))
    rng = b.rng
    x0, y0, x1, y1 = b.bounds
    n = int(rng.integers(8, 26))
    for _ in range(n):
        kind = rng.random()
        px, py = rng.uniform(x0 + 0.8, x1 - 0.8), rng.uniform(y0 + 0.8, y1 - 0.8)
        if kind < 0.45:
            w, d = rng.uniform(0.3, 2.0), rng.uniform(0.3, 2.0)
            if b.is_free(px, py, px + w, py + d, margin=1.0):
                b.box(px, py, px + w, py + d, rng.uniform(0.3, 2.5), BOX)
        elif kind < 0.75:
            r = rng.uniform(0.15, 0.5)
            if b.is_free(px - r, py - r, px + r, py + r, margin=1.0):
                b.cylinder(px, py, r, rng.uniform(1.0, 4.0), PILLAR)
        elif kind < 0.9:
            length = rng.uniform(1.5, 4.0)
            horiz = rng.random() < 0.5
            w, d = (length, 0.15) if horiz else (0.15, length)
            if b.is_free(px, py, px + w, py + d, margin=1.2):
                b.box(px, py, px + w, py + d, rng.uniform(1.0, 2.5), INNER_WALL)
        else:
            w, d = rng.uniform(0.8, 1.8), rng.uniform(0.5, 1.0)
            if b.is_free(px, py, px + w, py + d, margin=1.0):
                b.box(px, py, px + w, py + d, rng.uniform(0.4, 0.9), FURNITURE)
    return b.finish(
        {
            OUTER_WALL: TEX_BRICKS,
            BOX: TEX_GRAIN,
            PILLAR: TEX_PANELS,
            INNER_WALL: TEX_PANELS,
            FURNITURE: TEX_GRAIN,
        },
        ceiling_height=b.wall_height,
    )
