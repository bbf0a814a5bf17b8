"""Car-like tracker for the planner teacher: forward and reverse arcs, no turning in place.

An Ackermann body (``min_turn_radius`` > 0) cannot rotate on the spot, so the pure-pursuit
tracker of :mod:`compass_nav.teacher.teacher` (which stops and turns when the path bends)
would stall. This tracker searches, every control step, a two-level tree of motion
primitives -- arcs of curvature within ``+-1 / r_min``, driven forwards or in reverse -- and
scores the end pose of each branch by

* the simulator's cost-to-go to the goal at that point (planner metres, privileged),
* near the goal, the heading error to the goal heading (success needs it within 0.1 rad),
* a penalty for reversing and for changing direction (so it does not dither),

discarding any arc whose footprint (slightly inflated) touches an obstacle. It drives the
first arc of the best branch: a forward arc where the path allows, a three-point turn where
it does not (a reverse arc, then forward), a parking manoeuvre at the goal. Commands are
planned from the pose predicted one command latency ahead, so delayed bodies are anticipated.
"""

from __future__ import annotations

import heapq
import math
import time

import numba as nb
import numpy as np

from compass_nav.contract.geometry import RESOLUTION
from compass_nav.planner import hybrid
from compass_nav.sim.kernels import footprint_collides

#: Curvature samples across [-1/r_min, 1/r_min] (odd: includes straight).
N_CURV = 9
#: Arc length of the first / second primitive, m.
ARC_1 = 0.5
ARC_2 = 0.7
#: Sample spacing along an arc for the collision test, m.
ARC_STEP = 0.1
#: Footprint inflation of the collision test, m (covers lag and latency overshoot).
INFLATE = 0.12
#: Cost weights: per radian of goal-heading error near the goal (m/rad), per metre reversed,
#: for a change of driving direction.
W_HEADING = 1.2
W_REVERSE = 0.6
W_SWITCH = 0.35
#: Radius around the goal in which the heading error counts, m.
HEADING_RADIUS = 1.6
_BIG = 1e9


@nb.njit(cache=True)
def _ctg_at(ctg, x, y):
    g = ctg.shape[0]
    i = int(math.floor(y / RESOLUTION))
    j = int(math.floor(x / RESOLUTION))
    if i < 0 or j < 0 or i >= g or j >= g:
        return _BIG
    v = ctg[i, j]
    return _BIG if v >= 1e17 else v


@nb.njit(cache=True)
def _discs_free(clearance, x, y, yaw, length, width, infl):
    """Whether the footprint, covered by discs along its length, keeps INFLATE from obstacles.

    ``k`` discs of radius ``sqrt((w/2)^2 + (l/2k)^2)`` centred along the body axis cover the
    rectangle; each needs that much clearance (plus half the inflation) at its centre cell.
    Cheaper than the exact outline and a little conservative, which a planner wants.
    """
    k = max(1, int(math.ceil(length / width)))
    r = math.sqrt((0.5 * width) ** 2 + (0.5 * length / k) ** 2) + 0.5 * infl
    g = clearance.shape[0]
    c, s = math.cos(yaw), math.sin(yaw)
    for q in range(k):
        off = -0.5 * length + length * (q + 0.5) / k
        px, py = x + c * off, y + s * off
        i = int(math.floor(py / RESOLUTION))
        j = int(math.floor(px / RESOLUTION))
        if i < 0 or j < 0 or i >= g or j >= g or clearance[i, j] < r:
            return False
    return True


@nb.njit(cache=True)
def _arc(clearance, x, y, yaw, d, kappa, s, length, width, infl=INFLATE):
    """End pose of an arc (direction d = +-1, curvature kappa, length s); ok=False on contact."""
    n = max(1, int(math.ceil(s / ARC_STEP)))
    ds = s / n
    for _ in range(n):
        if abs(kappa) < 1e-9:
            x += d * ds * math.cos(yaw)
            y += d * ds * math.sin(yaw)
        else:
            nyaw = yaw + d * ds * kappa
            x += (math.sin(nyaw) - math.sin(yaw)) / kappa
            y += -(math.cos(nyaw) - math.cos(yaw)) / kappa
            yaw = nyaw
        if not _discs_free(clearance, x, y, yaw, length, width, infl):
            return x, y, yaw, False
    return x, y, yaw, True


