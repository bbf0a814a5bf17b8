"""The teacher's avoidance of moving obstacles: a short-horizon check of sampled commands.

How it is wired in: :meth:`compass_nav.teacher.teacher.Teacher.act` computes the route
tracker's command, then, when the env has moving obstacles, :func:`avoid_movers` replaces it
in the envs where an actor is near. The teacher is privileged: it reads every actor's
position, velocity and size (``NavVectorEnv.privileged()``).

For each env with an actor within :attr:`AvoidConfig.reach`, the tracker's command and a fan of
alternatives (slower, turned, backwards, for holonomic bodies sideways, and standing still)
are rolled out for :attr:`AvoidConfig.horizon` seconds: the body's velocity approaches the
command within its acceleration limits, the actors keep their velocity but stop short of the
body as the simulated ones do (the teacher is privileged). A command is safe when the body's
footprint keeps :attr:`AvoidConfig.margin` (growing with time, for the actors' turns) from
every actor it closes in on (turning on the spot, 0.1 m), and, for the first second, its
outline keeps 0.15 m from the static obstacles (or no less than now, in a tight spot). The
tracker's command is kept when safe; otherwise the safe command with the most progress down
the cost-to-go field (with a bonus for room and for the side it took last step) wins; when none
is safe, the one that stays safe longest. Held still for :attr:`AvoidConfig.patience` steps
while no actor within 1.5 m walks (an actor may be cornered by the body, e.g. in a dead end,
or stand blocked by it), it backs away from the actors for as many steps, taking the safe
command that leaves the most room.
"""

from __future__ import annotations

import dataclasses
import math

import numba as nb
import numpy as np

from compass_nav.contract.geometry import RESOLUTION
from compass_nav.planner import grid
from compass_nav.sim.actors import PATIENCE, YIELD_MARGIN
from compass_nav.utils.config import check


@dataclasses.dataclass(frozen=True)
class AvoidConfig:
    """Horizon and margins of the moving-obstacle check."""

    horizon: float = 2.0  # s of look-ahead for the actors
    static_horizon: float = 1.0  # s of look-ahead for the static map
    margin: float = 0.25  # m kept from an actor's outline now
    margin_growth: float = 0.1  # m added per second of look-ahead
    reach: float = 5.0  # m: actors farther than this are ignored
    #: m: an actor stops rather than step closer to the body (the simulator's behaviour,
    #: :data:`compass_nav.sim.actors.YIELD_MARGIN`; the teacher is privileged).
    yield_margin: float = YIELD_MARGIN
    #: Control steps held still by actors before backing away from them for as many steps.
    #: Longer than an actor's own patience (:data:`compass_nav.sim.actors.PATIENCE`), after
    #: which a blocked actor leaves its way: backing away sooner, the robot would be herded
    #: back down its route by a person walking it head-on in a passage too narrow to pass.
    patience: int = PATIENCE + 10
    #: m: this close to the goal, turning on the spot to its heading is among the commands.
    goal_reach: float = 0.4

    def __post_init__(self) -> None:
        check(self.horizon > 0, "horizon", self.horizon, "must be > 0 s")
        check(
            0 < self.static_horizon <= self.horizon,
            "static_horizon",
            self.static_horizon,
            "must be in (0, horizon]",
        )
        check(self.margin >= 0, "margin", self.margin, "must be >= 0 m")


@nb.njit(cache=True)
def _gap(ax, ay, r, px, py, pyaw, hl, hw):
    c, s = math.cos(pyaw), math.sin(pyaw)
    dx, dy = ax - px, ay - py
    lx = abs(c * dx + s * dy) - hl
    ly = abs(-s * dx + c * dy) - hw
    return math.hypot(max(lx, 0.0), max(ly, 0.0)) - r


@nb.njit(cache=True)
def _point_rect(px, py, cx, cy, cyaw, hl, hw):
    """Metres from point (px, py) to the rectangle (cx, cy, cyaw, half-sides hl, hw); 0 inside."""
    c, s = math.cos(cyaw), math.sin(cyaw)
    dx, dy = px - cx, py - cy
    lx = abs(c * dx + s * dy) - hl
    ly = abs(-s * dx + c * dy) - hw
    return math.hypot(max(lx, 0.0), max(ly, 0.0))


