"""Moving obstacles ("actors"): people and carts that walk through the scene, batched.

How it is wired in: :class:`NavVectorEnv` owns one :class:`Actors` when
``SimConfig.moving_obstacles > 0``. At each reset it calls :meth:`Actors.reset_env` with the
episode's planned route, which spawns the env's actors relative to it and stamps them into
that env's height/material grid. Each ``step`` calls :meth:`Actors.step` before the bodies
move: every actor is lifted off the grid (its cells restored), moved, and stamped again. So
the renderer shows actors in RGB and depth and the body's footprint collision kernel hits
them with no change to either; the static clearance and cost-to-go fields (the map the
planner knows) never contain them.

Shapes: a person is a disc (radius 0.25-0.3 m, 1.6-1.85 m tall), a cart an oriented box
(about 1.0 x 0.6 m, about 1 m tall) whose long side follows its motion; carts walk warehouses
and halls, not offices (:data:`CART_SHARE`). Speeds are 0.3-1.5 m/s.

Encounters, spawned relative to the route start -> goal so that most episodes meet one:

* ``cross``: the actor starts beside a route point and walks across the route, timed to
  reach it about when the robot does (it stands still for a while when it cannot start far
  enough away);
* ``head_on``: the actor starts on the route ahead and walks it backwards, towards the robot;
* ``overtake``: the actor starts behind the robot and walks the route forwards, faster than
  the robot.

After its waypoints an actor walks free for :data:`FREE_WALK_STEPS` steps, then leaves the
scene (its slot empties) once the robot cannot see it (more than 65 degrees off its heading
and beyond 1.5 m, or beyond :data:`LEAVE_DISTANCE`), and at the latest :data:`LINGER_STEPS`
steps later even in sight: people pass through, they do not crowd a room or pace a
corridor in front of the robot for ever.

Behaviour is simple and deterministic (all randomness is drawn from the env's generator at
reset): an actor follows its waypoints, then walks straight on; it never enters a static
obstacle (at a wall it turns back along one or both axes, or turns) and never walks into the robot:
when its next move would bring it within :data:`YIELD_MARGIN` of the robot's footprint and
closer to it, it steps round the robot (following waypoints 45 or 90 degrees off its way,
walking free 90, 135 or 180 degrees, whichever keeps farthest from it) or, when it cannot,
stands; obstructed for :data:`PATIENCE` steps, a follower gives up its waypoints and walks
free. An actor the walls leave no move at all (a cart on a route through a gap it does not
fit) gives up its waypoints after :data:`PATIENCE` steps too, and after as many more ends its
walk free (it leaves as above). A collision
with an actor is therefore always the robot's move. Actors may overlap each other (the first
one stamped owns the shared cells).

Per-step work is one numba kernel parallel over environments.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from compass_nav.sim.scenes.base import BOX, FURNITURE, GRID_CELLS, RESOLUTION

#: Actor kinds (0: slot unused).
NONE, PERSON, CART = 0, 1, 2
#: Encounter kinds drawn at spawn.
ENCOUNTERS = ("cross", "head_on", "overtake")
ENCOUNTER_P = (0.4, 0.4, 0.2)
#: Waypoints an actor can follow (0.5 m apart along a route of up to 31.5 m, sparser beyond).
MAX_WAYPOINTS = 64
#: Cells one actor can cover (a 1.1 x 0.65 m box covers about 80).
MAX_CELLS = 160
#: m between an actor's outline and the robot's footprint below which it will not step closer.
YIELD_MARGIN = 0.3
#: Control steps an actor stands blocked by the robot before it turns round.
PATIENCE = 20
#: m: an actor this close to the body while both move counts as an encounter.
ENCOUNTER_DISTANCE = 1.5
#: m/s: slower counts as standing (robot and actor alike) for encounters.
MOVING_SPEED = 0.05
#: Share of carts among the actors per scene family: none in offices, whose doors and
#: furnished rooms leave a 1 m cart no way round a robot.
CART_SHARE = {"warehouse": 0.35, "hall": 0.25, "office": 0.0}
DEFAULT_CART_SHARE = 0.25
#: Control steps an actor walks free after its waypoints before it leaves the scene.
FREE_WALK_STEPS = 60
#: m beyond which an actor may leave the scene even in front of the robot.
LEAVE_DISTANCE = 8.0
#: Control steps an actor whose walk is over stays in sight of the robot before it leaves
#: anyway (into a room, round a corner): without it, people bouncing between a corridor's
#: walls right in front of a waiting robot would block its door for ever.
LINGER_STEPS = 50
#: Turns (rad) an actor tries to step round the robot: followers the first four.
_DODGE = (0.25 * math.pi, -0.25 * math.pi, 0.5 * math.pi, -0.5 * math.pi, 0.75 * math.pi,
          -0.75 * math.pi, math.pi)  # fmt: skip
#: Materials actors are drawn with (colours are the scene's).
PERSON_MATERIAL = FURNITURE
CART_MATERIAL = BOX


# --------------------------------------------------------------------------- geometry kernels
@nb.njit(cache=True)
def _cover(x, y, yaw, kind, hl, hw, g, out):
    """Flat indices of the grid cells whose centres the actor covers; -1 if off the grid.

    A person is the disc of radius ``hl``; a cart the rectangle of half-sides (``hl``, ``hw``)
    rotated by ``yaw``. Writes into ``out`` and returns the count.
    """
    r = hl if kind == PERSON else math.hypot(hl, hw)
    i0 = int(math.floor((y - r) / RESOLUTION))
    i1 = int(math.floor((y + r) / RESOLUTION))
    j0 = int(math.floor((x - r) / RESOLUTION))
    j1 = int(math.floor((x + r) / RESOLUTION))
    if i0 < 0 or j0 < 0 or i1 >= g or j1 >= g:
        return -1
    c, s = math.cos(yaw), math.sin(yaw)
    n = 0
    for i in range(i0, i1 + 1):
        cy = (i + 0.5) * RESOLUTION - y
        for j in range(j0, j1 + 1):
            cx = (j + 0.5) * RESOLUTION - x
            if kind == PERSON:
                inside = cx * cx + cy * cy <= r * r
            else:
                lx = c * cx + s * cy
                ly = -s * cx + c * cy
                inside = abs(lx) <= hl and abs(ly) <= hw
            if inside and n < out.shape[0]:
                out[n] = i * g + j
                n += 1
    return n


@nb.njit(cache=True)
def _free(height, x, y, yaw, kind, hl, hw, buf):
    """True when the actor at (x, y, yaw) covers only free cells of ``height``."""
    g = height.shape[0]
    n = _cover(x, y, yaw, kind, hl, hw, g, buf)
    if n < 0:
        return False
    for k in range(n):
        i, j = divmod(buf[k], g)
        if height[i, j] > 0:
            return False
    return True


@nb.njit(cache=True)
def _gap_to_body(ax, ay, r, px, py, pyaw, hl, hw):
    """M between a disc (ax, ay, r) and the rectangle (px, py, pyaw, half-sides hl, hw)."""
    c, s = math.cos(pyaw), math.sin(pyaw)
    dx, dy = ax - px, ay - py
    lx = c * dx + s * dy
    ly = -s * dx + c * dy
    ex = max(abs(lx) - hl, 0.0)
    ey = max(abs(ly) - hw, 0.0)
    return math.hypot(ex, ey) - r


@nb.njit(cache=True)
def bound_radius(kind, hl, hw):
    """Radius of the disc that holds the actor's outline, m."""
    return hl if kind == PERSON else math.hypot(hl, hw)


