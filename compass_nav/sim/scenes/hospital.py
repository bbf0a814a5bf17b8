"""Hospital ward (held-out family): a ring corridor round a core, patient rooms, beds, carts.

Registered with ``heldout=True``: no training stage samples it (see
:mod:`compass_nav.sim.scenes`), so it tests a policy on a structure and look it never met:
corridors that turn corners all the way round a central core (nurses' station and
storerooms), narrow doors into patient rooms along the outer wall, beds and carts, pale
walls. Layout ``v1`` has wider doors (1.2-1.6 m) and corridors (1.8-2.4 m) than ``v2``
(0.75-1.05 m doors, 1.6-2.1 m corridors).
"""

from __future__ import annotations

import numpy as np

from compass_nav.sim.scenes import register_family
from compass_nav.sim.scenes.base import (
    BED,
    CART,
    DOOR_FRAME,
    FURNITURE,
    INNER_WALL,
    OUTER_WALL,
    PILLAR,
    TEX_PANELS,
    TEX_PLAIN,
    Scene,
    SceneBuilder,
)


@register_family("hospital", heldout=True)
def generate(seed: int, layout: str = "v1") -> Scene:
    """Ring corridor round a core block, patient rooms on the outside with beds and carts."""
    v2 = layout == "v2"
    size = dict(width=(19, 23), depth=(15, 23)) if v2 else dict(width=(15, 21), depth=(13, 17))
    b = SceneBuilder.random_size("hospital", seed, wall_height=(2.6, 3.2), **size)
    rng = b.rng
    wall_h = b.wall_height
    x0, y0, x1, y1 = b.bounds
    t = rng.uniform(0.12, 0.2)
    corridor = rng.uniform(1.6, 2.1) if v2 else rng.uniform(1.8, 2.4)
    door = (0.75, 1.05) if v2 else (1.2, 1.6)
    room_d = rng.uniform(2.8, 3.8)  # depth of the patient rooms along the outer wall
    # Ring corridor: inner edge of the room band, outer edge of the core.
    r0x, r0y, r1x, r1y = x0 + room_d, y0 + room_d, x1 - room_d, y1 - room_d
    c0x, c0y, c1x, c1y = (
        r0x + corridor + t,
        r0y + corridor + t,
        r1x - corridor - t,
        r1y - corridor - t,
    )
    # Walls between the rooms and the corridor (outer ring) and round the core (inner ring).
    for ax, ay, bx, by in ((r0x - t, r0y - t, r1x + t, r1y + t), (c0x, c0y, c1x, c1y)):
        b.box(ax, ay, bx, ay + t, wall_h, INNER_WALL)
        b.box(ax, by - t, bx, by, wall_h, INNER_WALL)
        b.box(ax, ay, ax + t, by, wall_h, INNER_WALL)
        b.box(bx - t, ay, bx, by, wall_h, INNER_WALL)
    # Patient rooms along each side of the room band, each with a door onto the corridor.
    sides = (
        ("south", (x0, y0, x1, r0y - t)),
        ("north", (x0, r1y + t, x1, y1)),
        ("west", (x0, r0y, r0x - t, r1y)),
        ("east", (r1x + t, r0y, x1, r1y)),
    )
    for name, (ax, ay, bx, by) in sides:
        along_x = name in ("south", "north")
        a0, a1 = (ax, bx) if along_x else (ay, by)
        pos = a0
        while pos < a1 - 1.5:
            w = min(rng.uniform(3.0, 4.5), a1 - pos)
            end = pos + w
            if end < a1 - 0.5:  # partition between rooms
                if along_x:
                    b.box(end - t, ay, end, by, wall_h, INNER_WALL)
                else:
                    b.box(ax, end - t, bx, end, wall_h, INNER_WALL)
            dw = rng.uniform(*door)
            if w > dw + 0.9:
                d0 = rng.uniform(pos + 0.3, end - dw - 0.4)
                _door(b, name, d0, dw, (r0x, r0y, r1x, r1y), t, wall_h)
                _furnish_room(b, rng, name, (pos, end), (ax, ay, bx, by), (d0, d0 + dw))
            pos = end
    # The core: a nurses' station (a counter with an opening) and storerooms.
    cx0, cy0, cx1, cy1 = c0x + t, c0y + t, c1x - t, c1y - t
    if cx1 - cx0 > 3.0 and cy1 - cy0 > 2.0:
        dw = rng.uniform(*door)
        d0 = rng.uniform(cx0 + 0.4, cx1 - dw - 0.4)
        b.box(d0, c0y - 0.02, d0 + dw, c0y + t + 0.02, 0.0, 0)  # door into the core
        b.box(d0 - 0.08, c0y - 0.04, d0, c0y + t + 0.04, wall_h, DOOR_FRAME)
        b.box(d0 + dw, c0y - 0.04, d0 + dw + 0.08, c0y + t + 0.04, wall_h, DOOR_FRAME)
        ky = cy0 + rng.uniform(1.2, max(1.3, (cy1 - cy0) * 0.5))
        b.box(cx0 + 0.6, ky, cx1 - 0.6, ky + 0.5, 1.05, FURNITURE)  # counter
        for _ in range(int(rng.integers(0, 4))):
            px = rng.uniform(cx0 + 0.3, cx1 - 1.0)
            if b.is_free(px, cy1 - 0.6, px + 0.7, cy1 - 0.05, margin=0.05):
                b.box(px, cy1 - 0.6, px + 0.7, cy1 - 0.05, rng.uniform(1.5, 2.0), FURNITURE)
    # Carts and wheelchairs parked along the corridor walls, leaving it passable.
    for _ in range(int(rng.integers(2, 7))):
        side = int(rng.integers(4))
        cw, cd = rng.uniform(0.5, 0.9), rng.uniform(0.35, 0.5)
        if side < 2:
            px = rng.uniform(r0x + 0.5, r1x - 0.5 - cw)
            py = r0y + 0.02 if side == 0 else r1y - cd - 0.02
            box = (px, py, px + cw, py + cd)
        else:
            py = rng.uniform(r0y + 0.5, r1y - 0.5 - cw)
            px = r0x + 0.02 if side == 2 else r1x - cd - 0.02
            box = (px, py, px + cd, py + cw)
        if b.is_free(*box, margin=0.0) and corridor - cd > 1.0:
            b.box(*box, rng.uniform(0.9, 1.2), CART)
    # A few columns at the corridor corners.
    for cx, cy in ((r0x, r0y), (r1x, r0y), (r0x, r1y), (r1x, r1y)):
        if rng.random() < 0.3:
            b.box(cx - 0.2, cy - 0.2, cx + 0.2, cy + 0.2, wall_h, PILLAR)
    scene = b.finish(
        {OUTER_WALL: TEX_PLAIN, INNER_WALL: TEX_PLAIN, FURNITURE: TEX_PANELS, BED: TEX_PLAIN},
        ceiling_height=wall_h,
    )
    # Pale, clinical walls and a light floor: the look no training family has.
    look = np.random.default_rng([seed, 7])
    tint = look.uniform(0.78, 0.95, 3)
    tint[int(look.integers(3))] *= look.uniform(0.85, 0.95)  # pale green, blue or pink
    scene.palette[INNER_WALL] = tint
    scene.palette[OUTER_WALL] = np.clip(tint * look.uniform(0.9, 1.0), 0, 1)
    scene.palette[DOOR_FRAME] = look.uniform(0.35, 0.6, 3)
    scene.floor_colors[:] = look.uniform(0.7, 0.9) * np.array(
        [[1.0, 1.0, 1.0], [0.95, 0.95, 0.97]]
    )
    return scene


