"""Lattice A* for bodies that turn on the spot: straight moves and in-place turns in SE(2).

The teacher's grid route only proves that a disc of the body's half-width fits. A long
rectangle that turns about its centre swings its corners out by up to half its diagonal, so
the route can pass a gap the body cannot turn out of, or end at a goal pose it cannot turn
into, while a few shuffles (back a little, turn a little, forward) would do. This search finds
those shuffles, or proves on the lattice that there are none:

* **Motion primitives**: straight moves of :data:`MOVE` m forwards or in reverse, turns on
  the spot of one or three heading bins (:data:`HEADINGS` bins per turn), and for a body
  that moves sideways (``sideways``), sideways moves of :data:`MOVE` m.
* **Collision test**: the body's rectangle grown by ``inflate`` m in length and width, the
  simulator's own test (:func:`compass_nav.planner.footprint.footprint_collides`), every
  :data:`CHECK_STEP` m along a move and every :data:`CHECK_TURN` rad through a turn (the corners
  sweep an arc).
* **Cost**: metres driven (reverse weighted by :data:`W_REVERSE`), :data:`W_TURN` m per radian
  turned, :data:`W_SWITCH` per change of motion (a stop and a restart).
* **Heuristic**: the grid distance to the target through cells the half-width fits, weighted
  by :data:`H_WEIGHT`.
* **Goal**: within :data:`GOAL_DIST` m of the target point and ``heading_tolerance`` of its
  heading.

:func:`plan` returns the path as rows (x, y, yaw, kind), one row per primitive end. The
teacher's stall rescue drives such paths (:mod:`compass_nav.teacher.rescue`).
"""

from __future__ import annotations

import heapq
import math

import numba as nb
import numpy as np

from compass_nav.contract.geometry import RESOLUTION
from compass_nav.planner import grid
from compass_nav.planner.hybrid import _free, heuristic_grid

#: Length of a straight move, m; collision samples along it, m; through a turn, rad.
MOVE = 0.1
CHECK_STEP = 0.05
CHECK_TURN = 0.04
#: Closed-set resolution: position cell (m) and heading bins.
CELL = 0.05
HEADINGS = 64
#: Costs: reverse per metre (relative to forwards), metres per radian turned, per switch.
W_REVERSE = 1.5
W_TURN = 0.35
W_SWITCH = 0.4
#: Heuristic weight (> 1: greedier, faster).
H_WEIGHT = 1.2
#: Goal region: distance to the target point, m.
GOAL_DIST = 0.12
#: Default expansion budget.
MAX_EXPANSIONS = 60000


@nb.njit(cache=True)
def _bin(t):
    return int(((t % (2.0 * math.pi)) / (2.0 * math.pi)) * HEADINGS + 0.5) % HEADINGS


@nb.njit(cache=True)
def _move_ok(height, clearance, x, y, yaw, d, length, width, quick):
    n = int(round(MOVE / CHECK_STEP))
    c, s = math.cos(yaw), math.sin(yaw)
    for q in range(1, n + 1):
        f = d * MOVE * q / n
        if not _free(height, clearance, x + c * f, y + s * f, yaw, length, width, quick):
            return False
    return True


@nb.njit(cache=True)
def _side_ok(height, clearance, x, y, yaw, d, length, width, quick):
    n = int(round(MOVE / CHECK_STEP))
    c, s = math.cos(yaw), math.sin(yaw)
    for q in range(1, n + 1):
        f = d * MOVE * q / n
        if not _free(height, clearance, x - s * f, y + c * f, yaw, length, width, quick):
            return False
    return True


@nb.njit(cache=True)
def _turn_ok(height, clearance, x, y, yaw, dt, length, width, quick):
    n = max(int(math.ceil(abs(dt) / CHECK_TURN)), 1)
    for q in range(1, n + 1):
        if not _free(height, clearance, x, y, yaw + dt * q / n, length, width, quick):
            return False
    return True


