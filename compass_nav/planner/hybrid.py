"""Hybrid-A* for car-like bodies: collision-free forward/reverse arc paths to a goal pose.

A body with a minimum turning radius (``EmbodimentSpec.min_turn_radius`` > 0, an Ackermann
base) cannot follow a grid path that turns on the spot; in a door barely wider than the body
it must also arrive aligned. This search works in (x, y, heading):

* **Motion primitives**: arcs of :data:`ARC` m at :data:`N_CURV` curvatures in
  ``[-1/r_min, 1/r_min]``, driven forwards or in reverse. A metre in reverse costs
  :data:`W_REVERSE`, a change of direction :data:`W_SWITCH` (a cusp is a stop and a restart).
* **Collision test**: the body's exact rectangle, grown by ``inflate`` m in length and width,
  on the height grid (:func:`compass_nav.planner.footprint.footprint_collides`, the simulator's own
  test) every :data:`CHECK_STEP` m along an arc; where the clearance at the centre exceeds the
  grown rectangle's circumscribed radius no test is needed.
* **Closed set**: cells of :data:`CELL` m x :data:`HEADINGS` heading bins keep the cheapest
  arrival.
* **Heuristic**: the shortest grid distance to the goal through cells the body's half-width
  fits (a Dijkstra from the goal, obstacles included) plus a term for the heading error near
  the goal, weighted by :data:`H_WEIGHT` (a slightly greedy, fast search).
* **Goal**: a node within :data:`GOAL_DIST` m and :data:`GOAL_HEADING` rad of the goal pose,
  or, the usual Hybrid-A* analytic expansion, a collision-free Dubins path (forwards, or near
  the goal in reverse) from a node within :data:`SHOT_RADIUS` m onto the goal pose.

:func:`plan` returns the path sampled every :data:`STEP` m (:data:`CHECK_STEP` m along the
final analytic shot) as rows (x, y, yaw, direction),
direction +1 forwards, -1 in reverse. Used by the teacher's car tracker
(:mod:`compass_nav.teacher.car`) and by the v2 episode sampler, which only keeps episodes a
car-like body can actually drive (:mod:`compass_nav.sim.env`).
"""

from __future__ import annotations

import heapq
import math

import numba as nb
import numpy as np

from compass_nav.contract.geometry import RESOLUTION
from compass_nav.planner import grid
from compass_nav.planner.footprint import footprint_collides

#: Arc length of one primitive, m; spacing of the returned path's samples and of the
#: collision samples along arcs, m (a corner swinging past a door jamb can touch it between
#: samples 10 cm apart).
ARC = 0.3
STEP = 0.1
CHECK_STEP = 0.05
#: Curvature samples across [-1/r_min, 1/r_min] (odd: includes straight).
N_CURV = 7
#: Closed-set resolution: position cell (m) and heading bins.
CELL = 0.15
HEADINGS = 72
#: Cost of a metre in reverse (per metre) and of a change of direction (m).
W_REVERSE = 2.0
W_SWITCH = 4.0
#: Cost of a change of curvature between successive arcs, per unit of 1/r_min.
W_STEER = 0.3
#: Heuristic weight (> 1: greedier, faster, paths a little longer).
H_WEIGHT = 1.6
#: Goal region: position (m) and heading (rad) tolerance of the final node.
GOAL_DIST = 0.2
GOAL_HEADING = 0.05
#: Analytic expansion: nodes within this distance of the goal (m) try a Dubins shot onto
#: the goal pose, every SHOT_EVERY expansions (reverse shots within half the distance).
SHOT_RADIUS = 6.0
SHOT_EVERY = 5
#: Default expansion budget.
MAX_EXPANSIONS = 250000


