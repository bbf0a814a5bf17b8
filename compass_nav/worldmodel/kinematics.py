"""Proprioception in imagination: the body's known actuator model, odometry, goal and route.

The learned world model predicts what the camera sees and whether the body hits something.
Everything else a policy observes follows from the commands through the body's published
actuator model (the same first-order lag, acceleration limits and tracking noise that the
embodiment file declares, with no obstacles), integrated as odometry from the start pose:

* ``speed``: the actuator model's velocity;
* ``goal``: the start-frame goal re-expressed in the current (imagined) robot frame;
* ``route``: re-planned from the imagined pose as the simulator does, by its own planner and
  route rule on a clearance estimated from the global plan handed over at the start
  (:func:`plan_cost_to_go`): exact while the body is on its plan, approximate once it strays
  (the simulator sees the real walls). Without fields, the start plan followed from its
  nearest point (the older rule); the straight line to the goal for mapless plans;
* success: COMPASS's rule on the imagined pose and velocity
  (:func:`compass_nav.sim.mdp.terminations.goal_reached`).

:class:`Proprioception` is used by :mod:`compass_nav.worldmodel.imagine`; contacts are
judged there (:func:`compass_nav.worldmodel.imagine.outcomes`).
"""

from __future__ import annotations

import dataclasses
import math
import types

import numpy as np

from compass_nav.contract.geometry import RESOLUTION, wrap_angle
from compass_nav.planner import grid
from compass_nav.planner.cost import planner_cost, planner_radii
from compass_nav.sim.mdp.terminations import goal_reached

__all__ = ["ActuatorModel", "Proprioception", "ReplanFields", "plan_cost_to_go"]

#: Re-planning in imagination: the start plan runs where the simulator's planner found the
#: most clearance, so the clearance of a cell ``d`` metres from the plan is taken as
#: ``r_out + REPLAN_AISLE_M - d`` (free of the planner's soft cost on the plan itself, then
#: rising like the walls of an aisle), never below the circumscribed band's cost.
REPLAN_AISLE_M = 0.8
#: Side of the re-planning grid centred on the start pose, m (cells are the simulator's).
REPLAN_EXTENT_M = 30.0

_SUCCESS_RULE = types.SimpleNamespace(
    goal_tolerance=0.5, heading_tolerance=0.1, stop_speed=0.1, stop_yaw_rate=0.1
)