# --------------------------------------------------------------------------- stamping
@nb.njit(cache=True)
def _unstamp_env(height, material, cells, ncell, old_mat, e):
    g = height.shape[1]
    for a in range(cells.shape[1] - 1, -1, -1):
        for k in range(ncell[e, a]):
            i, j = divmod(cells[e, a, k], g)
            height[e, i, j] = 0.0
            material[e, i, j] = old_mat[e, a, k]
        ncell[e, a] = 0


@nb.njit(cache=True)
def _stamp_env(height, material, kind, pos, yaw, half, tall, cells, ncell, old_mat, buf, e):
    g = height.shape[1]
    for a in range(kind.shape[1]):
        ncell[e, a] = 0
        if kind[e, a] == NONE:
            continue
        n = _cover(
            pos[e, a, 0], pos[e, a, 1], yaw[e, a], kind[e, a], half[e, a, 0], half[e, a, 1], g, buf
        )
        mat = PERSON_MATERIAL if kind[e, a] == PERSON else CART_MATERIAL
        m = 0
        for k in range(max(n, 0)):
            i, j = divmod(buf[k], g)
            if height[e, i, j] > 0:  # a static obstacle or an actor stamped before
                continue
            cells[e, a, m] = buf[k]
            old_mat[e, a, m] = material[e, i, j]
            height[e, i, j] = tall[e, a]
            material[e, i, j] = mat
            m += 1
        ncell[e, a] = m