@nb.njit(cache=True)
def _free(height, clearance, x, y, yaw, length, width, quick):
    g = clearance.shape[0]
    i = int(math.floor(y / RESOLUTION))
    j = int(math.floor(x / RESOLUTION))
    if i < 0 or j < 0 or i >= g or j >= g:
        return False
    if clearance[i, j] >= quick:
        return True
    # Discs along the body axis that cover the rectangle: each with that much clearance at
    # its centre proves the footprint free without the exact test.
    k = int(math.ceil(length / width)) + 1
    r = math.sqrt((0.5 * width) ** 2 + (0.5 * length / k) ** 2) + 0.075
    c, s = math.cos(yaw), math.sin(yaw)
    covered = True
    for q in range(k):
        off = -0.5 * length + length * (q + 0.5) / k
        di = int(math.floor((y + s * off) / RESOLUTION))
        dj = int(math.floor((x + c * off) / RESOLUTION))
        if di < 0 or dj < 0 or di >= g or dj >= g or clearance[di, dj] < r:
            covered = False
            break
    if covered:
        return True
    return not footprint_collides(height, x, y, yaw, length, width)


@nb.njit(cache=True)
def _arc_end(height, clearance, x, y, yaw, d, kappa, length, width, quick):
    """End pose of one primitive; ok=False where a sample along it collides."""
    n = int(round(ARC / CHECK_STEP))
    ds = ARC / n
    for _ in range(n):
        if abs(kappa) < 1e-9:
            x += d * ds * math.cos(yaw)
            y += d * ds * math.sin(yaw)
        else:
            nyaw = yaw + d * ds * kappa
            x += (math.sin(nyaw) - math.sin(yaw)) / kappa
            y += -(math.cos(nyaw) - math.cos(yaw)) / kappa
            yaw = nyaw
        if not _free(height, clearance, x, y, yaw, length, width, quick):
            return x, y, yaw, False
    return x, y, yaw, True


# ------------------------------------------------------------------ Dubins shots
_TWO_PI = 2.0 * math.pi


@nb.njit(cache=True)
def _mod2pi(a):
    return a - _TWO_PI * math.floor(a / _TWO_PI)


@nb.njit(cache=True)
def _dubins_words(alpha, beta, d):
    """(6, 4) rows (t, p, q, ok) of the words LSL, RSR, LSR, RSL, RLR, LRL (unit radius)."""
    out = np.zeros((6, 4))
    sa, sb, ca, cb = math.sin(alpha), math.sin(beta), math.cos(alpha), math.cos(beta)
    cab = math.cos(alpha - beta)
    # LSL
    p2 = 2.0 + d * d - 2.0 * cab + 2.0 * d * (sa - sb)
    if p2 >= 0:
        tmp = math.atan2(cb - ca, d + sa - sb)
        out[0] = (_mod2pi(-alpha + tmp), math.sqrt(p2), _mod2pi(beta - tmp), 1.0)
    # RSR
    p2 = 2.0 + d * d - 2.0 * cab + 2.0 * d * (sb - sa)
    if p2 >= 0:
        tmp = math.atan2(ca - cb, d - sa + sb)
        out[1] = (_mod2pi(alpha - tmp), math.sqrt(p2), _mod2pi(-beta + tmp), 1.0)
    # LSR
    p2 = -2.0 + d * d + 2.0 * cab + 2.0 * d * (sa + sb)
    if p2 >= 0:
        p = math.sqrt(p2)
        tmp = math.atan2(-ca - cb, d + sa + sb) - math.atan2(-2.0, p)
        out[2] = (_mod2pi(-alpha + tmp), p, _mod2pi(-_mod2pi(beta) + tmp), 1.0)
    # RSL
    p2 = d * d - 2.0 + 2.0 * cab - 2.0 * d * (sa + sb)
    if p2 >= 0:
        p = math.sqrt(p2)
        tmp = math.atan2(ca + cb, d - sa - sb) - math.atan2(2.0, p)
        out[3] = (_mod2pi(alpha - tmp), p, _mod2pi(beta - tmp), 1.0)
    # RLR
    tmp = (6.0 - d * d + 2.0 * cab + 2.0 * d * (sa - sb)) / 8.0
    if abs(tmp) <= 1.0:
        p = _mod2pi(_TWO_PI - math.acos(tmp))
        t = _mod2pi(alpha - math.atan2(ca - cb, d - sa + sb) + p / 2.0)
        out[4] = (t, p, _mod2pi(alpha - beta - t + p), 1.0)
    # LRL
    tmp = (6.0 - d * d + 2.0 * cab + 2.0 * d * (-sa + sb)) / 8.0
    if abs(tmp) <= 1.0:
        p = _mod2pi(_TWO_PI - math.acos(tmp))
        t = _mod2pi(-alpha - math.atan2(ca - cb, d + sa - sb) + p / 2.0)
        out[5] = (t, p, _mod2pi(beta - alpha - t + p), 1.0)
    return out


