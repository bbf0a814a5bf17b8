"""Did the first frame see where real collisions happen?

For the real collision episodes of some train policies (their ground-truth episodes), the
obstacle map of the episode's real first frame (measured cells only, the geometric half of
the ``map_max`` judge) is checked at the final pose: does the footprint touch (clearance <=
0.05 m) a cell that frame measured? Printed for maps reaching 4 m (the judge's setting),
8 m and 19 m. A contact the first frame never saw can only be judged from imagined frames.

    .venv/bin/python benchmarks/bench_wm_contact_visibility.py
"""

from __future__ import annotations

import argparse

import numpy as np

import compass_nav.worldmodel.geometry as G
from compass_nav.contract.body import get_embodiment
from compass_nav.contract.geometry import wrap_angle
from compass_nav.worldmodel.rollouts import load_rollouts, rollout_path

SPECS = (
    "degraded:goal_seeker?route=straight",
    "degraded:goal_seeker?noise=0.5",
    "degraded:goal_seeker?noise=1.0",
    "random",
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="runs/worldmodel/data", help="collected pool data")
    ap.add_argument("--embodiment", default="carter")
    args = ap.parse_args()
    body = get_embodiment(args.embodiment)
    default_range = G.MAX_RANGE_M
    try:
        for spec in SPECS:
            r = load_rollouts(rollout_path(args.data, "eval", spec))
            idx = np.nonzero(r.collision_end)[0]
            if idx.size == 0:
                continue
            first = r.depth[r.start[idx]].astype(np.float32)
            p0, p1 = r.pose[r.start[idx]], r.pose[r.start[idx] + r.length[idx]]
            d = p1[:, :2] - p0[:, :2]
            c, s = np.cos(p0[:, 2]), np.sin(p0[:, 2])
            rel = np.stack(
                [
                    c * d[:, 0] + s * d[:, 1],
                    -s * d[:, 0] + c * d[:, 1],
                    wrap_angle(p1[:, 2] - p0[:, 2]),
                ],
                1,
            )
            cells = []
            for reach in (4.0, 8.0, 19.0):
                G.MAX_RANGE_M = reach
                m = G.ObstacleMap(
                    len(idx), G.DepthProjector(body, first.shape[-1]), body.length, body.width
                )
                m.add_real(np.zeros((len(idx), 3)), first, start=True)
                seen = m.clearance(rel, predicted=False) <= 0.05
                cells.append(f"map to {reach:4.1f} m: {seen.mean():.2f}")
            print(
                f"{spec:40s} {idx.size:3d} collisions | contact on a measured cell, "
                + " | ".join(cells)
            )
    finally:
        G.MAX_RANGE_M = default_range


if __name__ == "__main__":
    main()