@nb.njit(cache=True)
def stamp(height, material, kind, pos, yaw, half, tall, cells, ncell, old_mat, e):
    """Stamp every actor of env ``e`` into its grids (after :func:`unstamp`)."""
    buf = np.empty(cells.shape[2], np.int64)
    _stamp_env(height, material, kind, pos, yaw, half, tall, cells, ncell, old_mat, buf, e)


@nb.njit(cache=True)
def unstamp(height, material, cells, ncell, old_mat, e):
    """Restore the cells env ``e``'s actors cover to the floor they were."""
    _unstamp_env(height, material, cells, ncell, old_mat, e)


# --------------------------------------------------------------------------- stepping
@nb.njit(cache=True)
def _try_move(height, x, y, dx, dy, kind, hl, hw, buf):
    """Free move closest to (dx, dy): itself, mirrored on x, y or both (a bounce), else turned.

    Returns (ux, uy, found).
    """
    for m in range(10):
        if m < 4:
            ux = -dx if (m == 1 or m == 3) else dx
            uy = -dy if (m == 2 or m == 3) else dy
        else:
            ang = _DODGE[m - 4]
            ca, sa = math.cos(ang), math.sin(ang)
            ux, uy = ca * dx - sa * dy, sa * dx + ca * dy
        if _free(height, x + ux, y + uy, math.atan2(uy, ux), kind, hl, hw, buf):
            return ux, uy, True
    return dx, dy, False


