"""Reward terms. Each maps the batched step quantities to (N,) float64; weights in config.

The env sums ``weight * term`` over :data:`TERMS` with weights from
:class:`compass_nav.sim.config.RewardConfig` (same names).
"""

from __future__ import annotations

import numpy as np


def progress(q: dict) -> np.ndarray:
    """Decrease of the geodesic (planned) distance to the goal this step, m."""
    return q["geo_before"] - q["geo_after"]


def distance(q: dict) -> np.ndarray:
    """Straight-line distance to the goal after the step, m (COMPASS's term, negate by weight)."""
    return -q["dist_after"]


def success(q: dict) -> np.ndarray:
    """1 on the step the goal is reached."""
    return q["success"].astype(np.float64)


def collision(q: dict) -> np.ndarray:
    """1 on the step the footprint touches an obstacle."""
    return q["collision"].astype(np.float64)


def time(q: dict) -> np.ndarray:
    """1 every step (a weight below 0 makes it a time penalty)."""
    return np.ones_like(q["dist_after"])


def smoothness(q: dict) -> np.ndarray:
    """Norm of the change of the action, normalised by the body's limits."""
    return np.linalg.norm(q["action_delta_norm"], axis=1)


TERMS = {
    "progress": progress,
    "distance": distance,
    "success": success,
    "collision": collision,
    "time": time,
    "smoothness": smoothness,
}


def total(weights, q: dict) -> np.ndarray:
    """Weighted sum of the terms (weights: an object with one attribute per term)."""
    out = np.zeros_like(q["dist_after"])
    for name, fn in TERMS.items():
        w = getattr(weights, name)
        if w != 0.0:
            out += w * fn(q)
    return out
