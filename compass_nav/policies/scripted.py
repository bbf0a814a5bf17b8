"""Scripted reference behaviours for testing metrics and plumbing (no simulator needed).

The privileged teacher is registered by :mod:`compass_nav.teacher.policy`.
"""

from __future__ import annotations

import numpy as np

from compass_nav.contract.policy import Policy, register_scripted


@register_scripted("standstill")
class StandStill(Policy):
    """Never moves: scores 0 success (and 0 collisions)."""

    name = "standstill"

    def act(self, obs, episode_start):
        return np.zeros((obs["goal"].shape[0], 3), np.float32)


@register_scripted("wall")
class WallDriver(Policy):
    """Drives straight ahead at the body's top speed: ends in collisions."""

    name = "wall"

    def act(self, obs, episode_start):
        n = obs["goal"].shape[0]
        a = np.zeros((n, 3), np.float32)
        a[:, 0] = obs["embodiment"][:, 0]  # descriptor[0] = max_vx
        return a


@register_scripted("goal_seeker")
class GoalSeeker(Policy):
    """Pure pursuit on the route waypoints; no notion of obstacles beyond the route.

    Uses only the observation contract (no privileged state), so it also runs on a robot:
    the ROS tests use it to exercise plumbing independently of any learned model.
    """

    name = "goal_seeker"

    def act(self, obs, episode_start):
        route, goal, descr = obs["route"], obs["goal"], obs["embodiment"]
        max_vx, max_wz = descr[:, 0], descr[:, 3]
        dist = np.hypot(goal[:, 0], goal[:, 1])
        # Look-ahead: the 2nd waypoint (about 0.8 m ahead), or the goal when closer.
        tgt = route[:, min(1, route.shape[1] - 1)]
        alpha = np.arctan2(tgt[:, 1], tgt[:, 0])
        vx = np.where(np.abs(alpha) > 0.7, 0.0, max_vx * 0.6 * np.cos(alpha) ** 2)
        vx = np.minimum(vx, np.sqrt(np.maximum(dist - 0.1, 0.0)) * 0.8)
        wz = np.clip(1.5 * alpha, -max_wz, max_wz)
        final = dist < 0.25
        wz = np.where(final, np.clip(1.2 * goal[:, 2], -max_wz, max_wz), wz)
        wz = np.where(final & (np.abs(goal[:, 2]) < 0.03), 0.0, wz)
        vx = np.where(final, 0.0, vx)
        return np.stack([vx, np.zeros_like(vx), wz], 1).astype(np.float32)
