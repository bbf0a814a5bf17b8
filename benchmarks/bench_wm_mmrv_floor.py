"""The rank metrics' sampling floor: how far two simulator measurements of a set would differ.

Each held-out policy's real success rate is measured from a finite number of episodes, so
even a perfect predictor (the simulator itself, run again on fresh seeds) would not score
MMRV 0 against it. For every set of a ``bench_wm_heldout_sets.py`` report, this draws two
independent binomial measurements of every policy's success (its measured rate, the same
number of episodes) and prints the MMRV, Pearson and MAE between them: mean and 90th
percentile over draws. A prediction whose figures lie at this level is as close to the
simulator as the simulator is to itself.

    .venv/bin/python benchmarks/bench_wm_mmrv_floor.py runs/worldmodel/report_v7_replan_sets
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from compass_nav.worldmodel import metrics as M


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("report", help="folder with results.json and sets.json")
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    folder = Path(args.report)
    per_policy = json.loads((folder / "results.json").read_text())["per_policy"]
    sets = json.loads((folder / "sets.json").read_text())["sets"]
    rng = np.random.default_rng(args.seed)
    print(
        f"{'set':10s} {'n':>3s}  two independent measurements: MMRV mean (p90) | Pearson "
        "mean (p10) | MAE mean"
    )
    for name, row in sets.items():
        specs = row["policies"]
        p = np.array([per_policy[s]["real"]["success"] for s in specs])
        n = np.array([per_policy[s]["real"]["episodes"] for s in specs])
        mmrv, pearson, mae = [], [], []
        for _ in range(args.draws):
            a, b = rng.binomial(n, p) / n, rng.binomial(n, p) / n
            mmrv.append(M.mmrv(a, b))
            pearson.append(M.pearson(a, b))
            mae.append(M.mae(a, b))
        print(
            f"{name:10s} {len(specs):3d}  {np.mean(mmrv):.3f} ({np.quantile(mmrv, 0.9):.3f})"
            f" | {np.nanmean(pearson):.3f} ({np.nanquantile(pearson, 0.1):.3f}) | "
            f"{np.mean(mae):.3f}"
        )


if __name__ == "__main__":
    main()