@nb.njit(parallel=True, cache=True)
def step_actors(
    height,
    material,
    active,
    robot_pose,
    robot_half,
    robot_speed,
    kind,
    pos,
    vel,
    heading,
    speed,
    yaw,
    half,
    tall,
    delay,
    wait,
    waypoints,
    n_wp,
    wp_i,
    free_left,
    cells,
    ncell,
    old_mat,
    encounter,
    dt,
):
    """Move every actor of every active env one control period and re-stamp it.

    Args:
        height: (N, G, G) float32 heights, updated in place.
        material: (N, G, G) uint8 materials, updated in place.
        active: (N,) bool, envs to step.
        robot_pose: (N, 3) robot (x, y, yaw).
        robot_half: (N, 2) half length and half width of the robot's footprint, m.
        robot_speed: (N,) robot speed, m/s (for encounters).
        kind: (N, M) actor kinds (NONE, PERSON, CART).
        pos: (N, M, 2) world position, m.
        vel: (N, M, 2) velocity over this step, m/s (0 while standing).
        heading: (N, M, 2) unit walking direction.
        speed: (N, M) walking speed, m/s.
        yaw: (N, M) outline orientation, rad.
        half: (N, M, 2) half length (a person's radius) and half width, m.
        tall: (N, M) height, m.
        delay: (N, M) control steps to stand before starting, counted down.
        wait: (N, M) control steps stood blocked by the robot or wedged by the walls.
        waypoints: (N, M, W, 2) world waypoints.
        n_wp: (N, M) waypoints in use.
        wp_i: (N, M) index of the next waypoint (n_wp: walking free).
        free_left: (N, M) control steps left to walk free after the waypoints (down to
            -LINGER_STEPS while it lingers in sight); then the actor
            leaves the scene (its slot turns NONE) once the robot cannot see it.
        cells: (N, M, C) flat indices of the stamped cells.
        ncell: (N, M) stamped cells in use.
        old_mat: (N, M, C) the floor material under each stamped cell.
        encounter: (N,) bool, set when an actor moving comes within ENCOUNTER_DISTANCE of the
            robot moving (never cleared here).
        dt: control period, s.
    """
    n = kind.shape[0]
    for e in nb.prange(n):
        if not active[e]:
            continue
        buf = np.empty(cells.shape[2], np.int64)
        _unstamp_env(height, material, cells, ncell, old_mat, e)
        px, py, pyaw = robot_pose[e, 0], robot_pose[e, 1], robot_pose[e, 2]
        rhl, rhw = robot_half[e, 0], robot_half[e, 1]
        for a in range(kind.shape[1]):
            k = kind[e, a]
            vel[e, a, 0] = 0.0
            vel[e, a, 1] = 0.0
            if k == NONE:
                continue
            if delay[e, a] > 0:
                delay[e, a] -= 1
                continue
            hl, hw = half[e, a, 0], half[e, a, 1]
            x, y = pos[e, a, 0], pos[e, a, 1]
            if wp_i[e, a] >= n_wp[e, a]:
                if free_left[e, a] > -LINGER_STEPS:
                    free_left[e, a] -= 1
                if free_left[e, a] <= -LINGER_STEPS or (
                    free_left[e, a] <= 0 and _out_of_sight(x, y, px, py, pyaw)
                ):
                    kind[e, a] = NONE  # its walk is over: it leaves the scene
                    continue
            step = speed[e, a] * dt
            hx, hy = heading[e, a, 0], heading[e, a, 1]
            following = wp_i[e, a] < n_wp[e, a]
            if following:
                wx = waypoints[e, a, wp_i[e, a], 0] - x
                wy = waypoints[e, a, wp_i[e, a], 1] - y
                d = math.hypot(wx, wy)
                if d <= step:
                    wp_i[e, a] += 1
                    step = d
                if d > 1e-9:
                    hx, hy = wx / d, wy / d
            ux, uy, ok = _try_move(height[e], x, y, hx * step, hy * step, k, hl, hw, buf)
            if not ok:
                # Wedged by the walls (a cart on a route through a gap it does not fit):
                # after PATIENCE steps a follower gives up its waypoints, and a free walker
                # ends its walk (it leaves once out of sight, at the latest LINGER_STEPS on).
                wait[e, a] += 1
                if wait[e, a] >= PATIENCE:
                    wait[e, a] = 0
                    if following:
                        wp_i[e, a] = n_wp[e, a]
                    else:
                        free_left[e, a] = min(free_left[e, a], 0)
                continue
            if following and (ux != hx * step or uy != hy * step):
                wp_i[e, a] = n_wp[e, a]  # pushed off its path by a wall: walk free from here
            # Never step into the robot: step round it (following waypoints: 45 or 90 degrees
            # off; walking free: 90, 135 or 180), the way that keeps farthest, else stand.
            # Obstructed for PATIENCE steps, a follower gives up its waypoints.
            r = bound_radius(k, hl, hw)
            gap_now = _gap_to_body(x, y, r, px, py, pyaw, rhl, rhw)
            gap_next = _gap_to_body(x + ux, y + uy, r, px, py, pyaw, rhl, rhw)
            if gap_next < YIELD_MARGIN and gap_next < gap_now:
                wait[e, a] += 1
                if following and wait[e, a] >= PATIENCE:
                    wait[e, a] = 0
                    wp_i[e, a] = n_wp[e, a]
                    following = False
                # Following: 45 or 90 degrees off; walking free: any way but on.
                q0 = 0 if following else 2
                q1 = 4 if following else 7
                best = -1.0
                bx, by = 0.0, 0.0
                for q in range(q0, q1):
                    ang = _DODGE[q]
                    ca, sa = math.cos(ang), math.sin(ang)
                    vx, vy = ca * ux - sa * uy, sa * ux + ca * uy
                    g2 = _gap_to_body(x + vx, y + vy, r, px, py, pyaw, rhl, rhw)
                    if (g2 >= YIELD_MARGIN or g2 >= gap_now) and g2 > best:
                        if _free(height[e], x + vx, y + vy, math.atan2(vy, vx), k, hl, hw, buf):
                            best = g2
                            bx, by = vx, vy
                if best < 0.0:
                    continue
                ux, uy, gap_next = bx, by, best
                if not following:
                    wait[e, a] = 0
            elif gap_next > 1.0:
                wait[e, a] = 0  # clear of the robot
            norm = math.hypot(ux, uy)
            if norm > 1e-9:
                heading[e, a, 0] = ux / norm
                heading[e, a, 1] = uy / norm
                yaw[e, a] = math.atan2(uy, ux)
            pos[e, a, 0] = x + ux
            pos[e, a, 1] = y + uy
            vel[e, a, 0] = ux / dt
            vel[e, a, 1] = uy / dt
            if (
                norm / dt > MOVING_SPEED
                and robot_speed[e] > MOVING_SPEED
                and gap_next < ENCOUNTER_DISTANCE
            ):
                encounter[e] = True
        _stamp_env(height, material, kind, pos, yaw, half, tall, cells, ncell, old_mat, buf, e)


