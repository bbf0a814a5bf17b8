"""Cutting one episode out of a bag's streams at the control rate, and where it ends.

:class:`Resampler` holds the rules of ``docs/LOGS.md`` ("Resampling"): frames on control
ticks (held over short gaps), depth paired with each frame, odometry interpolated at the
frame's stamp, the command answering it; :func:`episode_end` the rules of "Episodes". Used by
:mod:`compass_nav.logs.bag`; every sample not taken as it was is counted
(:data:`EPISODE_COUNTS`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from compass_nav.contract.geometry import wrap_angle
from compass_nav.logs.bag_streams import Event, Streams

if TYPE_CHECKING:
    from compass_nav.logs.bag import BagImportConfig

__all__ = ["EPISODE_COUNTS", "Resampler", "episode_end", "interp_odometry", "nearest"]

#: episode_status outcomes of the sim bridge -> log outcomes.
EPISODE_OUTCOMES = {
    "success": "success",
    "collision": "collision",
    "timeout": "timeout",
    "reset": "aborted",
}
#: Per-episode counters of samples not taken as they were (summed in the import summary).
EPISODE_COUNTS = (
    "steps",
    "image_held",
    "depth_held",
    "odom_exact",
    "odom_interpolated",
    "odom_nearest",
    "cmd_vel_superseded",
    "cmd_vel_held",
    "cmd_vel_zero_before_first",
)
#: goal_status states of the navigator that end an episode -> log outcomes.
GOAL_STATES = {"reached": "success", "cancelled": "aborted"}


def interp_odometry(
    t: float, odom_t: np.ndarray, pose: np.ndarray, twist: np.ndarray, max_gap: float, tol: float
) -> tuple[np.ndarray, np.ndarray, str]:
    """Odometry at ``t``: exact, interpolated, nearest, or '' = a gap.

    Interpolated between neighbours at most ``max_gap`` apart; the nearest within ``tol``
    where ``t`` is not bracketed (the ends of the stream).
    """
    j = int(np.searchsorted(odom_t, t))
    if j < len(odom_t) and abs(odom_t[j] - t) < 1e-6:
        return pose[j], twist[j], "exact"
    if j > 0 and abs(odom_t[j - 1] - t) < 1e-6:
        return pose[j - 1], twist[j - 1], "exact"
    if 0 < j < len(odom_t) and odom_t[j] - odom_t[j - 1] <= max_gap:
        a = (t - odom_t[j - 1]) / (odom_t[j] - odom_t[j - 1])
        p0, p1 = pose[j - 1], pose[j]
        yaw = p0[2] + a * float(wrap_angle(np.float64(p1[2] - p0[2])))
        p = np.array([p0[0] + a * (p1[0] - p0[0]), p0[1] + a * (p1[1] - p0[1]), yaw])
        p[2] = float(wrap_angle(np.float64(p[2])))
        return p, (1 - a) * twist[j - 1] + a * twist[j], "interpolated"
    n = nearest(odom_t, t)
    if abs(odom_t[n] - t) <= tol and not (0 < j < len(odom_t)):
        return pose[n], twist[n], "nearest"
    return pose[0], twist[0], ""


def episode_end(
    events: list[Event], start: float, next_goal: float, cfg: BagImportConfig, has_status: bool
) -> tuple[float, str, str, int | None]:
    """(end time, outcome, outcome_source, steps the simulator reported) of an episode.

    The rules, in order, are those of docs/LOGS.md ("Episodes").
    """
    limit = min(next_goal, start + cfg.timeout) if cfg.timeout > 0 else next_goal
    for e in events:
        if e.t < start or e.t >= limit:
            continue
        if e.kind == "episode_status" and has_status:
            raw = str(e.value.get("outcome", ""))
            if raw in EPISODE_OUTCOMES:
                steps = e.value.get("steps")
                steps = steps if isinstance(steps, int) and not isinstance(steps, bool) else None
                return e.t, EPISODE_OUTCOMES[raw], f"episode_status outcome {raw!r}", steps
        elif e.kind == "collision":
            return e.t, "collision", "collision topic reported a contact", None
        elif e.kind == "goal_status" and not has_status:
            state = str(e.value.get("state", ""))
            if state in GOAL_STATES:
                return e.t, GOAL_STATES[state], f"navigator goal_status {state!r}", None
    if limit < next_goal:
        return limit, "timeout", f"no outcome within timeout={cfg.timeout:g} s", None
    if math.isfinite(next_goal):
        return next_goal, "aborted", "a new goal arrived before any outcome", None
    return next_goal, "unknown", "the bag ends before any outcome", None


def nearest(times: np.ndarray, t: float) -> int:
    j = int(np.searchsorted(times, t))
    if j == 0:
        return 0
    if j >= len(times):
        return len(times) - 1
    return j if times[j] - t < t - times[j - 1] else j - 1


class Resampler:
    """Cuts one episode out of the streams at the control rate (see the module docstring).

    Every problem of the episode is collected (a gap is reported once, however many ticks it
    spans); the episode is imported only when there is none.
    """

    def __init__(self, s: Streams, cfg: BagImportConfig) -> None:
        self.s, self.cfg = s, cfg
        self.tol, self.dt = cfg.tolerance, cfg.dt
        self.used_frames = np.zeros(len(s.image), bool)
        self.used_cmd = np.zeros(len(s.cmd_t), bool)

    def ticks(self, start: float, end: float) -> np.ndarray:
        """Control ticks from the first frame at or after ``start`` while before ``end``."""
        stamps = self.s.image.stamp
        first = int(np.searchsorted(stamps, start - 1e-9))
        if first >= len(stamps) or stamps[first] >= end:
            return np.zeros(0)
        last = stamps[min(int(np.searchsorted(stamps, end)), len(stamps)) - 1]
        n = int(math.floor((min(end - 1e-9, last + self.tol) - stamps[first]) / self.dt + 1e-9))
        return stamps[first] + self.dt * np.arange(n + 1)

    def _held(self, stamps: np.ndarray, t: float, end: float) -> tuple[int, float]:
        """(index of the last sample at or before t, length of the gap it bridges) or -1."""
        prev = int(np.searchsorted(stamps, t, side="right")) - 1
        if prev < 0:
            return -1, math.inf
        later = stamps[prev + 1] if prev + 1 < len(stamps) else end
        return prev, later - stamps[prev]

    def cut(self, goal: Event, end: float) -> tuple[dict | None, list[str]]:
        """The episode from ``goal`` to ``end``: per-tick lists, or None and its problems.

        Returns:
            ``(cut, problems)``: ``cut`` holds per tick ``tick`` (sensor clock), ``frame``
            and ``depth`` (indices into the sorted streams), ``pose``, ``twist``,
            ``action``, ``route`` (version index) and ``counts`` (:data:`EPISODE_COUNTS`);
            None when ``problems`` is not empty.
        """
        s, cfg, tol, dt = self.s, self.cfg, self.tol, self.dt
        ticks = self.ticks(goal.t, end)
        problems: list[str] = []
        reported: set = set()

        def report(key, text: str) -> None:
            if key not in reported:
                reported.add(key)
                problems.append(text)

        ec = dict.fromkeys(EPISODE_COUNTS, 0)
        out: dict[str, list] = {k: [] for k in ("tick", "frame", "depth", "pose", "twist")}
        out.update(action=[], route=[])
        last_cmd, have_cmd = np.zeros(3), False
        for tk in ticks:
            j = nearest(s.image.stamp, tk)
            if abs(s.image.stamp[j] - tk) > tol:
                j, gap = self._held(s.image.stamp, tk, end)
                if gap > cfg.max_gap:
                    t_gap = s.image.stamp[j] if j >= 0 else tk
                    report(
                        ("image", j),
                        f"{s.image.topic}: gap of {gap:.3f} s at t={t_gap:.3f} "
                        f"(max_gap {cfg.max_gap:g} s)",
                    )
                    continue
                ec["image_held"] += 1
            ts = s.image.stamp[j]
            d = -1
            if s.depth is not None:
                d = nearest(s.depth.stamp, ts)
                if abs(s.depth.stamp[d] - ts) > tol:
                    near = s.depth.stamp[d] - ts
                    d, gap = self._held(s.depth.stamp, ts, end)
                    if d < 0:
                        report(
                            ("depth", "sync"),
                            f"{s.depth.topic} and {s.image.topic} are not synchronised: no "
                            f"depth within {tol:.3f} s of the frame at t={ts:.3f} (nearest "
                            f"{near:+.3f} s away) and none before it to hold",
                        )
                        continue
                    if gap > cfg.max_gap:
                        report(
                            ("depth", d),
                            f"{s.depth.topic}: gap of {gap:.3f} s at t={s.depth.stamp[d]:.3f} "
                            f"(max_gap {cfg.max_gap:g} s)",
                        )
                        continue
                    ec["depth_held"] += 1
            p, v, kind = interp_odometry(
                ts, s.odom.stamp, s.odom_pose, s.odom_twist, cfg.max_gap, tol
            )
            if not kind:
                k = nearest(s.odom.stamp, ts)
                report(
                    ("odom", k),
                    f"{s.odom.topic}: no odometry around the frame at t={ts:.3f} within "
                    f"{cfg.max_gap:g} s (nearest at {s.odom.stamp[k]:.3f})",
                )
                continue
            if len(s.cmd_t):
                lo = int(np.searchsorted(s.cmd_t, tk - 1e-9))
                hi = int(np.searchsorted(s.cmd_t, tk + dt - 1e-9))
                if hi > lo:
                    # the answer stamped with this frame wins, else the last one received
                    answers = np.flatnonzero(s.cmd_answer[lo:hi])
                    pick = lo + int(answers[0]) if answers.size else hi - 1
                    last_cmd, have_cmd = s.cmd_v[pick], True
                    self.used_cmd[lo:hi] = True
                    ec["cmd_vel_superseded"] += hi - lo - 1
                elif have_cmd:
                    before = s.cmd_t[lo - 1] if lo > 0 else -math.inf
                    if tk - before > cfg.max_gap:
                        report(
                            ("cmd", lo),
                            f"{s.cmd_topic}: no command for {tk - before:.3f} s at t={tk:.3f} "
                            f"(max_gap {cfg.max_gap:g} s)",
                        )
                        continue
                    ec["cmd_vel_held"] += 1
                else:
                    ec["cmd_vel_zero_before_first"] += 1
            ec[f"odom_{kind}"] += 1
            self.used_frames[j] = True
            out["tick"].append(tk)
            out["frame"].append(j)
            out["depth"].append(d)
            out["pose"].append(p)
            out["twist"].append(v)
            out["action"].append(last_cmd.copy())
            out["route"].append(self._route_index(goal, tk))
        if problems:
            return None, problems
        if s.depth is not None and out["frame"]:
            offs = np.abs(s.depth.stamp[out["depth"]] - s.image.stamp[out["frame"]])
            if np.median(offs) > tol:
                return None, [
                    f"{s.depth.topic} and {s.image.topic} are not synchronised (median offset "
                    f"{np.median(offs):.3f} s > tolerance {tol:.3f} s)"
                ]
        ec["steps"] = len(out["tick"])
        out["counts"] = ec
        return out, []

    def _route_index(self, goal: Event, tk: float) -> int:
        """The route version in effect at tick ``tk`` (-1: none, mapless)."""
        ri = -1
        for r, (rt, pts) in enumerate(self.s.routes):
            if rt <= tk + self.tol and (
                rt >= goal.t - self.tol
                or float(np.hypot(*(pts[-1] - goal.value[:2]))) <= self.cfg.route_goal_match
            ):
                ri = r
        return ri