#: Turn direction (+1 left, 0 straight, -1 right) of each word's three segments.
_WORD_TURNS = np.array(
    [[1, 0, 1], [-1, 0, -1], [1, 0, -1], [-1, 0, 1], [-1, 1, -1], [1, -1, 1]], np.float64
)


@nb.njit(cache=True)
def _shot(height, clearance, x, y, yaw, gx, gy, gyaw, r, d, length, width, quick, buf):
    """A collision-free Dubins path to the goal, driven in direction ``d`` (+-1).

    Reverse driving is forward driving of the pose turned by pi. Writes samples (x, y, yaw)
    every CHECK_STEP m into ``buf``; returns how many (0: no free word, or too long for buf).
    """
    hx, hy = x, y
    h0 = yaw if d > 0 else yaw + math.pi
    h1 = gyaw if d > 0 else gyaw + math.pi
    dx, dy = gx - hx, gy - hy
    dist = math.hypot(dx, dy) / r
    phi = math.atan2(dy, dx)
    words = _dubins_words(_mod2pi(h0 - phi), _mod2pi(h1 - phi), dist)
    order = np.argsort(words[:, 0] + words[:, 1] + words[:, 2] + (1.0 - words[:, 3]) * 1e9)
    for w in order:
        if words[w, 3] < 0.5:
            continue
        total = (words[w, 0] + words[w, 1] + words[w, 2]) * r
        n = int(math.ceil(total / CHECK_STEP))
        if n + 1 > buf.shape[0]:
            continue
        px, py, ph = hx, hy, h0
        ok = True
        k = 0
        for seg in range(3):
            seg_len = words[w, seg] * r
            turn = _WORD_TURNS[w, seg]
            m = int(math.ceil(seg_len / CHECK_STEP - 1e-9))
            if m == 0:
                continue
            ds = seg_len / m
            for _ in range(m):
                if turn == 0.0:
                    px += ds * math.cos(ph)
                    py += ds * math.sin(ph)
                else:
                    nh = ph + turn * ds / r
                    px += turn * r * (math.sin(nh) - math.sin(ph))
                    py += -turn * r * (math.cos(nh) - math.cos(ph))
                    ph = nh
                body_yaw = ph if d > 0 else ph - math.pi
                if not _free(height, clearance, px, py, body_yaw, length, width, quick):
                    ok = False
                    break
                buf[k, 0], buf[k, 1], buf[k, 2] = px, py, body_yaw
                k += 1
            if not ok:
                break
        if not ok:
            continue
        # The formulas are checked by where the integrated path ends.
        herr = abs((h1 - ph + math.pi) % _TWO_PI - math.pi)
        if math.hypot(px - gx, py - gy) > 0.05 or herr > 0.02:
            continue
        return k
    return 0


