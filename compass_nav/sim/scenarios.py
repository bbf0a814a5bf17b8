"""Unmapped obstacles and route metadata of the stale-map scenarios (suite ``v2``).

:func:`add_unmapped_obstacles` is called by :class:`compass_nav.sim.env.NavVectorEnv` after it
planned an episode's route on the scene's static map: it stamps pallets, box stacks, carts,
standing people and *gates* (a row of boxes across an aisle or corridor that leaves one gap
1.15-1.6x the body's width, off the route) into a copy of the height grid, mostly on the planned
route, each with its own material so the camera sees what it is. It then plans on the true
map; when the body can no longer reach the goal (or only by a detour too long for the suite)
it takes the last obstacle out again, so every episode stays solvable on the true map.

:func:`route_metadata` computes the evaluation metadata the env reports when an episode
ends (never observed by a policy): whether the stale route is blocked, its length and its
tortuosity.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from scipy import ndimage

from compass_nav.contract.body import EmbodimentSpec
from compass_nav.contract.geometry import RESOLUTION
from compass_nav.planner import grid
from compass_nav.planner.cost import planner_cost
from compass_nav.sim.scenes.base import BOX, CART, PALLET, PERSON

#: Kinds of unmapped obstacle and how often each is drawn.
KINDS = ("pallet", "boxes", "cart", "person", "gate")
KIND_WEIGHTS = np.array([0.25, 0.15, 0.2, 0.2, 0.2])
#: Unmapped obstacles keep this far (m, beyond the body's circumscribed radius) from the
#: start and the goal, so that the body can always start and stop.
END_MARGIN = 0.35
#: Tries per obstacle (each a plan on the true map), and further spots along the route
#: tried when an obstacle could not be placed at its own.
TRIES = 4
SPARE_SPOTS = 4
#: Unmapped obstacles stay this far (m) beyond a body length from the route's tight spots.
DOOR_MARGIN_M = 0.6
#: Where the free width across the route is below the body's width plus this (m), a
#: corridor, most obstacles on the route are gates (anything else would close it).
NARROW_ROOM_M = 1.2
#: A detour may be at most this many times the stale route's length (and this many metres).
MAX_DETOUR_RATIO = 2.5
MAX_DETOUR_M = 45.0


@dataclasses.dataclass
class TrueMap:
    """The world as it really is in one episode.

    Attributes:
        height: (G, G) float32 obstacle heights incl. the unmapped obstacles, m.
        material: (G, G) uint8 material slots.
        clearance: (G, G) float32 m to the nearest obstacle surface.
        cost_to_go: (G, G) float64 planner cost-to-go to the goal on this map.
        added: (G, G) bool, the cells of the unmapped obstacles.
        count: Number of unmapped obstacles placed.
    """

    height: np.ndarray
    material: np.ndarray
    clearance: np.ndarray
    cost_to_go: np.ndarray
    added: np.ndarray
    count: int


def _stamp_rect(height, material, cx, cy, yaw, length, width, h, mat) -> np.ndarray:
    """Fill the cells whose centre lies in the rotated rectangle; returns their mask."""
    g = height.shape[0]
    r = 0.5 * math.hypot(length, width) + RESOLUTION
    i0, i1 = max(int((cy - r) / RESOLUTION), 0), min(int((cy + r) / RESOLUTION) + 1, g)
    j0, j1 = max(int((cx - r) / RESOLUTION), 0), min(int((cx + r) / RESOLUTION) + 1, g)
    mask = np.zeros(height.shape, bool)
    if i0 >= i1 or j0 >= j1:
        return mask
    ii, jj = np.mgrid[i0:i1, j0:j1]
    dx = (jj + 0.5) * RESOLUTION - cx
    dy = (ii + 0.5) * RESOLUTION - cy
    c, s = math.cos(yaw), math.sin(yaw)
    inside = (np.abs(c * dx + s * dy) <= 0.5 * length) & (np.abs(-s * dx + c * dy) <= 0.5 * width)
    inside &= height[i0:i1, j0:j1] == 0  # never overwrite the static map
    mask[i0:i1, j0:j1] = inside
    height[mask] = h
    material[mask] = mat
    return mask


def _stamp_disc(height, material, cx, cy, radius, h, mat) -> np.ndarray:
    """Fill the cells whose centre lies in the disc; returns their mask."""
    g = height.shape[0]
    i0, i1 = max(int((cy - radius) / RESOLUTION), 0), min(int((cy + radius) / RESOLUTION) + 1, g)
    j0, j1 = max(int((cx - radius) / RESOLUTION), 0), min(int((cx + radius) / RESOLUTION) + 1, g)
    mask = np.zeros(height.shape, bool)
    if i0 >= i1 or j0 >= j1:
        return mask
    ii, jj = np.mgrid[i0:i1, j0:j1]
    inside = ((jj + 0.5) * RESOLUTION - cx) ** 2 + ((ii + 0.5) * RESOLUTION - cy) ** 2 <= radius**2
    inside &= height[i0:i1, j0:j1] == 0
    mask[i0:i1, j0:j1] = inside
    height[mask] = h
    material[mask] = mat
    return mask


def _free_extent(height, x, y, nx, ny, limit=4.0) -> float:
    """Free distance from (x, y) along (nx, ny) on the height grid before an obstacle, m."""
    g = height.shape[0]
    d = 0.0
    while d < limit:
        d += 0.5 * RESOLUTION
        i, j = int((y + ny * d) / RESOLUTION), int((x + nx * d) / RESOLUTION)
        if i < 0 or j < 0 or i >= g or j >= g or height[i, j] > 0:
            return d - 0.5 * RESOLUTION
    return limit


def _snap(yaw: float, within: float = 0.35) -> float:
    """``yaw`` turned to the nearest multiple of 90 degrees when within ``within`` rad of it.

    Obstacles across a route that runs along a wall or aisle stand square to it, as real
    pallets and carts do; a slightly skewed one would be a jagged staircase of cells.
    """
    square = round(yaw / (math.pi / 2)) * (math.pi / 2)
    return square if abs(yaw - square) <= within else yaw


def _place(rng, kind, height, material, p, d, body: EmbodimentSpec, on_route: bool, fit: float):
    """Stamp one obstacle of ``kind`` at path point ``p`` with path direction ``d``.

    ``fit`` is the clearance the body's plan needs (m): a gate's gap is at least twice that
    plus a cell and a half, so that it survives the rasterisation and stays plannable.
    """
    nx, ny = -d[1], d[0]
    yaw = _snap(math.atan2(d[1], d[0]))
    side = rng.choice([-1.0, 1.0])
    shift = rng.uniform(-0.15, 0.15) if on_route else side * rng.uniform(0.9, 2.0)
    x, y = p[0] + nx * shift, p[1] + ny * shift
    if kind == "pallet":
        w = rng.uniform(0.8, 1.2)
        return _stamp_rect(
            height,
            material,
            x,
            y,
            yaw + rng.uniform(-0.3, 0.3),
            w,
            w,
            rng.uniform(0.15, 1.4),
            PALLET,
        )
    if kind == "boxes":
        w = rng.uniform(0.5, 0.9)
        return _stamp_rect(
            height,
            material,
            x,
            y,
            yaw + rng.uniform(-0.8, 0.8),
            w,
            w * rng.uniform(0.8, 1.3),
            rng.uniform(0.5, 1.6),
            BOX,
        )
    if kind == "cart":
        across = rng.random() < 0.6
        return _stamp_rect(
            height,
            material,
            x,
            y,
            yaw + (math.pi / 2 if across else 0.0) + rng.uniform(-0.2, 0.2),
            rng.uniform(0.9, 1.2),
            rng.uniform(0.55, 0.7),
            rng.uniform(0.9, 1.1),
            CART,
        )
    if kind == "person":
        return _stamp_disc(
            height, material, x, y, rng.uniform(0.22, 0.3), rng.uniform(1.55, 1.9), PERSON
        )
    # A gate: boxes across the aisle, one gap of 1.15-1.6 body widths off the route.
    left = _free_extent(height, p[0], p[1], nx, ny)
    right = _free_extent(height, p[0], p[1], -nx, -ny)
    gap = max(body.width * rng.uniform(1.15, 1.6), 2 * fit + 1.5 * RESOLUTION)
    room = left + right
    if room < gap + 0.3 or room > 7.5:
        return np.zeros(height.shape, bool)
    # Gap centre (m along the normal from p): far enough off the route that a body driving
    # along the route hits the barrier -- in a corridor, the gap is at one side.
    lo, hi = -right + 0.5 * gap, left - 0.5 * gap
    need = 0.5 * (gap - body.width) + 0.1
    off = [o for o in np.linspace(lo, hi, 16) if abs(o) >= need]
    if not off:
        return np.zeros(height.shape, bool)
    g_c = float(off[int(rng.integers(len(off)))])
    depth = rng.uniform(0.4, 0.7)
    h = rng.uniform(0.6, 1.5)
    mask = np.zeros(height.shape, bool)
    for a, b in ((-right - 0.2, g_c - 0.5 * gap), (g_c + 0.5 * gap, left + 0.2)):
        if b - a <= 0.05:
            continue
        m = 0.5 * (a + b)
        mask |= _stamp_rect(
            height,
            material,
            p[0] + nx * m,
            p[1] + ny * m,
            yaw,
            depth,
            b - a,
            h,
            PALLET if rng.random() < 0.5 else BOX,
        )
    return mask


def add_unmapped_obstacles(
    rng: np.random.Generator,
    height: np.ndarray,
    material: np.ndarray,
    stale_path: np.ndarray,
    start,
    goal,
    body: EmbodimentSpec,
    block_probability: float,
    fit: float,
) -> TrueMap | None:
    """Add obstacles that are not on the static map, mostly on the stale route.

    Args:
        rng: The env's random stream.
        height: (G, G) static map's obstacle heights, m (not modified).
        material: (G, G) static map's material slots (not modified).
        stale_path: (M, 2) world points of the route planned on the static map, start first.
        start: World (x, y) of the start.
        goal: World (x, y) of the goal.
        body: The body (its width sizes the gates, its radius the margins).
        block_probability: Chance that the obstacles go on the route (else beside it).
        fit: Clearance (m) the body needs; the true-map plan forbids cells with less.

    Returns:
        The true map, or None when no obstacle could be placed with the episode solvable.
    """
    path = np.asarray(stale_path, np.float64)
    if path.shape[0] < 4:
        return None
    seg = np.hypot(*np.diff(path, axis=0).T)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    total = float(s[-1])
    keep = max(1.5, body.circumscribed_radius + END_MARGIN + 1.0)
    if total < 2 * keep + 0.5:
        return None
    on_route = rng.random() < block_probability
    n_obj = int(rng.integers(1, 2 + min(2, int(total // 10))))
    h = height.copy()
    mat = material.copy()
    added = np.zeros(h.shape, bool)
    gi, gj = int(goal[1] / RESOLUTION), int(goal[0] / RESOLUTION)
    si, sj = int(start[1] / RESOLUTION), int(start[0] / RESOLUTION)
    need_end = body.circumscribed_radius + END_MARGIN
    ends = np.array([[start[0], start[1]], [goal[0], goal[1]]])
    # Unmapped obstacles spread over the route: one per stretch of the middle part.
    spots = list(np.sort(rng.uniform(keep, total - keep, n_obj)))
    spots += list(rng.uniform(keep, total - keep, SPARE_SPOTS))  # used while some failed
    limit = min(MAX_DETOUR_RATIO * total, MAX_DETOUR_M)
    # The route's tight spots on the static map (doors, gaps): no obstacle within a body
    # length of one, where a long body would have no room to turn into or out of it.
    static = _clearance(height)
    ii = np.clip((path[:, 1] / RESOLUTION).astype(int), 0, h.shape[0] - 1)
    jj = np.clip((path[:, 0] / RESOLUTION).astype(int), 0, h.shape[1] - 1)
    tight = path[static[ii, jj] < body.circumscribed_radius]
    keep_off = body.length + DOOR_MARGIN_M
    ctg = None
    count = 0
    for target in spots:
        if count >= n_obj:
            break
        q = int(np.searchsorted(s, target))
        q = min(max(q, 1), path.shape[0] - 2)
        if tight.size and np.hypot(*(tight - path[q]).T).min() < keep_off:
            continue
        d = path[q + 1] - path[q - 1]
        norm = math.hypot(d[0], d[1])
        if norm < 1e-9:
            continue
        d = d / norm
        nx, ny = -d[1], d[0]
        room = _free_extent(height, *path[q], nx, ny) + _free_extent(height, *path[q], -nx, -ny)
        for _try in range(TRIES):
            kind = KINDS[int(rng.choice(len(KINDS), p=KIND_WEIGHTS))]
            if on_route and room < body.width + NARROW_ROOM_M:
                kind = "gate"  # a corridor: anything else would close it
            trial_h, trial_m = h.copy(), mat.copy()
            mask = _place(rng, kind, trial_h, trial_m, path[q], d, body, on_route, fit)
            if not mask.any():
                continue
            cells = np.argwhere(mask)
            centres = (cells[:, ::-1] + 0.5) * RESOLUTION
            near = np.hypot(
                centres[:, None, 0] - ends[None, :, 0], centres[:, None, 1] - ends[None, :, 1]
            )
            if near.min() < need_end:
                continue
            clearance = _clearance(trial_h)
            cost = planner_cost(clearance, body, fit)
            trial_ctg = grid.dijkstra(cost, gi, gj)
            if trial_ctg[si, sj] >= grid.INF:
                continue
            true_path = grid.descend_path(trial_ctg, start[0], start[1], 8 * h.shape[0])
            if true_path.shape[0] < 2 or grid.path_length(true_path) > limit:
                continue
            h, mat, ctg = trial_h, trial_m, trial_ctg
            added |= mask
            count += 1
            break
    if count == 0:
        return None
    clearance = _clearance(h)
    return TrueMap(h, mat, clearance, ctg, added, count)


def _clearance(height: np.ndarray) -> np.ndarray:
    from compass_nav.sim.env import clearance_field

    return clearance_field(height > 0)


def route_metadata(
    stale_path: np.ndarray, start, goal, radius: float, added: np.ndarray | None
) -> tuple[bool, float, float]:
    """(route_blocked, route_length m, tortuosity) of an episode's stale route.

    ``route_blocked``: a disc of ``radius`` (the body's circumscribed radius) swept along the
    stale route touches an unmapped obstacle (the cells ``added``); always False without any.
    ``route_length``: the polyline's length (as the SPL reference of v1 episodes).
    ``tortuosity``: route length / straight start-goal distance (about 1 for a straight route).
    """
    path = np.asarray(stale_path, np.float64)
    length = float(grid.path_length(path)) if path.shape[0] > 1 else 0.0
    straight = float(np.hypot(goal[0] - start[0], goal[1] - start[1]))
    tortuosity = length / max(straight, 1e-6)
    blocked = False
    if added is not None and added.any() and path.shape[0]:
        dist = ndimage.distance_transform_edt(~added) * RESOLUTION - 0.5 * RESOLUTION
        blocked = bool(grid.min_clearance_along(dist.astype(np.float32), path) < radius)
    return blocked, length, tortuosity


#: Expansion budget of the car-like feasibility search at reset.
CAR_CHECK_EXPANSIONS = 40000
#: m added to a car-like body's length and width in that search: 3 cm each side, the room
#: every other body keeps in v2 (``SuiteSpec.fit_margin``).
CAR_FIT_INFLATE = 0.06


def car_drive_length(height, clearance, start, goal, body: EmbodimentSpec) -> float | None:
    """How far a car-like body (``min_turn_radius`` > 0) drives from ``start`` to ``goal``.

    A Hybrid-A* search (:func:`compass_nav.planner.hybrid.plan`) over forward and reverse arcs
    with the body's footprint grown by :data:`CAR_FIT_INFLATE` on the true map. A door the
    body's width fits through but its turning radius cannot reach is no passage for it: such
    episodes are resampled (None), so every v2 episode of a car-like body is drivable.

    Returns:
        The path's length in metres at the body's top forward speed: forward metres plus
        reverse metres times ``max_vx / |min_vx|`` (reversing is slower), or None where no
        path is found. The episode's time limit scales with it (:meth:`SuiteSpec.step_limit`).
    """
    from compass_nav.planner import hybrid

    path = hybrid.plan(
        (np.asarray(clearance) <= 0).astype(np.float32),
        clearance,
        start,
        goal,
        body.min_turn_radius,
        body.length,
        body.width,
        inflate=CAR_FIT_INFLATE,
        max_expansions=CAR_CHECK_EXPANSIONS,
    )
    if path is None:
        return None
    step = np.hypot(np.diff(path[:, 0]), np.diff(path[:, 1]))
    reverse = path[1:, 3] < 0
    slow = body.max_vx / max(-body.min_vx, 1e-3) if body.min_vx < 0 else 1.0
    return float(step[~reverse].sum() + slow * step[reverse].sum())


def car_can_drive(height, clearance, start, goal, body: EmbodimentSpec) -> bool:
    """Whether :func:`car_drive_length` finds a path."""
    return car_drive_length(height, clearance, start, goal, body) is not None