@nb.njit(cache=True)
def _score(ctg, x, y, yaw, gx, gy, gyaw):
    c = _ctg_at(ctg, x, y)
    dist = math.hypot(gx - x, gy - y)
    if dist < HEADING_RADIUS:
        err = abs((gyaw - yaw + math.pi) % (2.0 * math.pi) - math.pi)
        c += W_HEADING * err * (1.0 - dist / HEADING_RADIUS)
    return c


@nb.njit(cache=True)
def _tree(clearance, ctg, x, y, yaw, sx, sy, gyaw, kmax, length, width, moving, infl):
    """Two-level arc search: (cost, first direction, first curvature, second direction)."""
    best = _BIG
    best_d, best_k, best_next_d = 1, 0.0, 1
    for d1 in (1, -1):
        for i1 in range(N_CURV):
            k1 = -kmax + 2.0 * kmax * i1 / (N_CURV - 1)
            x1, y1, t1, ok1 = _arc(clearance, x, y, yaw, d1, k1, ARC_1, length, width, infl)
            if not ok1:
                continue
            base = W_REVERSE * ARC_1 if d1 < 0 else 0.0
            if moving != 0 and d1 != moving:
                base += W_SWITCH
            # Stopping at the end of the first arc is a branch too.
            c_best = _score(ctg, x1, y1, t1, sx, sy, gyaw)
            c_next = d1
            for d2 in (1, -1):
                for i2 in range(N_CURV):
                    k2 = -kmax + 2.0 * kmax * i2 / (N_CURV - 1)
                    x2, y2, t2, ok2 = _arc(
                        clearance, x1, y1, t1, d2, k2, ARC_2, length, width, infl
                    )
                    if not ok2:
                        continue
                    c = _score(ctg, x2, y2, t2, sx, sy, gyaw)
                    if d2 < 0:
                        c += W_REVERSE * ARC_2
                    if d2 != d1:
                        c += W_SWITCH
                    if c < c_best:
                        c_best = c
                        c_next = d2
            c_best += base
            if c_best < best:
                best = c_best
                best_d, best_k, best_next_d = d1, k1, c_next
    return best, best_d, best_k, best_next_d


