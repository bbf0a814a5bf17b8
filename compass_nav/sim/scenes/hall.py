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
def generate(seed: int, layout: str = "v1") -> Scene:
    """Open hall with 8-25 obstacles of mixed size and height.

    Layout ``v2``: a larger hall (19-23 x 15-23 m) split by 1-2 partitions, each with 1-3
    narrow openings (0.75-1.1 m), and 15-35 obstacles.
    """
    v2 = layout == "v2"
    size = dict(width=(19, 23), depth=(15, 23)) if v2 else dict(width=(13, 21), depth=(11, 17))
    b = SceneBuilder.random_size("hall", seed, wall_height=(4, 8), **size)
    rng = b.rng
    x0, y0, x1, y1 = b.bounds
    if v2:
        _partitions(b)
    n = int(rng.integers(15, 36)) if v2 else int(rng.integers(8, 26))
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


def _partitions(b: SceneBuilder) -> None:
    """1-2 partition walls across the hall, each with 1-3 narrow openings."""
    rng = b.rng
    x0, y0, x1, y1 = b.bounds
    along_x = rng.random() < 0.5  # partitions parallel to x split the hall in y
    lo, hi = (y0, y1) if along_x else (x0, x1)
    a0, a1 = (x0, x1) if along_x else (y0, y1)
    n_walls = int(rng.integers(1, 3))
    for k in range(n_walls):
        pos = lo + (hi - lo) * (k + 1) / (n_walls + 1) + rng.uniform(-1.0, 1.0)
        t = rng.uniform(0.15, 0.3)
        h = rng.uniform(1.2, 2.6)
        if along_x:
            b.box(a0, pos, a1, pos + t, h, INNER_WALL)
        else:
            b.box(pos, a0, pos + t, a1, h, INNER_WALL)
        for _ in range(int(rng.integers(1, 4))):
            gap = rng.uniform(0.75, 1.1)
            g0 = rng.uniform(a0 + 0.4, a1 - 0.4 - gap)
            if along_x:
                b.box(g0, pos, g0 + gap, pos + t, 0.0, 0)
            else:
                b.box(pos, g0, pos + t, g0 + gap, 0.0, 0)