class ActuatorModel:
    """Velocity response of one body to commands (vectorised over a batch).

    Args:
        body: The :class:`~compass_nav.contract.body.EmbodimentSpec`.
        dt: Control period, s.
        substeps: Integration sub-steps per period (the simulator's default is 2).
        seed: Seed of the tracking noise.
    """

    def __init__(self, body, dt: float = 0.1, substeps: int = 2, seed: int = 0) -> None:
        self.body = body
        self.dt, self.substeps = float(dt), int(substeps)
        self.low = body.action_low.astype(np.float64)
        self.high = body.action_high.astype(np.float64)
        self.lim = np.maximum(np.abs(self.low), np.abs(self.high))
        self.acc = body.accel_limits.astype(np.float64)
        self.tau = float(body.lag_tau)
        self.noise = float(body.tracking_noise)
        self.rng = np.random.default_rng(seed)

    def clip(self, action: np.ndarray) -> np.ndarray:
        """Commands clipped to the body's limits (non-finite rows become zero)."""
        a = np.asarray(action, np.float64)
        a = np.where(np.isfinite(a).all(axis=1, keepdims=True), a, 0.0)
        return np.clip(a, self.low, self.high)

    def step(
        self, pose: np.ndarray, vel: np.ndarray, cmd: np.ndarray, active: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """One control period for rows ``active``; returns new (pose, vel) (inputs untouched).

        Args:
            pose: (N, 3) (x, y, yaw) in the start frame.
            vel: (N, 3) body velocity.
            cmd: (N, 3) clipped commands.
            active: (N,) bool.
        """
        pose, vel = pose.astype(np.float64).copy(), vel.astype(np.float64).copy()
        noise = np.zeros_like(cmd)
        if self.noise > 0:
            noise = self.rng.normal(0.0, self.noise, cmd.shape)
        h = self.dt / self.substeps
        alpha = 1.0 if self.tau <= h else h / self.tau
        target = cmd * (1.0 + noise)
        m = active[:, None]
        for _ in range(self.substeps):
            dv = np.clip((target - vel) * alpha, -self.acc * h, self.acc * h)
            new_v = np.clip(vel + dv, -self.lim * 1.2, self.lim * 1.2)
            vel = np.where(m, new_v, vel)
            c, s = np.cos(pose[:, 2]), np.sin(pose[:, 2])
            step = np.stack(
                [
                    (c * vel[:, 0] - s * vel[:, 1]) * h,
                    (s * vel[:, 0] + c * vel[:, 1]) * h,
                    vel[:, 2] * h,
                ],
                1,
            )
            pose = np.where(m, pose + step, pose)
            pose[:, 2] = wrap_angle(pose[:, 2])
        return pose, vel


def _grid_frame(plan: np.ndarray) -> float:
    """Angle of the simulator's grid axes in the start frame (mod 90 degrees), rad.

    The plan is a chain of the simulator's cell centres: each step is one cell along an axis
    (0.1 m) or across a diagonal (0.14 m), so the steps' directions give the grid's
    orientation in the start frame (a circular mean over the steps, on angles times four).
    """
    step = plan[1:] - plan[:-1]
    length = np.hypot(step[:, 0], step[:, 1])
    ok = length > 0.5 * RESOLUTION
    if not ok.any():
        return 0.0
    ang = np.arctan2(step[ok, 1], step[ok, 0])
    ang = np.where(length[ok] > 1.2 * RESOLUTION, ang - math.pi / 4, ang)  # diagonals
    return float(np.angle(np.exp(4j * ang).mean()) / 4.0)


@dataclasses.dataclass
class ReplanFields:
    """Cost-to-go fields of imagined re-planning (:func:`plan_cost_to_go`).

    Attributes:
        ctg: (N, G, G) cost-to-go, planner metres (``grid.INF`` where unreachable).
        origin: (N, 2) start-frame position of the grid's centre cell centre (the plan's
            first point: the cell under the start pose).
        angle: (N,) orientation of the grid's axes in the start frame, rad.
        has: (N,) bool, the episode has a plan (else its route is the straight line).
        plan_index: (N, G, G) int16, index of the plan point in each cell (-1: off the plan).
        plans: (N, M, 2) the start plans, start frame.
    """

    ctg: np.ndarray
    origin: np.ndarray
    angle: np.ndarray
    has: np.ndarray
    plan_index: np.ndarray
    plans: np.ndarray

    @property
    def half(self) -> float:
        """Start-frame distance from the grid's corner to its centre cell's centre, m."""
        return (self.ctg.shape[-1] // 2 + 0.5) * RESOLUTION

    def to_grid(self, e: int, x: float, y: float) -> tuple[float, float]:
        """Start-frame point -> grid coordinates of episode ``e`` (corner at 0, m)."""
        c, s = math.cos(self.angle[e]), math.sin(self.angle[e])
        dx, dy = x - self.origin[e, 0], y - self.origin[e, 1]
        return c * dx + s * dy + self.half, -s * dx + c * dy + self.half

    def from_grid(self, e: int, pts: np.ndarray) -> np.ndarray:
        """(M, 2) grid coordinates of episode ``e`` -> start frame."""
        c, s = math.cos(self.angle[e]), math.sin(self.angle[e])
        gx, gy = pts[:, 0] - self.half, pts[:, 1] - self.half
        return np.stack(
            [c * gx - s * gy + self.origin[e, 0], s * gx + c * gy + self.origin[e, 1]], 1
        )


def plan_cost_to_go(
    plans: np.ndarray,
    plan_len: np.ndarray,
    goal: np.ndarray,
    body,
    extent: float = REPLAN_EXTENT_M,
) -> ReplanFields | None:
    """Cost-to-go fields that re-plan like the simulator, one per episode.

    The simulator re-plans every step: its route descends a cost-to-go field of the whole
    map from wherever the body is. Imagination knows the start plan, not the map, so the field
    here is the same planner (:func:`compass_nav.planner.cost.planner_cost`,
    :func:`compass_nav.planner.grid.dijkstra`) on a clearance estimated from the distance to
    the start plan (:data:`REPLAN_AISLE_M`), on a grid laid exactly over the simulator's (the
    plan's cell centres give its orientation and phase). A body on its plan gets the plan; one
    that strays is routed on towards the goal and back to the middle of the aisle gradually,
    as the simulator's field would, instead of back onto the nearest point of the old plan.

    Returns:
        The fields, or None when no episode has a plan.
    """
    import cv2

    n = plans.shape[0]
    has = np.asarray(plan_len) >= 2
    if not has.any():
        return None
    g = int(math.ceil(extent / RESOLUTION)) | 1  # odd: a centre cell
    out = ReplanFields(
        ctg=np.full((n, g, g), grid.INF),
        origin=np.zeros((n, 2)),
        angle=np.zeros(n),
        has=has,
        plan_index=np.full((n, g, g), -1, np.int16),
        plans=np.asarray(plans, np.float64),
    )
    r_out = planner_radii(body)[1]
    for e in np.flatnonzero(has):
        pts = np.asarray(plans[e, : int(plan_len[e])], np.float64)
        out.origin[e] = pts[0]
        out.angle[e] = _grid_frame(pts)
        gp = np.stack([out.to_grid(e, x, y) for x, y in pts])
        ij = np.floor(gp / RESOLUTION).astype(np.int64)
        ok = ((ij >= 0) & (ij < g)).all(1)
        out.plan_index[e, ij[ok, 1], ij[ok, 0]] = np.flatnonzero(ok)  # a descent: no repeats
        mask = np.full((g, g), 255, np.uint8)
        mask[ij[ok, 1], ij[ok, 0]] = 0
        dist = cv2.distanceTransform(mask, cv2.DIST_L2, 5).astype(np.float64) * RESOLUTION
        clearance = np.maximum(r_out + REPLAN_AISLE_M - dist, r_out)
        cost = planner_cost(clearance, body)
        gx, gy = out.to_grid(e, float(goal[e, 0]), float(goal[e, 1]))
        gi = int(np.clip(math.floor(gy / RESOLUTION), 0, g - 1))
        gj = int(np.clip(math.floor(gx / RESOLUTION), 0, g - 1))
        out.ctg[e] = grid.dijkstra(cost, gi, gj)
    return out


class Proprioception:
    """Imagined odometry, goal and route for a batch of episodes (start frame = origin).

    Args:
        goal: (N, 3) goal in the start robot frame (the first observation's ``goal``).
        plans: (N, M, 2) global plan at the start (start frame) and ``plan_len`` (N,) valid
            points; ``None`` or ``plan_len == 0`` means a mapless (straight) route.
        plan_len: (N,) valid plan points.
        speed: (N, 3) velocity at the start.
        route_points, route_spacing: The route observation's layout.
        cost_to_go: :class:`ReplanFields` from :func:`plan_cost_to_go`: routes descend them
            from the imagined pose (re-planning, as the simulator does) instead of following
            the start plan from its nearest point. None: follow the start plan.
    """

    def __init__(
        self,
        goal: np.ndarray,
        plans: np.ndarray | None,
        plan_len: np.ndarray | None,
        speed: np.ndarray,
        route_points: int = 10,
        route_spacing: float = 0.4,
        cost_to_go: ReplanFields | None = None,
    ) -> None:
        n = goal.shape[0]
        self.goal = goal.astype(np.float64)
        self.pose = np.zeros((n, 3))
        self.vel = speed.astype(np.float64).copy()
        self.plans = plans if plans is not None else np.zeros((n, 0, 2))
        self.plan_len = plan_len if plan_len is not None else np.zeros(n, np.int64)
        self.progress = np.zeros(n, np.int64)  # index of the nearest plan point so far
        self.k, self.spacing = int(route_points), float(route_spacing)
        self.replan = cost_to_go
        self._max_pts = int(self.k * self.spacing / RESOLUTION * 2) + 4

    def goal_obs(self) -> np.ndarray:
        """(N, 3) goal in the imagined robot frame."""
        x, y, yaw = self.pose.T
        dx, dy = self.goal[:, 0] - x, self.goal[:, 1] - y
        c, s = np.cos(yaw), np.sin(yaw)
        return np.stack(
            [c * dx + s * dy, -s * dx + c * dy, wrap_angle(self.goal[:, 2] - yaw)], 1
        ).astype(np.float32)

    def route_obs(self) -> np.ndarray:
        """(N, K, 2) route waypoints in the imagined robot frame."""
        n = self.pose.shape[0]
        out = np.zeros((n, self.k, 2), np.float32)
        world = np.empty((self.k, 2))
        for e in range(n):
            x, y, yaw = self.pose[e]
            m = int(self.plan_len[e])
            if self.replan is not None and self.replan.has[e]:
                pts = self._replanned(e, x, y, m)
            elif m > 1:
                plan = self.plans[e, :m].astype(np.float64)
                # Nearest plan point, never going back, searching a window ahead (the
                # simulator re-reads its plan from the current cell every step).
                lo = int(self.progress[e])
                hi = min(m, lo + 40)
                d = np.hypot(plan[lo:hi, 0] - x, plan[lo:hi, 1] - y)
                self.progress[e] = lo + int(np.argmin(d))
                pts = np.ascontiguousarray(plan[self.progress[e] + 1 :])
            else:
                pts = np.zeros((0, 2))
            grid.resample_polyline(
                pts, x, y, self.goal[e, 0], self.goal[e, 1], self.k, self.spacing, world
            )
            c, s = np.cos(yaw), np.sin(yaw)
            wx, wy = world[:, 0] - x, world[:, 1] - y
            out[e, :, 0] = c * wx + s * wy
            out[e, :, 1] = -s * wx + c * wy
        return out

    def _replanned(self, e: int, x: float, y: float, m: int) -> np.ndarray:
        """The simulator's route points from (x, y) on the re-planned field (start frame).

        The simulator's descent is a function of the cell: from a cell of the start plan it
        is the rest of the plan. So the field is descended until it meets a plan cell, and the
        plan is followed from there; the first cell (under the body) is dropped, as the
        simulator drops it.
        """
        f = self.replan
        gx, gy = f.to_grid(e, x, y)
        pts = grid.descend_path(f.ctg[e], gx, gy, self._max_pts)
        if len(pts) == 0:
            return pts
        cell = np.floor(pts / RESOLUTION).astype(np.int64)
        idx = f.plan_index[e, cell[:, 1], cell[:, 0]]
        on = np.flatnonzero(idx >= 0)
        path = f.from_grid(e, pts)
        if on.size:
            k = int(on[0])
            path = np.concatenate([path[:k], f.plans[e, int(idx[k]) : m]])[: self._max_pts]
        return np.ascontiguousarray(path[1:] if len(path) > 1 else path)

    def reached(self) -> np.ndarray:
        """(N,) bool: COMPASS's success rule on the imagined pose and velocity."""
        return goal_reached(self.pose, self.vel, self.goal, _SUCCESS_RULE)