@nb.njit(parallel=True, cache=True)
def car_batch(
    clearance,
    ctg,
    pose,
    vel,
    goal,
    lane,
    rows,
    rmin,
    vmax,
    vrev,
    dec,
    dims,
    latency,
    vscale,
    cooldown,
    commit,
    out,
):
    """Commands (vx, 0, wz) for the car-like envs ``rows`` (see the module docstring).

    Args:
        clearance: (N, G, G) m from each cell to the nearest obstacle.
        ctg: (N, G, G) cost-to-go to each env's lane start (:func:`lane_cost_to_go`).
        pose: (N, 3) world poses.
        vel: (N, 3) body velocities.
        goal: (N, 3) world goals.
        lane: (N, 3) lane start (x, y) and lane length, m (0: no lane fits).
        rows: (M,) env indices to plan for.
        rmin: (N,) minimum turning radius, m.
        vmax: (N,) forward speed limit, m/s.
        vrev: (N,) reverse speed limit (> 0), m/s.
        dec: (N,) braking limit, m/s^2.
        dims: (N, 2) footprint (length, width).
        latency: (N,) command latency, s (the plan starts from the pose predicted after it).
        vscale: Fraction of the speed limit used.
        cooldown: (N,) int64 steps before a failed parking search is tried again (updated).
        commit: (N, 5) the parking move being executed: direction (0: none), curvature, start
            x, y, steps held (updated). A move is held until the body has covered
            :data:`PARK_COMMIT` m of it, so successive searches cannot make it dither.
        out: (N, 3) written for ``rows``.
    """
    for r in nb.prange(rows.shape[0]):
        e = rows[r]
        x, y, yaw = pose[e, 0], pose[e, 1], pose[e, 2]
        v, w = vel[e, 0], vel[e, 2]
        if latency[e] > 0.0:
            x += v * math.cos(yaw) * latency[e]
            y += v * math.sin(yaw) * latency[e]
            yaw += w * latency[e]
        gx, gy, gyaw = goal[e, 0], goal[e, 1], goal[e, 2]
        length, width = dims[e, 0], dims[e, 1]
        kmax = 1.0 / rmin[e]
        dist = math.hypot(gx - x, gy - y)
        herr = abs((gyaw - yaw + math.pi) % (2.0 * math.pi) - math.pi)
        if dist < 0.42 and herr < 0.08:
            out[e, 0] = 0.0
            out[e, 1] = 0.0
            out[e, 2] = 0.0
            continue
        # Near the goal: search a parking manoeuvre (forward and reverse arcs) to the pose.
        if commit[e, 0] != 0.0:
            held = math.hypot(x - commit[e, 2], y - commit[e, 3])
            commit[e, 4] += 1
            if held < PARK_COMMIT and commit[e, 4] < 25 and dist < PARK_WINDOW - 0.5:
                pd, pk = commit[e, 0], commit[e, 1]
                speed = min(vmax[e] * vscale, 0.15 + 0.3 * dist)
                if pd < 0:
                    speed = min(speed, vrev[e])
                out[e, 0] = pd * speed
                out[e, 1] = 0.0
                out[e, 2] = pd * speed * pk
                continue
            commit[e, 0] = 0.0
        if cooldown[e] > 0:
            cooldown[e] -= 1
        elif dist < PARK_WINDOW - 0.8:
            moving0 = 1 if v > 0.05 else (-1 if v < -0.05 else 0)
            pd, pk, found = park_first_move(
                clearance[e], x, y, yaw, gx, gy, gyaw, rmin[e], length, width, moving0, INFLATE
            )
            if not found:
                # Tight spot (e.g. a goal between obstacles): search with the bare discs.
                pd, pk, found = park_first_move(
                    clearance[e], x, y, yaw, gx, gy, gyaw, rmin[e], length, width, moving0, 0.0
                )
            if found:
                commit[e, 0], commit[e, 1] = pd, pk
                commit[e, 2], commit[e, 3], commit[e, 4] = x, y, 0.0
                speed = min(vmax[e] * vscale, 0.15 + 0.3 * dist)
                if pd < 0:
                    speed = min(speed, vrev[e])
                vx = pd * speed
                out[e, 0] = vx
                out[e, 1] = 0.0
                out[e, 2] = vx * pk
                continue
            cooldown[e] = PARK_RETRY
        sx, sy = lane[e, 0], lane[e, 1]
        sdist = math.hypot(sx - x, sy - y)
        moving = 1 if v > 0.05 else (-1 if v < -0.05 else 0)
        best, best_d, best_k, best_next_d = _tree(
            clearance[e], ctg[e], x, y, yaw, sx, sy, gyaw, kmax, length, width, moving, INFLATE
        )
        if best >= _BIG:
            # Boxed in under the planning margin (e.g. a start next to a wall): plan with
            # the bare footprint discs.
            best, best_d, best_k, best_next_d = _tree(
                clearance[e], ctg[e], x, y, yaw, sx, sy, gyaw, kmax, length, width, moving, 0.0
            )
        if best >= _BIG:
            # Boxed in on every arc: stop (the inflation is conservative; the next step may
            # find a way once the body has settled).
            out[e, 0] = 0.0
            out[e, 1] = 0.0
            out[e, 2] = 0.0
            continue
        speed = vmax[e] * vscale if best_d > 0 else min(vrev[e], 0.5)
        if best_next_d != best_d:
            # A manoeuvre (the next arc reverses): go slowly so the switch point is met.
            speed = min(speed, 0.35)
        if sdist < HEADING_RADIUS:
            speed = min(speed, 0.3 + 0.5 * sdist)
        vx = best_d * speed
        out[e, 0] = vx
        out[e, 1] = 0.0
        out[e, 2] = vx * best_k


#: Lane lengths tried behind the goal, longest first, m.
LANE_LENGTHS = (2.0, 1.6, 1.2, 0.8)


