"""Batched local-grid kernels of the classical planner (:mod:`compass_nav.policies.classical`).

The classical planner keeps a robot-centric costmap per env (cell size
:data:`compass_nav.contract.geometry.RESOLUTION`); every control step it needs, for each env,
the cost-to-go from every local cell to a local target. :func:`local_cost_to_go` runs the
global planner's Dijkstra (:func:`compass_nav.planner.grid.dijkstra`) on each env's local grid,
parallel over envs with ``numba.prange``.
"""

from __future__ import annotations

import numba as nb

from compass_nav.planner.grid import dijkstra

__all__ = ["local_cost_to_go"]


@nb.njit(parallel=True, cache=True)
def local_cost_to_go(cost, target_i, target_j, out):
    """Cost-to-go to one target cell on each env's local grid.

    Args:
        cost: (N, G, G) float64 per-metre traversal cost (finite everywhere: obstacles are
            expensive, not forbidden, so the field is defined even when the target lies
            behind an obstacle the robot has just seen).
        target_i: (N,) int64 target cell row of each env (clamped into the grid).
        target_j: (N,) int64 target cell column of each env (clamped into the grid).
        out: (N, G, G) float64, written with the cost-to-go in cost-weighted metres.
    """
    n = cost.shape[0]
    g = cost.shape[1]
    for e in nb.prange(n):
        ti = min(max(target_i[e], 0), g - 1)
        tj = min(max(target_j[e], 0), g - 1)
        out[e] = dijkstra(cost[e], ti, tj)