@nb.njit(cache=True)
def _actor_gap(shape, ax, ay, px, py, pyaw, hl, hw):
    """Metres between an actor at (ax, ay) and the body's rectangle (px, py, pyaw, hl, hw).

    ``shape`` is (radius, half length, half width, yaw): a person (half width 0) is the disc
    of that radius; a cart the rectangle, whose distance to the body's rectangle is the
    smallest corner-to-rectangle distance either way (exact while apart, 0 when touching).
    """
    if shape[2] <= 0.0:
        return _gap(ax, ay, shape[0], px, py, pyaw, hl, hw)
    d = 1e9
    ca, sa = math.cos(shape[3]), math.sin(shape[3])
    cb, sb = math.cos(pyaw), math.sin(pyaw)
    for k in range(4):
        u = 1.0 if k < 2 else -1.0
        v = 1.0 if k % 2 == 0 else -1.0
        qx = ax + ca * u * shape[1] - sa * v * shape[2]
        qy = ay + sa * u * shape[1] + ca * v * shape[2]
        d = min(d, _point_rect(qx, qy, px, py, pyaw, hl, hw))
        rx = px + cb * u * hl - sb * v * hw
        ry = py + sb * u * hl + cb * v * hw
        d = min(d, _point_rect(rx, ry, ax, ay, shape[3], shape[1], shape[2]))
    return d


@nb.njit(cache=True)
def _cell(v, g):
    return min(max(int(math.floor(v / RESOLUTION)), 0), g - 1)


@nb.njit(cache=True)
def _footprint_clearance(clearance, e, x, y, yaw, hl, hw):
    """Smallest clearance (m) of the cells under the footprint's outline (points 10 cm apart).

    A point lies within 0.071 m of its cell's centre, so a value of 0.15 keeps the outline at
    least 0.08 m off the obstacles, more than half the spacing.
    """
    g = clearance.shape[1]
    c, s = math.cos(yaw), math.sin(yaw)
    nl = int(math.ceil(2.0 * hl / 0.1)) + 1
    nw = int(math.ceil(2.0 * hw / 0.1)) + 1
    low = 1e9
    for side in range(2):
        sgn = 1.0 if side == 0 else -1.0
        for k in range(nl):
            lx = -hl + 2.0 * hl * k / (nl - 1)
            ly = sgn * hw
            v = clearance[e, _cell(y + s * lx + c * ly, g), _cell(x + c * lx - s * ly, g)]
            low = min(low, v)
        for k in range(nw):
            lx = sgn * hl
            ly = -hw + 2.0 * hw * k / (nw - 1)
            v = clearance[e, _cell(y + s * lx + c * ly, g), _cell(x + c * lx - s * ly, g)]
            low = min(low, v)
    return low


@nb.njit(cache=True)
def _rollout(
    e, cmd, pose, vel, acc, apos, avel, ashape, dims, clearance, ctg, check_static, params
):
    """Roll one command out over the horizon.

    Returns (first time unsafe from actors or inf, first time off the static map or inf,
    smallest actor gap, smallest actor gap at the horizon, cost-to-go after 1 s).
    """
    horizon, static_h, margin, growth = params[0], params[1], params[2], params[3]
    dt = 0.1
    steps = int(horizon / dt + 0.5)
    g = clearance.shape[1]
    x, y, yaw = pose[e, 0], pose[e, 1], pose[e, 2]
    v0, v1, v2 = vel[e, 0], vel[e, 1], vel[e, 2]
    hl, hw = 0.5 * dims[e, 0], 0.5 * dims[e, 1]
    min_gap = 1e9
    end_gap = 1e9
    unsafe_t = math.inf
    static_t = math.inf
    yield_margin = params[5]
    pos_a = apos[e].copy()
    # Turning on the spot (the final alignment) sweeps the corners slowly: a smaller margin.
    if abs(cmd[0]) < 0.05 and abs(cmd[1]) < 0.05:
        margin, growth = min(margin, 0.1), 0.0
    now = _footprint_clearance(clearance, e, x, y, yaw, hl, hw)
    static_need = min(0.15, max(now - 0.01, 0.08))
    last_gap = np.empty(apos.shape[1])
    for a in range(apos.shape[1]):
        last_gap[a] = _actor_gap(ashape[e, a], pos_a[a, 0], pos_a[a, 1], x, y, yaw, hl, hw)
    ctg_1s = ctg[e, _cell(y, g), _cell(x, g)]
    for k in range(1, steps + 1):
        t = k * dt
        # Velocity towards the command within the acceleration limits.
        d0 = min(max(cmd[0] - v0, -acc[e, 0] * dt), acc[e, 0] * dt)
        d1 = min(max(cmd[1] - v1, -acc[e, 1] * dt), acc[e, 1] * dt)
        d2 = min(max(cmd[2] - v2, -acc[e, 2] * dt), acc[e, 2] * dt)
        v0 += d0
        v1 += d1
        v2 += d2
        c, s = math.cos(yaw), math.sin(yaw)
        x += (c * v0 - s * v1) * dt
        y += (s * v0 + c * v1) * dt
        yaw += v2 * dt
        for a in range(apos.shape[1]):
            if ashape[e, a, 0] <= 0.0:
                continue
            # Actors keep their velocity but never step closer than yield_margin to the body.
            ax = pos_a[a, 0] + avel[e, a, 0] * dt
            ay = pos_a[a, 1] + avel[e, a, 1] * dt
            gap_was = _actor_gap(ashape[e, a], pos_a[a, 0], pos_a[a, 1], x, y, yaw, hl, hw)
            gap = _actor_gap(ashape[e, a], ax, ay, x, y, yaw, hl, hw)
            if gap < yield_margin and gap < gap_was:
                ax, ay, gap = pos_a[a, 0], pos_a[a, 1], gap_was
            pos_a[a, 0] = ax
            pos_a[a, 1] = ay
            # Unsafe: inside the margin and closing in (an actor already close that the
            # command does not approach, e.g. one walking alongside, is no reason to stop).
            # Where the actor alone closes in, only inside `margin` itself: it yields first.
            closing = gap < last_gap[a] - 1e-3
            body_closing = gap_was < last_gap[a] - 1e-3
            last_gap[a] = gap
            if gap < min_gap:
                min_gap = gap
            if k == steps and gap < end_gap:
                end_gap = gap
            if (
                t < unsafe_t
                and gap < margin + growth * t
                and (body_closing or (closing and gap < margin))
            ):
                unsafe_t = t
        if t <= static_h + 1e-9:
            if check_static and static_t == math.inf:
                # 0.15 m off the walls, or no closer than now where the body already is.
                if _footprint_clearance(clearance, e, x, y, yaw, hl, hw) < static_need:
                    static_t = t
            if abs(t - 1.0) < 1e-6:
                ctg_1s = ctg[e, _cell(y, g), _cell(x, g)]
    return unsafe_t, static_t, min_gap, end_gap, ctg_1s