@nb.njit(cache=True)
def _search(height, clearance, hgrid, x0, y0, yaw0, gx, gy, gyaw, rmin, length, width,
            max_exp):  # fmt: skip
    g = clearance.shape[0]
    nbx = int(g * RESOLUTION / CELL) + 1
    best = np.full((nbx, nbx, HEADINGS), 1e18)
    cap = max_exp * 2 * N_CURV + 1
    nx = np.empty(cap)
    ny = np.empty(cap)
    nt = np.empty(cap)
    ng = np.empty(cap)
    nd = np.empty(cap, np.int64)
    nk = np.empty(cap)
    parent = np.empty(cap, np.int64)
    kmax = 1.0 / rmin
    quick = math.hypot(0.5 * length, 0.5 * width) + 0.08
    nx[0], ny[0], nt[0], ng[0], nd[0], nk[0], parent[0] = x0, y0, yaw0, 0.0, 0, 0.0, -1
    count = 1
    heap = [(0.0, 0)]
    expansions = 0
    shot = np.empty((int(SHOT_RADIUS * 8 / CHECK_STEP) + 8, 3))
    while len(heap) > 0 and expansions < max_exp:
        _, i = heapq.heappop(heap)
        cx, cy, ct, cg = nx[i], ny[i], nt[i], ng[i]
        herr = abs((gyaw - ct + math.pi) % (2.0 * math.pi) - math.pi)
        if math.hypot(gx - cx, gy - cy) < GOAL_DIST and herr < GOAL_HEADING:
            return (i, nx[:count], ny[:count], nt[:count], nd[:count], nk[:count],
                    parent[:count], shot[:0], 0)  # fmt: skip
        dist_now = math.hypot(gx - cx, gy - cy)
        if dist_now < SHOT_RADIUS and expansions % SHOT_EVERY == 0:
            # Analytic expansion: a Dubins path straight onto the goal pose, forwards or in
            # reverse (the lattice's headings rarely hit the goal heading exactly).
            for sd in (1, -1):
                if sd < 0 and dist_now > 0.5 * SHOT_RADIUS:
                    continue
                m = _shot(height, clearance, cx, cy, ct, gx, gy, gyaw, rmin, sd, length,
                          width, quick, shot)  # fmt: skip
                if m > 0:
                    return (i, nx[:count], ny[:count], nt[:count], nd[:count], nk[:count],
                            parent[:count], shot[:m], sd)  # fmt: skip
        expansions += 1
        for dd in range(2):
            d = 1 if dd == 0 else -1
            for ik in range(N_CURV):
                k = -kmax + 2.0 * kmax * ik / (N_CURV - 1)
                x2, y2, t2, ok = _arc_end(height, clearance, cx, cy, ct, d, k, length, width,
                                          quick)  # fmt: skip
                if not ok:
                    continue
                bx = int(x2 / CELL)
                by = int(y2 / CELL)
                if bx < 0 or by < 0 or bx >= nbx or by >= nbx:
                    continue
                bt = int(((t2 % (2.0 * math.pi)) / (2.0 * math.pi)) * HEADINGS) % HEADINGS
                g2 = cg + ARC * (W_REVERSE if d < 0 else 1.0)
                if nd[i] != 0 and nd[i] != d:
                    g2 += W_SWITCH
                g2 += W_STEER * abs(k - nk[i]) * rmin
                if g2 >= best[by, bx, bt] or count >= cap:
                    continue
                hi = int(math.floor(y2 / RESOLUTION))
                hj = int(math.floor(x2 / RESOLUTION))
                if hi < 0 or hj < 0 or hi >= g or hj >= g:
                    continue
                hd = hgrid[hi, hj]
                if hd >= grid.INF:
                    continue
                best[by, bx, bt] = g2
                nx[count], ny[count], nt[count], ng[count] = x2, y2, t2, g2
                nd[count], nk[count], parent[count] = d, k, i
                dist = math.hypot(gx - x2, gy - y2)
                herr2 = abs((gyaw - t2 + math.pi) % (2.0 * math.pi) - math.pi)
                h = max(hd, dist)
                if dist < 3.0 * rmin:
                    h += rmin * herr2 * (1.0 - dist / (3.0 * rmin))
                heapq.heappush(heap, (g2 + H_WEIGHT * h, count))
                count += 1
    return (-1, nx[:count], ny[:count], nt[:count], nd[:count], nk[:count], parent[:count],
            shot[:0], 0)  # fmt: skip


