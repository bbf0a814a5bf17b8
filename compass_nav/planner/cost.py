"""The planner's traversal cost for a body: forbidden, expensive and soft bands of clearance.

Read by the simulator when it plans an episode (:mod:`compass_nav.sim.env`), by the RL
reward's band and by the world model's kinematics, so that they all plan alike.
"""

from __future__ import annotations

import numpy as np

from compass_nav.contract.body import EmbodimentSpec
from compass_nav.planner import grid

#: The planner's expensive band reaches this far beyond the circumscribed radius, m.
PLANNER_MARGIN_M = 0.05


def planner_radii(body: EmbodimentSpec) -> tuple[float, float]:
    """(forbidden, expensive) clearance radii of the planner's cost for a body, m."""
    return body.inscribed_radius, body.circumscribed_radius + PLANNER_MARGIN_M


def planner_cost(
    clearance: np.ndarray, body: EmbodimentSpec, forbid: float | None = None
) -> np.ndarray:
    """Per-metre traversal cost for a body on the inflated grid (``grid.INF`` = forbidden).

    The centre may not come closer to an obstacle than the inscribed radius; closer than the
    circumscribed radius is allowed but expensive (the body has to be aligned to fit); up to
    0.8 m beyond it a soft cost keeps plans in the middle of aisles.

    Args:
        clearance: (G, G) m from each cell to the nearest obstacle surface.
        body: The body.
        forbid: Where given, cells with less clearance than this (m) are forbidden instead of
            below the inscribed radius + 0.02 (the v2 scenarios pass the body's half-width
            plus a margin: a body wider than long must not be planned through a gap
            narrower than its width).
    """
    r_in, r_out = planner_radii(body)
    # float64 from the start: in float32 (the clearance's dtype) the marker 1e18 would be
    # stored as 9.99999984e17 and no ``>= INF`` test would recognise a forbidden cell.
    clearance = np.asarray(clearance, dtype=np.float64)
    cost = 1.0 + 2.0 * np.clip((0.8 - (clearance - r_out)) / 0.8, 0.0, 1.0)
    cost = np.where(clearance < r_out, 9.0, cost)
    limit = r_in + 0.02 if forbid is None else forbid
    return np.where(clearance < limit, grid.INF, cost)