@nb.njit(cache=True)
def _out_of_sight(x, y, px, py, pyaw):
    """True when the robot cannot see (x, y).

    That is: beyond LEAVE_DISTANCE, or beyond 1.5 m and more than 65 degrees off the robot's
    heading (wider than any camera's field of view).
    """
    d = math.hypot(x - px, y - py)
    if d > LEAVE_DISTANCE:
        return True
    bearing = math.atan2(y - py, x - px) - pyaw
    bearing = (bearing + math.pi) % (2.0 * math.pi) - math.pi
    return d > 1.5 and abs(bearing) > 1.134


@nb.njit(cache=True)
def touching(cells, ncell, e, x, y, yaw, hl, hw, margin):
    """True when a cell env ``e``'s actors cover lies within ``margin`` of the footprint.

    The footprint is the rectangle of half-sides (hl, hw) at (x, y, yaw); a cell counts by
    its centre, with half a cell's diagonal added to ``margin``.
    """
    g = GRID_CELLS
    c, s = math.cos(yaw), math.sin(yaw)
    reach = margin + 0.71 * RESOLUTION
    for a in range(cells.shape[1]):
        for k in range(ncell[e, a]):
            i, j = divmod(cells[e, a, k], g)
            dx = (j + 0.5) * RESOLUTION - x
            dy = (i + 0.5) * RESOLUTION - y
            lx = abs(c * dx + s * dy) - hl
            ly = abs(-s * dx + c * dy) - hw
            if math.hypot(max(lx, 0.0), max(ly, 0.0)) <= reach:
                return True
    return False


# --------------------------------------------------------------------------- the batch
class _Route:
    """A polyline with arc-length lookup (spawning helper)."""

    def __init__(self, points: np.ndarray) -> None:
        self.p = np.asarray(points, np.float64)
        seg = np.hypot(*np.diff(self.p, axis=0).T) if len(self.p) > 1 else np.zeros(0)
        self.s = np.concatenate([[0.0], np.cumsum(seg)])
        self.length = float(self.s[-1])

    def at(self, s: float) -> np.ndarray:
        s = min(max(s, 0.0), self.length)
        return np.array([np.interp(s, self.s, self.p[:, 0]), np.interp(s, self.s, self.p[:, 1])])

    def tangent(self, s: float, span: float = 0.4) -> np.ndarray:
        d = self.at(s + span) - self.at(s - span)
        n = np.hypot(*d)
        return d / n if n > 1e-9 else np.array([1.0, 0.0])

    def samples(self, s0: float, s1: float, count: int) -> np.ndarray:
        """``count`` points from arc length s0 to s1 (either direction), ends included."""
        return np.stack([self.at(s) for s in np.linspace(s0, s1, count)])


