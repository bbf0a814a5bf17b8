"""Stall rescue for bodies that turn on the spot: shuffle out on an SE(2) plan.

The teacher's tracker follows the grid route with the body's centre, and the guard
(:mod:`compass_nav.teacher.guard`) refuses commands that would touch anything. A long body can
end up where every forward or turning command touches something -- turning 90 degrees out of a
gap beside a wall, or into a goal pose between boxes -- and the tracker's remedy, backing up
straight, brings it back to the same place. There a few shuffles would do: back a little, turn
a little, forward.

When the teacher detects a stall (``TeacherConfig.stall_steps`` without progress), it asks
:meth:`SpinRescue.start` for a straight-and-turn plan (:func:`compass_nav.planner.spin.plan`)
from the body's pose to the goal pose, when the goal is near, or else to a pose on the route
:data:`AHEAD` m further on. Found, the rescue drives the plan segment by segment -- turns on
the spot to each heading, straight moves at :data:`SPEED` m/s with heading and lateral
correction -- and hands back to the tracker at its end, or earlier, at the first segment
after which no reverse move is left and the body faces along the route or has room to
turn on the spot. A body that strays from a segment re-plans; after
:data:`MAX_PLANS` plans without reaching the target the rescue gives up and the teacher backs
up as before.
"""

from __future__ import annotations

import math

import numpy as np

from compass_nav.contract.geometry import RESOLUTION
from compass_nav.planner import grid, spin
from compass_nav.planner.footprint import footprint_collides
from compass_nav.planner.hybrid import heuristic_grid

#: Route distance (m) to the rescue's target pose when the goal is farther (tried in order).
AHEAD = (3.0, 3.5, 2.5, 4.0, 2.0)
#: Geodesic distance (m) within which the target is the goal pose itself.
GOAL_NEAR = 3.5
#: Heading tolerance at the target: the goal pose, a pose on the route, rad.
GOAL_HEADING = 0.06
ROUTE_HEADING = 0.6
#: Straight moves: speed (m/s); gains on heading (1/s) and lateral error (rad/s per m).
SPEED = 0.6
SPEED_SHARE = 0.6  # and at most this share of the body's top speed
K_HEAD = 2.0
K_LAT = 3.0
#: Turns on the spot: gain (1/s), largest rate as a share of the body's limit, done within (rad).
K_TURN = 2.5
TURN_SHARE = 0.8
TURN_DONE = 0.02
#: A straight segment is done within this distance of its end, m.
MOVE_DONE = 0.02
#: Strayed: lateral error (m) or heading error (rad) on a straight segment; steps on one segment.
STRAY_LAT = 0.12
STRAY_HEADING = 0.3
SEGMENT_STEPS = 60
#: The tracker takes over where no reverse move is left and the clearance at the body's
#: centre exceeds its circumscribed radius by this much (m): it can turn freely there.
FREE_MARGIN = 0.05
#: ... or where the route's direction over its next ALIGN_POINTS cells is within
#: ALIGN_HEADING rad of the body's heading.
ALIGN_POINTS = 6
ALIGN_HEADING = 0.35
#: A rescue starts only from (nearly) standing still: speed (m/s) and yaw rate (rad/s).
STOPPED_SPEED = 0.1
STOPPED_YAW_RATE = 0.2
#: A body that found no plan tries again only once it moved this far (m) or turned (rad).
RETRY_MOVE = 0.1
RETRY_TURN = 0.1
#: Collision margins tried in turn (added to the body's length and width), m.
INFLATE = (0.03, 0.01)
#: Plans per rescue before it gives up.
MAX_PLANS = 3


def _wrap(a: float) -> float:
    return (a + math.pi) % (2.0 * math.pi) - math.pi


def _stoppable(distance: float, delay: float, decel: float) -> float:
    """Largest speed that stops within ``distance`` after ``delay`` s and then ``decel``."""
    return decel * (-delay + math.sqrt(delay * delay + 2.0 * distance / max(decel, 1e-6)))


def segments(path: np.ndarray) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """Runs of one motion kind in a :func:`compass_nav.planner.spin.plan` path.

    Returns:
        (kind, start pose, end pose) per run; kind +1 forwards, -1 reverse, 0 a turn.
    """
    out: list[tuple[int, np.ndarray, np.ndarray]] = []
    r = 1
    while r < len(path):
        kind = int(path[r, 3])
        q = r
        while q + 1 < len(path) and int(path[q + 1, 3]) == kind:
            q += 1
        out.append((kind, path[r - 1, :3].copy(), path[q, :3].copy()))
        r = q + 1
    return out