def lane_start(height: np.ndarray, goal: np.ndarray, length: float, width: float) -> tuple:
    """Start (x, y) and length of the longest free straight lane that ends at the goal pose.

    The lane runs along the goal heading; the body's footprint (slightly inflated) must be
    free at every 0.1 m along it. Returns ``(goal x, goal y, 0.0)`` when none fits.
    """
    gx, gy, gyaw = (float(v) for v in goal)
    c, s = np.cos(gyaw), np.sin(gyaw)
    for lz in LANE_LENGTHS:
        ok = True
        for t in np.arange(-lz, 0.2, 0.1):
            if footprint_collides(
                height, gx + t * c, gy + t * s, gyaw, length + 0.06, width + 0.06
            ):
                ok = False
                break
        if ok:
            return gx - lz * c, gy - lz * s, lz
    return gx, gy, 0.0


def lane_cost_to_go(cost: np.ndarray, goal: np.ndarray, lane: tuple) -> np.ndarray:
    """Cost-to-go (planner metres) to the lane start, the lane itself made expensive.

    Crossing the lane towards its start would arrive there facing the wrong way; a high (not
    forbidden) cost on the lane makes the search join it from behind, and still lets a body
    standing on it find its way off.

    Args:
        cost: (G, G) the body's planner cost (:func:`compass_nav.planner.cost.planner_cost`).
        goal: World goal (x, y, yaw).
        lane: :func:`lane_start`'s result.
    """
    from compass_nav.planner import grid

    sx, sy, lz = lane
    cost = np.array(cost, np.float64)
    if lz > 0:
        gx, gy, gyaw = (float(v) for v in goal)
        c, s = np.cos(gyaw), np.sin(gyaw)
        g = cost.shape[0]
        for t in np.arange(-lz + 0.3, 0.6, RESOLUTION / 2):
            px, py = gx + t * c, gy + t * s
            i, j = int(py / RESOLUTION), int(px / RESOLUTION)
            i0, i1 = max(i - 2, 0), min(i + 3, g)
            j0, j1 = max(j - 2, 0), min(j + 3, g)
            block = cost[i0:i1, j0:j1]
            cost[i0:i1, j0:j1] = np.where(block >= grid.INF, block, np.maximum(block, 20.0))
    si = min(max(int(sy / RESOLUTION), 0), cost.shape[0] - 1)
    sj = min(max(int(sx / RESOLUTION), 0), cost.shape[1] - 1)
    return grid.dijkstra(cost, si, sj)


# ---------------------------------------------------------------------- parking search
#: Half-size of the window around the goal the parking search covers, m.
PARK_WINDOW = 3.5
#: Its position and heading bins (m, count) -- the search's closed-set resolution.
PARK_CELL = 0.15
PARK_HEADINGS = 24
#: Arc length of one parking primitive, m, and the curvature samples.
PARK_ARC = 0.3
PARK_CURV = 7
#: Largest number of node expansions per search.
PARK_EXPANSIONS = 4000
#: Cost of a metre in reverse, of a change of direction; heuristic weight.
PARK_W_REVERSE = 1.5
PARK_W_SWITCH = 0.6
PARK_H_WEIGHT = 1.5
#: Distance a chosen parking move is driven before the next search, m.
PARK_COMMIT = 0.2
#: Control steps before a parking search that found nothing is tried again.
PARK_RETRY = 5
#: A search node within this distance and heading error of the goal ends the search.
PARK_DIST = 0.35
PARK_HEADING = 0.075