class Actors:
    """The moving obstacles of every env of a :class:`~compass_nav.sim.env.NavVectorEnv`.

    Arrays are (N, M, ...) with M = ``count`` actor slots per env; a slot whose ``kind`` is
    :data:`NONE` is unused in this episode (no free place was found for it).
    """

    def __init__(self, num_envs: int, count: int) -> None:
        n, m = num_envs, count
        self.count = m
        self.kind = np.zeros((n, m), np.int64)
        self.pos = np.zeros((n, m, 2))
        self.vel = np.zeros((n, m, 2))
        self.heading = np.zeros((n, m, 2))
        self.speed = np.zeros((n, m))
        self.yaw = np.zeros((n, m))
        self.half = np.zeros((n, m, 2))
        self.tall = np.zeros((n, m), np.float32)
        self.delay = np.zeros((n, m), np.int64)
        self.wait = np.zeros((n, m), np.int64)
        self.waypoints = np.zeros((n, m, MAX_WAYPOINTS, 2))
        self.n_wp = np.zeros((n, m), np.int64)
        self.wp_i = np.zeros((n, m), np.int64)
        self.free_left = np.zeros((n, m), np.int64)
        self.cells = np.zeros((n, m, MAX_CELLS), np.int64)
        self.ncell = np.zeros((n, m), np.int64)
        self.old_mat = np.zeros((n, m, MAX_CELLS), np.uint8)
        self.encounter = np.zeros(n, bool)
        self.encounter_kind = np.full((n, m), -1, np.int64)  # index into ENCOUNTERS

    # ------------------------------------------------------------------ reset
    def reset_env(
        self,
        e: int,
        rng: np.random.Generator,
        height: np.ndarray,
        material: np.ndarray,
        route: np.ndarray,
        start_pose: np.ndarray,
        body_half: tuple[float, float],
        robot_speed: float,
        dt: float,
        family: str = "",
    ) -> None:
        """Spawn env ``e``'s actors for a new episode and stamp them into its grids.

        Args:
            e: Env slot.
            rng: The env's generator (all randomness of the episode's actors comes from it).
            height: (G, G) the env's heights, freshly reset to the scene (no actors).
            material: (G, G) the env's materials.
            route: (P, 2) world polyline start -> goal (the planned path).
            start_pose: Robot (x, y, yaw) at the start.
            body_half: Half length and half width of the robot's footprint, m.
            robot_speed: The body's forward speed limit, m/s (times encounters).
            dt: Control period, s.
            family: Scene family: the share of carts among the actors is
                :data:`CART_SHARE` of it (else :data:`DEFAULT_CART_SHARE`).
        """
        self.kind[e] = NONE
        self.vel[e] = 0.0
        self.ncell[e] = 0
        self.delay[e] = 0
        self.wait[e] = 0
        self.n_wp[e] = 0
        self.wp_i[e] = 0
        self.free_left[e] = FREE_WALK_STEPS
        self.encounter[e] = False
        self.encounter_kind[e] = -1
        path = _Route(route if len(route) >= 2 else np.stack([start_pose[:2]] * 2))
        buf = np.empty(MAX_CELLS, np.int64)
        for a in range(self.count):
            enc = int(rng.choice(len(ENCOUNTERS), p=ENCOUNTER_P))
            person = rng.random() >= CART_SHARE.get(family, DEFAULT_CART_SHARE)
            if person:
                kind, hl = PERSON, rng.uniform(0.25, 0.3)
                hw, tall = hl, rng.uniform(1.6, 1.85)
                speed = rng.uniform(0.3, 1.5)
            else:
                kind, hl = CART, 0.5 * rng.uniform(0.9, 1.1)
                hw, tall = 0.5 * rng.uniform(0.55, 0.65), rng.uniform(0.9, 1.1)
                speed = rng.uniform(0.3, 1.2)
            u = rng.uniform(0.0, 1.0, 4)  # the spawn's own draws, fixed in number
            spawned = None
            for attempt in (enc, 1, 0):  # fall back to head-on, then crossing
                spawned = self._place(
                    ENCOUNTERS[attempt], u, path, height, kind, hl, hw, speed,
                    start_pose, body_half, robot_speed, dt, buf,
                )  # fmt: skip
                if spawned is not None:
                    enc = attempt
                    break
            if spawned is None:
                continue
            p0, heading, speed, wps, delay = spawned
            self.kind[e, a] = kind
            self.pos[e, a] = p0
            self.heading[e, a] = heading
            self.yaw[e, a] = math.atan2(heading[1], heading[0])
            self.speed[e, a] = speed
            self.half[e, a] = (hl, hw)
            self.tall[e, a] = tall
            self.delay[e, a] = delay
            self.n_wp[e, a] = len(wps)
            if len(wps):
                self.waypoints[e, a, : len(wps)] = wps
            self.encounter_kind[e, a] = enc
        self._stamp_one(height, material, e)

    def place(
        self,
        e: int,
        a: int,
        height: np.ndarray,
        material: np.ndarray,
        kind: int,
        position,
        heading,
        speed: float,
        size: tuple[float, float] = (0.28, 0.28),
        tall: float = 1.75,
        waypoints=None,
        delay: int = 0,
    ) -> None:
        """Put actor slot ``a`` of env ``e`` at ``position`` (scripted scenarios and tests).

        Args:
            e: Env slot.
            a: Actor slot.
            height: (G, G) that env's heights (the actor is restamped into them).
            material: (G, G) that env's materials.
            kind: :data:`PERSON`, :data:`CART` or :data:`NONE` (empties the slot).
            position: World (x, y), m.
            heading: Walking direction (x, y), any length > 0.
            speed: m/s.
            size: Half length (a person's radius) and half width, m.
            tall: Height, m.
            waypoints: (P, 2) world points to walk through first, or None.
            delay: Control steps to stand before starting.
        """
        unstamp(height[None], material[None], self.cells[e : e + 1], self.ncell[e : e + 1],
                self.old_mat[e : e + 1], 0)  # fmt: skip
        h = np.asarray(heading, np.float64)
        h = h / max(float(np.hypot(*h)), 1e-9)
        self.kind[e, a] = kind
        self.pos[e, a] = position
        self.heading[e, a] = h
        self.yaw[e, a] = math.atan2(h[1], h[0])
        self.speed[e, a] = speed
        self.half[e, a] = size
        self.tall[e, a] = tall
        self.delay[e, a] = delay
        self.wait[e, a] = 0
        wps = np.zeros((0, 2)) if waypoints is None else np.asarray(waypoints, np.float64)
        self.n_wp[e, a] = len(wps)
        self.wp_i[e, a] = 0
        self.waypoints[e, a, : len(wps)] = wps
        self.free_left[e, a] = FREE_WALK_STEPS
        self._stamp_one(height, material, e)

    def _stamp_one(self, height, material, e) -> None:
        h = height[None]
        m = material[None]
        sl = slice(e, e + 1)
        ncell = self.ncell[sl].copy()
        stamp(
            h, m, self.kind[sl], self.pos[sl], self.yaw[sl], self.half[sl], self.tall[sl],
            self.cells[sl], ncell, self.old_mat[sl], 0,
        )  # fmt: skip
        self.ncell[e] = ncell[0]

    def _place(
        self, enc, u, path, height, kind, hl, hw, speed, start, body_half, robot_speed, dt, buf
    ):
        """Spawn of one encounter: (position, heading, speed, waypoints, delay) or None."""
        r = bound_radius(kind, hl, hw)
        v_robot = max(0.6 * robot_speed, 0.1)
        sx, sy, syaw = (float(v) for v in start[:3])

        def ok(p, heading, min_gap):
            yaw = math.atan2(heading[1], heading[0])
            if not _free(height, p[0], p[1], yaw, kind, hl, hw, buf):
                return False
            return _gap_to_body(p[0], p[1], r, sx, sy, syaw, *body_half) >= min_gap

        def along(s0, s1):
            span = abs(s1 - s0)
            count = int(min(MAX_WAYPOINTS, max(2, math.ceil(span / 0.5) + 1)))
            return path.samples(s0, s1, count)

        L = path.length
        if enc == "cross":
            s = L * (0.25 + 0.5 * u[0])
            p = path.at(s)
            t = path.tangent(s)
            normal = np.array([-t[1], t[0]]) * (1.0 if u[1] < 0.5 else -1.0)
            want = max(speed * (s / v_robot) * (0.8 + 0.4 * u[2]), 1.2)
            for side in (normal, -normal):
                best = None
                d = 0.8
                while d <= want + 1e-9:
                    q = p + side * d
                    if not ok(q, -side, 1.0):
                        if best is not None:
                            break  # the free stretch from the route has ended
                    else:
                        best = d
                    d += RESOLUTION
                if best is None or best < 0.8:
                    continue
                delay = int(round((want - best) / speed / dt))
                q = p + side * best
                # Across the route and on, as far as the scene lets it.
                wps = np.stack([p, p - side * (best + 0.5)])
                return q, -side, speed, wps, delay
            return None
        if enc == "head_on":
            for frac in (0.75 + 0.25 * u[0], 0.6, 1.0, 0.45):
                s = L * frac
                if s < 2.0:
                    continue
                q = path.at(s)
                heading = -path.tangent(s)
                if ok(q, heading, 1.5):
                    return q, heading, speed, along(s, 0.0), 0
            return None
        if enc == "overtake":
            fast = min(1.5, max(speed, 1.3 * robot_speed + 0.2))
            if fast < 1.1 * robot_speed + 0.1:
                return None  # this body outruns every actor
            t0 = path.tangent(0.0)
            back = 1.5 + 1.5 * u[0]
            while back >= 1.2:
                q = path.at(0.0) - t0 * back
                if ok(q, t0, 0.8):
                    wps = np.concatenate([q[None], along(0.0, L)[: MAX_WAYPOINTS - 1]])
                    return q, t0, fast, wps, 0
                back -= RESOLUTION * 2
            return None
        raise ValueError(f"unknown encounter {enc!r}")

    # ------------------------------------------------------------------ step
    def step(self, height, material, active, robot_pose, robot_half, robot_speed, dt) -> None:
        """Move every actor of the active envs and re-stamp them (see :func:`step_actors`)."""
        step_actors(
            height, material, active, robot_pose, robot_half, robot_speed, self.kind,
            self.pos, self.vel, self.heading, self.speed, self.yaw, self.half, self.tall,
            self.delay, self.wait, self.waypoints, self.n_wp, self.wp_i, self.free_left,
            self.cells, self.ncell, self.old_mat, self.encounter, dt,
        )  # fmt: skip

    def hit(self, e: int, pose: np.ndarray, body_half, margin: float = 0.15) -> bool:
        """Whether env ``e``'s body at ``pose`` is within ``margin`` of an actor's cells."""
        return bool(
            touching(self.cells, self.ncell, e, float(pose[0]), float(pose[1]),
                     float(pose[2]), float(body_half[0]), float(body_half[1]), margin)
        )  # fmt: skip

    def radius(self) -> np.ndarray:
        """(N, M) radius of the disc that holds each actor, m (0 for an unused slot)."""
        r = np.where(
            self.kind == PERSON, self.half[..., 0], np.hypot(*np.moveaxis(self.half, -1, 0))
        )
        return np.where(self.kind == NONE, 0.0, r)
