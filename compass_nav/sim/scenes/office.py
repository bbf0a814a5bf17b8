"""Office family: a corridor with rooms on both sides, doors, and furniture."""

from __future__ import annotations

from compass_nav.sim.scenes import register_family
from compass_nav.sim.scenes.base import (
    DOOR_FRAME,
    FURNITURE,
    INNER_WALL,
    OUTER_WALL,
    TEX_GRAIN,
    TEX_PANELS,
    TEX_PLAIN,
    Scene,
    SceneBuilder,
)


@register_family("office")
def generate(seed: int, layout: str = "v1") -> Scene:
    """Rooms of 3-6 m along one corridor, each with a wide door; desks and cabinets inside.

    Layout ``v2``: a larger floor (19-23 x 14-21 m), a narrower corridor (1.6-2.2 m), narrow
    doors (0.75-1.05 m) and more furniture.
    """
    v2 = layout == "v2"
    size = dict(width=(19, 23), depth=(14, 21)) if v2 else dict(width=(14, 20), depth=(11, 15))
    b = SceneBuilder.random_size("office", seed, wall_height=(2.5, 3.2), **size)
    wall_h = b.wall_height
    rng = b.rng
    x0, y0, x1, y1 = b.bounds
    t = rng.uniform(0.1, 0.2)  # wall thickness
    corridor = rng.uniform(1.6, 2.2) if v2 else rng.uniform(2.0, 2.8)
    cy = y0 + b.depth / 2 + rng.uniform(-1.0, 1.0)
    c0, c1 = cy - corridor / 2, cy + corridor / 2
    for side, (ya, yb) in enumerate(((y0, c0), (c1, y1))):
        wall_y = c0 - t if side == 0 else c1
        # Corridor-side wall, split into rooms.
        x = x0
        while x < x1 - 1.0:
            room_w = min(rng.uniform(3.0, 6.0), x1 - x)
            xe = x + room_w
            b.box(x, wall_y, xe, wall_y + t, wall_h, INNER_WALL)
            if xe < x1 - 0.5:
                b.box(xe - t, ya, xe, yb, wall_h, INNER_WALL)  # partition
            # A door onto the corridor (wide enough for every registered body).
            dw = rng.uniform(0.75, 1.05) if v2 else rng.uniform(1.5, 1.9)
            if room_w > dw + 0.8:
                dx = rng.uniform(x + 0.3, xe - dw - 0.3)
                b.box(dx, wall_y, dx + dw, wall_y + t, 0.0, 0)
                b.box(dx - 0.08, wall_y - 0.02, dx, wall_y + t + 0.02, wall_h, DOOR_FRAME)
                b.box(
                    dx + dw, wall_y - 0.02, dx + dw + 0.08, wall_y + t + 0.02, wall_h, DOOR_FRAME
                )
            # Sometimes a door between neighbouring rooms.
            if xe < x1 - 0.5 and rng.random() < 0.4 and (yb - ya) > 2.6:
                dy = rng.uniform(ya + 0.3, yb - 1.9)
                b.box(xe - t, dy, xe, dy + (rng.uniform(0.75, 1.05) if v2 else 1.6), 0.0, 0)
            # Furniture against the room's back wall, away from the door band.
            back = ya if side == 0 else yb
            for _ in range(int(rng.integers(0, 5 if v2 else 3))):
                fw, fd = rng.uniform(0.8, 1.6), rng.uniform(0.5, 0.8)
                fx = rng.uniform(x + 0.2, max(x + 0.3, xe - fw - 0.3))
                fy = back + 0.05 if side == 0 else back - fd - 0.05
                if b.is_free(fx, fy, fx + fw, fy + fd, margin=0.05):
                    b.box(fx, fy, fx + fw, fy + fd, rng.choice([0.75, 1.1, 1.8]), FURNITURE)
            x = xe
    # A few plants / bins in the corridor, leaving it passable.
    for _ in range(int(rng.integers(0, 3))):
        px = rng.uniform(x0 + 1, x1 - 1)
        py = c0 + 0.3 if rng.random() < 0.5 else c1 - 0.3
        b.cylinder(px, py, 0.2, rng.uniform(0.5, 1.2), FURNITURE)
    return b.finish(
        {
            OUTER_WALL: TEX_PLAIN,
            INNER_WALL: TEX_PANELS,
            FURNITURE: TEX_GRAIN,
            DOOR_FRAME: TEX_PLAIN,
        },
        ceiling_height=wall_h,
    )