class SpinRescue:
    """Per-env rescue state for the envs of ``rows`` (bodies with no minimum turning radius).

    Args:
        bodies: The body of every env.
        rows: Envs whose bodies turn on the spot.
    """

    def __init__(self, bodies, rows: np.ndarray) -> None:
        n = len(bodies)
        self.rows = np.asarray(rows, np.int64)
        self._eligible = np.zeros(n, bool)
        self._eligible[self.rows] = True
        self._dims = np.array([[b.length, b.width] for b in bodies], np.float64)
        self._radius = np.array([b.circumscribed_radius for b in bodies], np.float64)
        self._view: dict | None = None
        self._wmax = np.array([b.action_high[2] for b in bodies], np.float64)
        self._vmin = np.array([-b.action_low[0] for b in bodies], np.float64)
        self._vmax = np.array([b.action_high[0] for b in bodies], np.float64)
        # Stopping: what still comes after a command to stop (latency + response), s, and
        # half the braking and yaw-acceleration limits.
        self._delay = np.array([b.command_latency + b.response_time for b in bodies])
        self._brake = np.array([0.5 * b.brake_decel for b in bodies], np.float64)
        self._yaw_acc = np.array([0.5 * b.accel_limits[2] for b in bodies], np.float64)
        self._segs: list[list | None] = [None] * n
        self._seg = np.zeros(n, np.int64)
        self._seg_steps = np.zeros(n, np.int64)
        self._plans = np.zeros(n, np.int64)
        self._target: list[tuple | None] = [None] * n
        self._failed_at: list[np.ndarray | None] = [None] * n
        self.starts = np.zeros(n, np.int64)  # rescues started (for diagnostics and tests)

    def active(self) -> np.ndarray:
        """(N,) bool: envs driving a rescue plan."""
        return np.array([s is not None for s in self._segs])

    def clear(self, rows: np.ndarray) -> None:
        """Forget the rescue of ``rows`` (new episodes)."""
        for e in np.flatnonzero(rows):
            self._segs[e] = None
            self._target[e] = None
            self._failed_at[e] = None
            self._plans[e] = 0

    def start(self, p: dict, e: int) -> bool:
        """Plan a rescue for env ``e`` from its pose; True when a plan was found.

        Only a body that stands still (:data:`STOPPED_SPEED`, :data:`STOPPED_YAW_RATE`) starts
        a rescue.
        """
        if not self._eligible[e]:
            return False
        v = p["velocity"][e]
        if math.hypot(v[0], v[1]) > STOPPED_SPEED or abs(v[2]) > STOPPED_YAW_RATE:
            return False  # a wedged body stands still; a moving one is only slow to progress
        pose = np.asarray(p["pose"][e], np.float64)
        last = self._failed_at[e]
        if (
            last is not None
            and math.hypot(*(pose[:2] - last[:2])) < RETRY_MOVE
            and abs(_wrap(pose[2] - last[2])) < RETRY_TURN
        ):
            return False  # no plan from here a moment ago: the search would only repeat itself
        target = self._choose_target(p, e)
        if target is None:
            self._failed_at[e] = pose
            return False
        self._target[e] = target
        self._plans[e] = 0
        if not self._replan(p, e):
            self._target[e] = None
            self._failed_at[e] = pose
            return False
        self.starts[e] += 1
        return True

    def _choose_target(self, p: dict, e: int) -> tuple | None:
        x, y, yaw = (float(v) for v in p["pose"][e])
        goal = np.asarray(p["goal"][e], np.float64)
        ctg = p["cost_to_go"][e]
        height = p["height"][e]
        length, width = self._dims[e] + 0.03
        g = ctg.shape[0]
        i = min(max(int(y / RESOLUTION), 0), g - 1)
        j = min(max(int(x / RESOLUTION), 0), g - 1)
        if ctg[i, j] < GOAL_NEAR:
            return (goal, GOAL_HEADING)
        pts = grid.descend_path(ctg, x, y, 400)
        if len(pts) < 4:
            return None
        run = np.r_[0.0, np.cumsum(np.hypot(*np.diff(pts, axis=0).T))]
        for ahead in AHEAD:
            q = int(np.searchsorted(run, ahead))
            if q >= len(pts) - 3:
                return (goal, GOAL_HEADING)
            d = pts[q + 3] - pts[q]
            heading = math.atan2(d[1], d[0])
            tx, ty = pts[q]
            if not footprint_collides(height, tx, ty, heading, length, width):
                return (np.array([tx, ty, heading]), ROUTE_HEADING)
        return None

    def _replan(self, p: dict, e: int) -> bool:
        target, tol = self._target[e]
        self._plans[e] += 1
        if self._plans[e] > MAX_PLANS:
            return False
        length, width = self._dims[e]
        hg = heuristic_grid(p["clearance"][e], target, 0.5 * width)
        path = None
        for inflate in INFLATE:
            # A body already within the margin of something gets a plan with less of it.
            path = spin.plan(
                p["height"][e],
                p["clearance"][e],
                p["pose"][e],
                target,
                length,
                width,
                tol,
                inflate=inflate,
                hgrid=hg,
            )
            if path is not None:
                break
        if path is None or len(path) < 2:
            return False
        self._segs[e] = segments(path)
        self._seg[e] = 0
        self._seg_steps[e] = 0
        return True

    def act(
        self, p: dict, pose: np.ndarray, out: np.ndarray, only: np.ndarray | None = None
    ) -> np.ndarray:
        """Overwrite ``out`` rows of the envs in a rescue; returns those rows (bool (N,)).

        Args:
            p: The env's privileged view.
            pose: (N, 3) poses one command latency ahead.
            out: (N, 3) commands, written in place.
            only: (N,) bool: drive only these envs (default: every env in a rescue).
        """
        driving = np.zeros(len(out), bool)
        self._view = p
        for e in self.rows:
            if self._segs[e] is None or (only is not None and not only[e]):
                continue
            cmd = self._drive(p, pose, e)
            if cmd is None:
                continue
            out[e] = cmd
            driving[e] = True
        return driving

    def _drive(self, p: dict, pose: np.ndarray, e: int) -> np.ndarray | None:
        segs = self._segs[e]
        x, y, yaw = (float(v) for v in pose[e])
        while True:
            if self._seg[e] >= len(segs):
                self._segs[e] = None  # done: the tracker takes over
                self._target[e] = None
                return None
            kind, s0, s1 = segs[self._seg[e]]
            if kind == 0:
                err = _wrap(s1[2] - yaw)
                if abs(err) < TURN_DONE:
                    self._next(e)
                    continue
                w = min(self._wmax[e] * TURN_SHARE, _stoppable(abs(err), self._delay[e],
                                                               self._yaw_acc[e]))  # fmt: skip
                wz = max(min(K_TURN * err, w), -w)
                if abs(wz) < 0.25 * w:
                    wz = math.copysign(0.25 * w, err)
                return self._count(p, e, np.array([0.0, 0.0, wz]))
            c, s = math.cos(s1[2]), math.sin(s1[2])
            ex, ey = s1[0] - x, s1[1] - y
            along = kind * (c * ex + s * ey)
            if along < MOVE_DONE:
                self._next(e)
                continue
            lat = -s * (x - s0[0]) + c * (y - s0[1])
            herr = _wrap(s1[2] - yaw)
            if abs(lat) > STRAY_LAT or abs(herr) > STRAY_HEADING:
                if not self._replan(p, e):
                    self._segs[e] = None
                    self._target[e] = None
                    return None
                segs = self._segs[e]
                continue
            v = min(SPEED, SPEED_SHARE * self._vmax[e], 1.2 * along + 0.08)
            v = min(v, max(_stoppable(along, self._delay[e], self._brake[e]), 0.05))
            if kind < 0:
                v = min(v, self._vmin[e])
            wz = K_HEAD * herr - K_LAT * lat * kind
            w = self._wmax[e] * TURN_SHARE
            return self._count(p, e, np.array([kind * v, 0.0, max(min(wz, w), -w)]))

    def held(self, rows: np.ndarray) -> None:
        """The avoidance overrode this step's rescue command of ``rows``: not the plan's time."""
        for e in np.flatnonzero(rows):
            self._seg_steps[e] = max(self._seg_steps[e] - 1, 0)

    def _next(self, e: int) -> None:
        self._seg[e] += 1
        self._seg_steps[e] = 0
        segs = self._segs[e]
        if self._seg[e] >= len(segs) or any(k < 0 for k, _, _ in segs[self._seg[e] :]):
            return
        # Handed back early: nothing left to back out of, and the body faces along the route
        # (or has room to turn the whole body).
        _, s0, _ = segs[self._seg[e]]
        if self._view is None:
            return
        clearance, ctg = self._view["clearance"][e], self._view["cost_to_go"][e]
        g = clearance.shape[0]
        i = min(max(int(s0[1] / RESOLUTION), 0), g - 1)
        j = min(max(int(s0[0] / RESOLUTION), 0), g - 1)
        free = clearance[i, j] >= self._radius[e] + FREE_MARGIN
        pts = grid.descend_path(ctg, float(s0[0]), float(s0[1]), ALIGN_POINTS + 1)
        aligned = False
        if len(pts) > ALIGN_POINTS:
            d = pts[ALIGN_POINTS] - pts[0]
            aligned = abs(_wrap(math.atan2(d[1], d[0]) - s0[2])) < ALIGN_HEADING
        if free or aligned:
            self._seg[e] = len(segs)

    def _count(self, p: dict, e: int, cmd: np.ndarray) -> np.ndarray:
        self._seg_steps[e] += 1
        if self._seg_steps[e] > SEGMENT_STEPS:
            if not self._replan(p, e):
                self._segs[e] = None
                self._target[e] = None
                return np.zeros(3)
        return cmd