def _door(b: SceneBuilder, side: str, d0: float, dw: float, ring, t: float, h: float) -> None:
    """Cut a door of width ``dw`` at ``d0`` in the corridor wall of ``side``, with a frame."""
    r0x, r0y, r1x, r1y = ring
    if side in ("south", "north"):
        wy = r0y - t if side == "south" else r1y
        b.box(d0, wy - 0.02, d0 + dw, wy + t + 0.02, 0.0, 0)
        b.box(d0 - 0.08, wy - 0.03, d0, wy + t + 0.03, h, DOOR_FRAME)
        b.box(d0 + dw, wy - 0.03, d0 + dw + 0.08, wy + t + 0.03, h, DOOR_FRAME)
    else:
        wx = r0x - t if side == "west" else r1x
        b.box(wx - 0.02, d0, wx + t + 0.02, d0 + dw, 0.0, 0)
        b.box(wx - 0.03, d0 - 0.08, wx + t + 0.03, d0, h, DOOR_FRAME)
        b.box(wx - 0.03, d0 + dw, wx + t + 0.03, d0 + dw + 0.08, h, DOOR_FRAME)


def _furnish_room(b, rng, side, span, band, door) -> None:
    """A bed against the outer wall and sometimes a cabinet, clear of the door."""
    ax, ay, bx, by = band
    pos, end = span
    for _ in range(int(rng.integers(1, 3))):
        bw, bl = 0.95, rng.uniform(1.9, 2.1)
        c = rng.uniform(pos + 0.3, max(pos + 0.35, end - bw - 0.3))
        if door[0] - bw - 0.4 < c < door[1] + 0.4:
            continue
        if side == "south":
            box = (c, ay + 0.05, c + bw, ay + 0.05 + bl)
        elif side == "north":
            box = (c, by - 0.05 - bl, c + bw, by - 0.05)
        elif side == "west":
            box = (ax + 0.05, c, ax + 0.05 + bl, c + bw)
        else:
            box = (bx - 0.05 - bl, c, bx - 0.05, c + bw)
        if b.is_free(*box, margin=0.05):
            b.box(*box, rng.uniform(0.55, 0.7), BED)