@nb.njit(cache=True)
def park_first_move(clearance, x, y, yaw, gx, gy, gyaw, rmin, length, width, d0, infl):
    """Hybrid-A* over forward / reverse arcs from (x, y, yaw) to the goal pose.

    Returns ``(direction, curvature, found)`` of the first arc of the cheapest path found
    (``d0``: the current driving direction, +-1 or 0, so that keeping it is not charged as a
    switch; ``infl``: footprint inflation of the collision test, m).
    """
    nb_ = int(2 * PARK_WINDOW / PARK_CELL) + 1
    best = np.full((nb_, nb_, PARK_HEADINGS), 1e18)
    cap = PARK_EXPANSIONS * 2 * PARK_CURV + 1
    nx = np.empty(cap)
    ny = np.empty(cap)
    nt = np.empty(cap)
    ng = np.empty(cap)
    nd = np.empty(cap, np.int64)
    nfirst_d = np.empty(cap, np.int64)
    nfirst_k = np.empty(cap)
    kmax = 1.0 / rmin
    nx[0], ny[0], nt[0], ng[0], nd[0] = x, y, yaw, 0.0, d0
    nfirst_d[0], nfirst_k[0] = 0, 0.0
    count = 1
    h0 = math.hypot(gx - x, gy - y)
    heap = [(PARK_H_WEIGHT * h0, 0)]
    expansions = 0
    while len(heap) > 0 and expansions < PARK_EXPANSIONS:
        _, i = heapq.heappop(heap)
        cx, cy, ct, cg = nx[i], ny[i], nt[i], ng[i]
        herr = abs((gyaw - ct + math.pi) % (2.0 * math.pi) - math.pi)
        if i > 0 and math.hypot(gx - cx, gy - cy) < PARK_DIST and herr < PARK_HEADING:
            return nfirst_d[i], nfirst_k[i], True
        expansions += 1
        for dd in range(2):
            d = 1 if dd == 0 else -1
            for ik in range(PARK_CURV):
                k = -kmax + 2.0 * kmax * ik / (PARK_CURV - 1)
                x2, y2, t2, ok = _arc(clearance, cx, cy, ct, d, k, PARK_ARC, length, width, infl)
                if not ok:
                    continue
                bx = int((x2 - gx + PARK_WINDOW) / PARK_CELL)
                by = int((y2 - gy + PARK_WINDOW) / PARK_CELL)
                if bx < 0 or by < 0 or bx >= nb_ or by >= nb_:
                    continue
                bt = int(((t2 % (2.0 * math.pi)) / (2.0 * math.pi)) * PARK_HEADINGS)
                bt = min(bt, PARK_HEADINGS - 1)
                g2 = cg + PARK_ARC * (PARK_W_REVERSE if d < 0 else 1.0)
                if nd[i] != 0 and nd[i] != d:
                    g2 += PARK_W_SWITCH
                if g2 >= best[bx, by, bt] or count >= cap:
                    continue
                best[bx, by, bt] = g2
                nx[count], ny[count], nt[count], ng[count], nd[count] = x2, y2, t2, g2, d
                if i == 0:
                    nfirst_d[count], nfirst_k[count] = d, k
                else:
                    nfirst_d[count], nfirst_k[count] = nfirst_d[i], nfirst_k[i]
                herr2 = abs((gyaw - t2 + math.pi) % (2.0 * math.pi) - math.pi)
                h = math.hypot(gx - x2, gy - y2) + 0.5 * rmin * herr2
                heapq.heappush(heap, (g2 + PARK_H_WEIGHT * h, count))
                count += 1
    return 0, 0.0, False


# ------------------------------------------------------------------ planned-path following
#: m: lateral distance from the path (or rad of heading error) beyond which it is re-planned.
OFF_PATH = 0.3
OFF_HEADING = 0.7
#: Control steps without progress along the path (not held by actors) before re-planning,
#: and between two plans of the same env.
PATH_STALL = 40
REPLAN_GAP = 10
#: Control steps off the path (or stalled) in a row after which the greedy arc search
#: drives for as many steps before the next plan.
GIVE_UP = 30
#: s of travel at the commanded speed and curvature checked against the true map, with the
#: footprint grown by CHECK_INFLATE m (1 cm each side: the tracking noise).
CHECK_TIME = 0.5
CHECK_INFLATE = 0.02
#: Plans tried in turn: (turning-radius factor, footprint growth m, expansion budget); the
#: last keeps the room the look-ahead check wants.
PLAN_TRIES = ((1.3, 0.14, 12000), (1.15, 0.04, 40000), (1.0, CHECK_INFLATE, 12000))
#: Path-following gains: curvature (1/m) per metre of lateral error and per radian of
#: heading error (a critically damped response over about half a metre of travel).
K_LAT = 4.0
K_HEAD = 3.6
#: m beyond the half-width kept free beside the body at full speed (speed grows from 40%
#: of the limit with the clearance beyond it, up to 0.6 m more).
SIDE_MARGIN = 0.15
ROOM_AHEAD = 1.0
#: m/s at most where the clearance here or ahead is less than TIGHT_MARGIN m beyond the
#: half-width (the tracking lag and noise are then a large share of the room).
TIGHT_MARGIN = 0.06
TIGHT_SPEED = 0.35
#: Curvatures tried (across +-1/r_min) where neither the corrected nor the path's own arc is
#: free, once the body has been held FAN_AFTER steps by plans it cannot start.
FAN_CURV = 17
FAN_AFTER = 5
#: Goal reached for the tracker: m and rad (inside the simulator's 0.5 m / 0.1 rad).
DONE_DIST = 0.2
DONE_HEADING = 0.05


