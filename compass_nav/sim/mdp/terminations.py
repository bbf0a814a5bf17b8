"""Termination terms: goal reached (COMPASS's tolerances), collision, timeout."""

from __future__ import annotations

import numpy as np

from compass_nav.contract.geometry import wrap_angle


def goal_reached(pose, vel, goal, cfg) -> np.ndarray:
    """Within the goal tolerance, heading aligned, and (nearly) stopped."""
    dist = np.hypot(goal[:, 0] - pose[:, 0], goal[:, 1] - pose[:, 1])
    heading = np.abs(wrap_angle(goal[:, 2] - pose[:, 2]))
    speed = np.hypot(vel[:, 0], vel[:, 1])
    return (
        (dist < cfg.goal_tolerance)
        & (heading < cfg.heading_tolerance)
        & (speed < cfg.stop_speed)
        & (np.abs(vel[:, 2]) < cfg.stop_yaw_rate)
    )


def timed_out(steps, cfg) -> np.ndarray:
    """Episode step budget used up (a truncation, not a termination)."""
    return steps >= cfg.max_episode_steps


def episode_outcome(info: dict, e: int) -> str:
    """How slot ``e``'s finished episode ended, from a step's ``info``.

    ``success``, ``collision`` or ``timeout`` (a truncation).
    """
    if info["success"][e]:
        return "success"
    return "collision" if info["collision"][e] else "timeout"