@nb.njit(cache=True)
def _search(height, clearance, hgrid, x0, y0, yaw0, gx, gy, gyaw, htol, length, width,
            max_exp, sideways, weight):  # fmt: skip
    g = clearance.shape[0]
    res = RESOLUTION
    nbx = int(g * res / CELL) + 1
    best = np.full((nbx, nbx, HEADINGS), 1e18)
    cap = max_exp * 8 + 1
    nx = np.empty(cap)
    ny = np.empty(cap)
    nt = np.empty(cap)
    ng = np.empty(cap)
    nk = np.empty(cap, np.int64)
    parent = np.empty(cap, np.int64)
    quick = math.hypot(0.5 * length, 0.5 * width) + 0.08
    nx[0], ny[0], nt[0], ng[0], nk[0], parent[0] = x0, y0, yaw0, 0.0, 2, -1
    count = 1
    heap = [(0.0, 0)]
    expansions = 0
    dtheta = 2.0 * math.pi / HEADINGS
    while len(heap) > 0 and expansions < max_exp:
        _, i = heapq.heappop(heap)
        cx, cy, ct, cg = nx[i], ny[i], nt[i], ng[i]
        herr = abs((gyaw - ct + math.pi) % (2.0 * math.pi) - math.pi)
        if math.hypot(gx - cx, gy - cy) < GOAL_DIST and herr <= htol:
            return i, nx[:count], ny[:count], nt[:count], nk[:count], parent[:count]
        expansions += 1
        for m in range(8 if sideways else 6):
            if m >= 6:
                kind = 2 if m == 6 else -2
                d = 1 if m == 6 else -1
                if not _side_ok(height, clearance, cx, cy, ct, d, length, width, quick):
                    continue
                x2 = cx - d * MOVE * math.sin(ct)
                y2 = cy + d * MOVE * math.cos(ct)
                t2 = ct
                step = MOVE * W_REVERSE
            elif m < 2:
                kind = 1 if m == 0 else -1
                if not _move_ok(height, clearance, cx, cy, ct, kind, length, width, quick):
                    continue
                x2 = cx + kind * MOVE * math.cos(ct)
                y2 = cy + kind * MOVE * math.sin(ct)
                t2 = ct
                step = MOVE * (1.0 if kind > 0 else W_REVERSE)
            else:
                kind = 0
                bins = 1 if m < 4 else 3
                sgn = 1.0 if m % 2 == 0 else -1.0
                dt = sgn * bins * dtheta
                if not _turn_ok(height, clearance, cx, cy, ct, dt, length, width, quick):
                    continue
                x2, y2 = cx, cy
                t2 = (ct + dt + math.pi) % (2.0 * math.pi) - math.pi
                step = W_TURN * abs(dt)
            g2 = cg + step
            if nk[i] != 2 and nk[i] != kind:
                g2 += W_SWITCH
            bx = int(x2 / CELL)
            by = int(y2 / CELL)
            if bx < 0 or by < 0 or bx >= nbx or by >= nbx:
                continue
            bt = _bin(t2)
            if g2 >= best[by, bx, bt] or count >= cap:
                continue
            hi = int(math.floor(y2 / res))
            hj = int(math.floor(x2 / res))
            if hi < 0 or hj < 0 or hi >= g or hj >= g:
                continue
            hd = hgrid[hi, hj]
            if hd >= grid.INF:
                hd = math.hypot(gx - x2, gy - y2) + 5.0
            best[by, bx, bt] = g2
            nx[count], ny[count], nt[count], ng[count] = x2, y2, t2, g2
            nk[count], parent[count] = kind, i
            herr2 = abs((gyaw - t2 + math.pi) % (2.0 * math.pi) - math.pi)
            h = max(hd, math.hypot(gx - x2, gy - y2)) + W_TURN * max(herr2 - htol, 0.0)
            heapq.heappush(heap, (g2 + weight * h, count))
            count += 1
    return -1, nx[:count], ny[:count], nt[:count], nk[:count], parent[:count]


def plan(
    height: np.ndarray,
    clearance: np.ndarray,
    start,
    goal,
    length: float,
    width: float,
    heading_tolerance: float,
    inflate: float = 0.03,
    max_expansions: int = MAX_EXPANSIONS,
    hgrid: np.ndarray | None = None,
    sideways: bool = False,
    weight: float = H_WEIGHT,
) -> np.ndarray | None:
    """Straight-and-turn path from ``start`` to ``goal`` (world x, y, yaw), or None.

    Args:
        height: (G, G) obstacle heights (the true map).
        clearance: (G, G) m from each cell to the nearest obstacle.
        start: Start pose (x, y, yaw).
        goal: Target pose (x, y, yaw).
        length: Footprint length, m.
        width: Footprint width, m.
        heading_tolerance: Largest heading error accepted at the target, rad.
        inflate: Added to length and width for the collision test, m.
        max_expansions: Search budget (nodes expanded).
        hgrid: The heuristic grid (:func:`compass_nav.planner.hybrid.heuristic_grid`).
        sideways: The body also moves sideways (a holonomic base).
        weight: Heuristic weight (greedier above :data:`H_WEIGHT`: faster, longer paths).

    Returns:
        (P, 4) rows (x, y, yaw, kind), the start first; kind +1 forwards, -1 reverse, 0 a
        turn on the spot, +2 / -2 sideways left / right (the start row's kind is 0). None
        when no path is found.
    """
    if hgrid is None:
        hgrid = heuristic_grid(clearance, goal, 0.5 * width)
    end, nx, ny, nt, nk, parent = _search(
        np.asarray(height, np.float32),
        np.asarray(clearance, np.float32),
        hgrid,
        float(start[0]),
        float(start[1]),
        float(start[2]),
        float(goal[0]),
        float(goal[1]),
        float(goal[2]),
        float(heading_tolerance),
        float(length + inflate),
        float(width + inflate),
        int(max_expansions),
        bool(sideways),
        float(weight),
    )
    if end < 0:
        return None
    chain = []
    i = end
    while i >= 0:
        chain.append(i)
        i = parent[i]
    chain.reverse()
    out = np.empty((len(chain), 4))
    for r, i in enumerate(chain):
        out[r] = nx[i], ny[i], nt[i], (0 if r == 0 else nk[i])
    return out