class PathFollower:
    """Hybrid-A* paths (:mod:`compass_nav.planner.hybrid`) and their tracking, per car-like env.

    Each new goal is planned on the true static map (the actors are not in it: the moving-
    obstacle check, :mod:`compass_nav.teacher.avoid`, handles them) from the body's pose;
    the body then follows the path's segments with pure pursuit, forwards or in reverse,
    braking into each cusp and into the goal pose. It re-plans where it is pushed off the
    path (an actor to avoid, the tracking lag) or makes no progress; where no plan is found
    the caller's greedy arc search (:func:`car_batch`) drives meanwhile.
    """

    def __init__(self, bodies, rows) -> None:
        self.bodies = bodies
        self.rows = [int(e) for e in rows]
        n = len(bodies)
        self.path: list[np.ndarray | None] = [None] * n
        self.idx = np.zeros(n, np.int64)
        self.goal = np.full((n, 3), np.nan)
        self.best = np.zeros(n, np.int64)
        self.stall = np.zeros(n, np.int64)
        self.since = np.full(n, 10**6, np.int64)
        self.off = np.zeros(n, np.int64)
        self.greedy = np.zeros(n, np.int64)
        #: Plans made and the seconds they took (for benchmarks).
        self.plans = 0
        self.plan_seconds = 0.0

    def _plan(self, p: dict, e: int) -> None:

        t0 = time.perf_counter()
        b = self.bodies[e]
        static = (p["clearance"][e] <= 0).astype(np.float32)
        # Plan with room to spare (a wider turning radius leaves the tracker steering
        # authority; a grown footprint, room for its lag), then tighter where that fails.
        path = None
        for r_scale, inflate, budget in PLAN_TRIES:
            path = hybrid.plan(
                static, p["clearance"][e], p["pose"][e], p["goal"][e],
                b.min_turn_radius * r_scale, b.length, b.width, inflate=inflate,
                max_expansions=budget,
            )  # fmt: skip
            if path is not None:
                break
        self.plans += 1
        self.plan_seconds += time.perf_counter() - t0
        self.path[e] = path
        self.idx[e] = 0
        self.best[e] = 0
        self.stall[e] = 0
        self.since[e] = 0

    def act(self, p: dict, out: np.ndarray, held: np.ndarray, vscale: float) -> None:
        """Overwrite ``out`` rows of the car-like envs that have a path (see the class doc).

        Args:
            p: ``NavVectorEnv.privileged()``.
            out: (N, 3) commands; rows without a path keep the caller's.
            held: (N,) the moving-obstacle check holds the body (not a stall).
            vscale: Fraction of the speed limit used.
        """
        for e in self.rows:
            self.since[e] += 1
            new_goal = not np.array_equal(self.goal[e], p["goal"][e])
            if new_goal:
                self.goal[e] = p["goal"][e]
                self.greedy[e] = 0
                self.off[e] = 0
                self._plan(p, e)
            path = self.path[e]
            if path is None:
                if self.since[e] >= 4 * REPLAN_GAP:
                    self._plan(p, e)
                continue
            if self.greedy[e] > 0:
                self.greedy[e] -= 1  # the greedy arc search drives a while
                if self.greedy[e] == 0:
                    self._plan(p, e)
                continue
            cmd, status = self._follow(p, e, path, vscale)
            if status == "off" or (self.stall[e] >= PATH_STALL and not held[e]):
                self.off[e] += 1
                if self.since[e] >= REPLAN_GAP:
                    self._plan(p, e)
                    if self.path[e] is None:
                        continue
                    cmd, status = self._follow(p, e, self.path[e], vscale)
            else:
                self.off[e] = 0
            if self.off[e] >= GIVE_UP:
                # Plans keep failing from here: let the greedy search move the body first.
                self.off[e] = 0
                self.greedy[e] = GIVE_UP
                continue
            out[e] = cmd

    def _follow(self, p: dict, e: int, path: np.ndarray, vscale: float):
        b = self.bodies[e]
        x, y, yaw = (float(v) for v in p["pose"][e])
        v, w = float(p["velocity"][e, 0]), float(p["velocity"][e, 2])
        lat = b.command_latency
        if lat > 0:
            x += v * math.cos(yaw) * lat
            y += v * math.sin(yaw) * lat
            yaw += w * lat
        n = path.shape[0]
        i = int(self.idx[e])
        # Current segment: the samples after i driven in the same direction.
        d = path[min(i + 1, n - 1), 3]
        end = i + 1
        while end < n - 1 and path[end + 1, 3] == d:
            end += 1
        end = min(end, n - 1)
        # Nearest sample ahead on this segment.
        lo, hi = i, min(end, i + 40) + 1
        dist = np.hypot(path[lo:hi, 0] - x, path[lo:hi, 1] - y)
        i = lo + int(np.argmin(dist))
        lateral = float(dist[i - lo])
        final = end == n - 1
        to_end = math.hypot(path[end, 0] - x, path[end, 1] - y)
        # Past the cusp along the segment's end heading, or on it.
        ex, ey = math.cos(path[end, 2]), math.sin(path[end, 2])
        past = d * ((x - path[end, 0]) * ex + (y - path[end, 1]) * ey)
        if not final and i >= end - 1 and (to_end < 0.08 or (past > 0 and to_end < 0.3)):
            i = end  # at the cusp: the next segment
            self.idx[e] = i
            return self._follow(p, e, path, vscale)
        self.idx[e] = i
        if i > self.best[e]:
            self.best[e] = i
            self.stall[e] = 0
        else:
            self.stall[e] += 1
        gx, gy, gyaw = path[n - 1, 0], path[n - 1, 1], path[n - 1, 2]
        herr_goal = (gyaw - yaw + math.pi) % (2 * math.pi) - math.pi
        if final and math.hypot(gx - x, gy - y) < DONE_DIST and abs(herr_goal) < DONE_HEADING:
            return np.zeros(3), "done"
        herr_path = (path[i, 2] - yaw + math.pi) % (2 * math.pi) - math.pi
        if lateral > OFF_PATH or abs(herr_path) > OFF_HEADING:
            return np.zeros(3), "off"
        # Path-following law of a kinematic car (feed-forward curvature of the path a little
        # ahead, feedback on the lateral and heading errors); in reverse the heading term
        # changes sign, so both directions converge onto the path:
        #   k = k_path - K_LAT * e_lat - d * K_HEAD * e_head.
        j = min(i + 2, end)
        jn = min(j + 1, n - 1)
        if jn > j and path[jn, 3] == d:
            step = math.hypot(path[jn, 0] - path[j, 0], path[jn, 1] - path[j, 1])
            dyaw = (path[jn, 2] - path[j, 2] + math.pi) % (2 * math.pi) - math.pi
            k_path = dyaw / (d * step) if step > 1e-6 else 0.0
        else:
            k_path = 0.0
        th = path[i, 2]
        e_lat = -math.sin(th) * (x - path[i, 0]) + math.cos(th) * (y - path[i, 1])
        e_head = -herr_path
        k = k_path - K_LAT * e_lat - d * K_HEAD * e_head
        kmax = 1.0 / max(b.min_turn_radius, 1e-3)
        k = min(max(k, -kmax), kmax)
        # Speed: the body's limit, slower where the room is tight and on sharp arcs, braking
        # into the cusp or the goal.
        c = p["clearance"][e]
        gi = min(max(int(y / RESOLUTION), 0), c.shape[0] - 1)
        gj = min(max(int(x / RESOLUTION), 0), c.shape[1] - 1)
        # Room beside the body here and along the next ROOM_AHEAD m of its path: clearance
        # beyond its half-width and a margin for tracking error (turning is slowed by the
        # curvature term below), so it slows before a tight spot rather than in it.
        ahead = path[i : min(i + int(ROOM_AHEAD / hybrid.STEP) + 1, end + 1)]
        ai = np.clip((ahead[:, 1] / RESOLUTION).astype(np.int64), 0, c.shape[0] - 1)
        aj = np.clip((ahead[:, 0] / RESOLUTION).astype(np.int64), 0, c.shape[1] - 1)
        least = min(float(c[gi, gj]), float(c[ai, aj].min()) if ahead.size else np.inf)
        side = 0.5 * b.width + SIDE_MARGIN
        room = min(max((least - side) / 0.6, 0.0), 1.0)
        speed = b.max_vx * vscale * (0.4 + 0.6 * room)
        if least - 0.5 * b.width < TIGHT_MARGIN:
            speed = min(speed, TIGHT_SPEED)  # a few centimetres each side: creep
        if abs(k) > 0.5 * kmax:
            speed = min(speed, 0.6 * b.max_vx)
        along = float(np.hypot(np.diff(path[i : end + 1, 0]), np.diff(path[i : end + 1, 1])).sum())
        remaining = max(along, to_end) if not final else along
        speed = min(speed, math.sqrt(2.0 * 0.4 * b.brake_decel * remaining) + 0.06)
        # Off the path's heading or line: slower, so the steering catches up first.
        speed *= max(0.4, 1.0 - abs(herr_path) / 0.6 - lateral / 0.4)
        if d < 0:
            speed = min(speed, -b.min_vx, 0.5)
        # Short look-ahead on the true map: a command whose arc would touch an obstacle is
        # not sent; the body stops and the path is re-planned from where it stands.
        height = p["height"][e]
        if self._arc_hits(height, x, y, yaw, d, speed, k, b):
            # The path's own arc (no feedback) where the corrected one would touch; else,
            # once re-planning has not freed the body, at a creep, the free curvature nearest
            # the wanted one (a body that entered a door a little askew straightens out on
            # the way through it).
            want = k
            k = min(max(k_path, -kmax), kmax)
            if self._arc_hits(height, x, y, yaw, d, speed, k, b):
                if self.off[e] < FAN_AFTER:
                    return np.zeros(3), "off"
                speed = min(speed, TIGHT_SPEED)
                fan = sorted(np.linspace(-kmax, kmax, FAN_CURV), key=lambda q: abs(q - want))
                for k in fan:
                    if not self._arc_hits(height, x, y, yaw, d, speed, k, b, strict=True):
                        break
                else:
                    return np.zeros(3), "off"
        return np.array([d * speed, 0.0, d * speed * k]), "ok"

    @staticmethod
    def _arc_hits(height, x, y, yaw, d, speed, k, b, strict: bool = False) -> bool:
        """Whether the arc's footprint (grown by CHECK_INFLATE) touches an obstacle.

        Where the grown footprint touches already, the exact one is swept instead, unless
        ``strict`` (then the arc counts as touching).
        """
        from compass_nav.sim.kernels import footprint_collides

        length, width = b.length + CHECK_INFLATE, b.width + CHECK_INFLATE
        if footprint_collides(height, x, y, yaw, length, width):
            if strict:
                return True
            length, width = b.length, b.width  # within the margin already: the exact size
            if footprint_collides(height, x, y, yaw, length, width):
                return False  # already touching (the predicted pose): nothing to keep clear of
        reach = max(abs(speed) * CHECK_TIME, 0.1)
        steps = int(math.ceil(reach / 0.05))
        ds = reach / steps
        for _ in range(steps):
            if abs(k) < 1e-9:
                x += d * ds * math.cos(yaw)
                y += d * ds * math.sin(yaw)
            else:
                ny = yaw + d * ds * k
                x += (math.sin(ny) - math.sin(yaw)) / k
                y += -(math.cos(ny) - math.cos(yaw)) / k
                yaw = ny
            if footprint_collides(height, x, y, yaw, length, width):
                return True
        return False