@nb.njit(cache=True)
def _densify(end, nx, ny, nt, nd, nk, parent, shot, shot_d):
    """Path rows (x, y, yaw, direction) from the start node to node ``end``, then the shot.

    Every STEP m along the arcs, then along the analytic shot (``shot_d`` != 0).
    """
    chain = []
    i = end
    while i > 0:
        chain.append(i)
        i = parent[i]
    n_sub = int(round(ARC / STEP))
    out = np.empty((len(chain) * n_sub + 1 + shot.shape[0], 4))
    out[0, 0], out[0, 1], out[0, 2] = nx[0], ny[0], nt[0]
    out[0, 3] = nd[chain[-1]] if len(chain) else (shot_d if shot_d != 0 else 1)
    r = 1
    for q in range(len(chain) - 1, -1, -1):
        i = chain[q]
        p = parent[i]
        x, y, yaw, d, k = nx[p], ny[p], nt[p], nd[i], nk[i]
        ds = ARC / n_sub
        for _ in range(n_sub):
            if abs(k) < 1e-9:
                x += d * ds * math.cos(yaw)
                y += d * ds * math.sin(yaw)
            else:
                nyaw = yaw + d * ds * k
                x += (math.sin(nyaw) - math.sin(yaw)) / k
                y += -(math.cos(nyaw) - math.cos(yaw)) / k
                yaw = nyaw
            out[r, 0], out[r, 1], out[r, 2], out[r, 3] = x, y, yaw, d
            r += 1
    for q in range(shot.shape[0]):
        out[r, 0], out[r, 1], out[r, 2], out[r, 3] = shot[q, 0], shot[q, 1], shot[q, 2], shot_d
        r += 1
    return out[:r]


def heuristic_grid(clearance: np.ndarray, goal, half_width: float) -> np.ndarray:
    """Grid distance (m) to ``goal`` through cells at least ``half_width`` from obstacles."""
    cost = np.where(np.asarray(clearance, np.float64) >= half_width, 1.0, grid.INF)
    gi = min(max(int(goal[1] / RESOLUTION), 0), clearance.shape[0] - 1)
    gj = min(max(int(goal[0] / RESOLUTION), 0), clearance.shape[1] - 1)
    cost[gi, gj] = 1.0
    return grid.dijkstra(cost, gi, gj)


def plan(
    height: np.ndarray,
    clearance: np.ndarray,
    start,
    goal,
    min_turn_radius: float,
    length: float,
    width: float,
    inflate: float = 0.04,
    max_expansions: int = MAX_EXPANSIONS,
    hgrid: np.ndarray | None = None,
) -> np.ndarray | None:
    """Arc path from ``start`` to ``goal`` (world x, y, yaw), or None when none is found.

    Args:
        height: (G, G) obstacle heights (the true map).
        clearance: (G, G) m from each cell to the nearest obstacle.
        start: Start pose (x, y, yaw).
        goal: Goal pose (x, y, yaw).
        min_turn_radius: The body's minimum turning radius, m (> 0).
        length: Footprint length, m.
        width: Footprint width, m.
        inflate: Added to length and width for the collision test, m.
        max_expansions: Search budget (nodes expanded).
        hgrid: The heuristic grid (:func:`heuristic_grid`) when already computed.

    Returns:
        (P, 4) rows (x, y, yaw, direction) every :data:`STEP` m, or None.
    """
    if hgrid is None:
        hgrid = heuristic_grid(clearance, goal, 0.5 * width)
    end, nx, ny, nt, nd, nk, parent, shot, shot_d = _search(
        np.asarray(height, np.float32),
        np.asarray(clearance, np.float32),
        hgrid,
        float(start[0]),
        float(start[1]),
        float(start[2]),
        float(goal[0]),
        float(goal[1]),
        float(goal[2]),
        float(max(min_turn_radius, 1e-3)),
        float(length + inflate),
        float(width + inflate),
        int(max_expansions),
    )
    if end < 0:
        return None
    return _densify(end, nx, ny, nt, nd, nk, parent, shot, shot_d)