@nb.njit(parallel=True, cache=True)
def avoid_movers(
    out, pose, vel, goal, clearance, ctg, apos, avel, ashape, dims, low, high, acc, holo, radius,
    side, stuck, params,
):  # fmt: skip
    """Replace ``out[e]`` by a command safe from the moving obstacles where one is near.

    Args:
        out: (N, 3) tracker commands, updated in place.
        pose: (N, 3) world (x, y, yaw).
        vel: (N, 3) body velocity.
        goal: (N, 3) world goal (x, y, yaw).
        clearance: (N, G, G) static clearance, m.
        ctg: (N, G, G) cost-to-go to the goal.
        apos: (N, M, 2) actor positions, world m.
        avel: (N, M, 2) actor velocities, world m/s.
        ashape: (N, M, 4) each actor's (radius of the disc holding it (0: unused slot), half
            length, half width (0 for a person: the disc), yaw), m and rad.
        dims: (N, 2) footprint length and width, m.
        low: (N, 3) lower command limits.
        high: (N, 3) upper command limits.
        acc: (N, 3) acceleration limits.
        holo: (N,) bool, the body follows lateral commands.
        radius: (N,) circumscribed radius, m.
        side: (N,) int, side (-1, 0, +1) of the last avoidance, updated.
        stuck: (N,) int, steps the avoidance has held the body still (then, for as many
            steps, it backs away from the actors), updated.
        params: (horizon, static_horizon, margin, margin_growth, reach, yield_margin,
            patience, goal_reach).
    """
    n = pose.shape[0]
    reach = params[4]
    stuck_steps = int(params[6])
    goal_reach = params[7]
    g = clearance.shape[1]
    for e in nb.prange(n):
        x, y, yaw = pose[e, 0], pose[e, 1], pose[e, 2]
        near = False
        for a in range(apos.shape[1]):
            if ashape[e, a, 0] > 0.0:
                gap = _gap(apos[e, a, 0], apos[e, a, 1], ashape[e, a, 0], x, y, yaw,
                           0.5 * dims[e, 0], 0.5 * dims[e, 1])  # fmt: skip
                if gap < reach:
                    near = True
        if not near:
            side[e] = 0
            stuck[e] = 0
            continue
        # An actor walking close by is still on its way (past, or round the robot): waiting
        # for it is not being stuck. Only standing actors (cornered, or blocked by the body)
        # count towards backing away.
        walking = False
        for a in range(apos.shape[1]):
            if ashape[e, a, 0] > 0.0 and math.hypot(avel[e, a, 0], avel[e, a, 1]) > 0.05:
                gap = _gap(apos[e, a, 0], apos[e, a, 1], ashape[e, a, 0], x, y, yaw,
                           0.5 * dims[e, 0], 0.5 * dims[e, 1])  # fmt: skip
                if gap < 1.5:
                    walking = True
        nominal = out[e].copy()
        t_u, _, _, _, _ = _rollout(
            e, nominal, pose, vel, acc, apos, avel, ashape, dims, clearance, ctg, False, params
        )
        backing = stuck[e] >= stuck_steps
        if t_u == math.inf and not backing:
            side[e] = 0
            stuck[e] = 0
            continue
        ctg_now = ctg[e, _cell(y, g), _cell(x, g)]
        dist_goal = math.hypot(goal[e, 0] - x, goal[e, 1] - y)
        err_goal = (goal[e, 2] - yaw + math.pi) % (2.0 * math.pi) - math.pi
        vmax, wmax = high[e, 0], high[e, 2]
        lateral = holo[e] and high[e, 1] >= 0.3 * high[e, 0]
        best = np.zeros(3)
        best_score = -1e18
        best_side = 0
        fallback = np.zeros(3)
        fallback_key = -1e18
        cand = np.zeros(3)
        n_dir = 12 if lateral else 5
        # Speed scales: forward (the 12 directions for lateral bodies), reverse (others), stop.
        for si in range(5):
            scale = (1.0, 0.6, 0.3, -1.0, 0.0)[si]
            if lateral and si == 3:
                continue
            for k in range(n_dir if si < 4 else 2):
                if si == 4:
                    # Stand; within reach of the goal, also turn on the spot to its heading
                    # (all that is left to finish).
                    if k == 1 and dist_goal > goal_reach:
                        continue
                    cand[0] = 0.0
                    cand[1] = 0.0
                    cand[2] = 0.0 if k == 0 else min(max(2.0 * err_goal, -wmax), wmax)
                    sd = 0
                elif lateral:
                    # Translate in 12 directions of the body frame, keep turning as tracked.
                    ang = 2.0 * math.pi * k / n_dir
                    sp = scale * vmax
                    cand[0] = sp * math.cos(ang)
                    cand[1] = sp * math.sin(ang)
                    cand[2] = nominal[2] if scale > 0.0 else 0.0
                    sd = 0 if (k == 0 or 2 * k == n_dir) else (1 if k < n_dir // 2 else -1)
                else:
                    w = (-1.0, -0.5, 0.0, 0.5, 1.0)[k] * wmax if scale > 0.0 else 0.0
                    cand[0] = scale * vmax
                    cand[1] = 0.0
                    cand[2] = w
                    sd = 0 if k == 2 else (1 if w > 0 else -1)
                for q in range(3):
                    cand[q] = min(max(cand[q], low[e, q]), high[e, q])
                t_c, t_s, gap_c, end_c, ctg_c = _rollout(
                    e, cand, pose, vel, acc, apos, avel, ashape, dims, clearance, ctg, True, params
                )
                if t_s < math.inf and scale != 0.0:
                    continue  # into a static obstacle
                if t_c == math.inf:
                    if ctg_c >= grid.INF:
                        continue
                    score = (ctg_now - ctg_c) + 0.3 * min(gap_c, 1.0)
                    if si == 4 and k == 1:
                        score += 1.0  # finishing beats any move
                    if backing:  # make room: an actor cornered by the body cannot leave
                        score = min(end_c, 2.0) + 0.1 * (ctg_now - ctg_c)
                    if side[e] != 0 and sd == side[e]:
                        score += 0.3
                    if score > best_score:
                        best_score = score
                        best_side = sd
                        best[:] = cand
                else:
                    key = t_c + 0.1 * min(gap_c, 1.0)
                    if key > fallback_key:
                        fallback_key = key
                        fallback[:] = cand
        if best_score > -1e18:
            out[e] = best
            side[e] = best_side
        else:
            out[e] = fallback
            side[e] = 0
        # Held still (or backing away): count, and after as many steps back, start again.
        if backing or (abs(out[e, 0]) + abs(out[e, 1]) < 0.05 and not walking):
            stuck[e] += 1
            if stuck[e] >= 2 * stuck_steps:
                stuck[e] = 0
        elif stuck[e] < stuck_steps:
            stuck[e] = 0


def actor_params(cfg: AvoidConfig) -> np.ndarray:
    """The kernel's parameter vector of ``cfg``."""
    return np.array(
        [
            cfg.horizon,
            cfg.static_horizon,
            cfg.margin,
            cfg.margin_growth,
            cfg.reach,
            cfg.yield_margin,
            cfg.patience,
            cfg.goal_reach,
        ],
        np.float64,
    )


def actor_shapes(privileged: dict) -> np.ndarray:
    """(N, M, 4) actor shapes for :func:`avoid_movers` from ``NavVectorEnv.privileged()``."""
    from compass_nav.sim.actors import CART

    size = privileged["actors_size"]
    cart = privileged["actors_kind"] == CART
    return np.stack(
        [
            privileged["actors_radius"],
            np.where(cart, size[..., 0], 0.0),
            np.where(cart, size[..., 1], 0.0),
            privileged["actors_yaw"],
        ],
        -1,
    ).astype(np.float64)
