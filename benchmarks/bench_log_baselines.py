"""PSNR of the model-free frame predictors against a log folder's frames, per step ahead.

    .venv/bin/python benchmarks/bench_log_baselines.py runs/logs --horizon 16 --stride 8

Copy-last-frame and first-frame re-projection (along the logged odometry, and along the
commands) from every ``stride``-th step of every episode with depth; the learned video model
must beat the re-projection (docs/LOGS.md, "Model-free predictors").
"""

from __future__ import annotations

import argparse
import time

from compass_nav.logs import LogDataset
from compass_nav.worldmodel.baselines import baseline_psnr


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("logs", help="log dataset folder")
    p.add_argument("--horizon", type=int, default=16)
    p.add_argument("--stride", type=int, default=8)
    args = p.parse_args()
    ds = LogDataset(args.logs)
    t0 = time.perf_counter()
    odo = baseline_psnr(ds, args.horizon, args.stride, "odometry")
    cmd = baseline_psnr(ds, args.horizon, args.stride, "command")
    secs = time.perf_counter() - t0
    print(f"{args.logs}: {len(ds)} episodes, {odo['windows']} windows, {secs:.1f} s")
    print("step  copy_last  reproject(odometry)  reproject(command)  covered")
    for k in range(args.horizon):
        copy, warp = odo["copy_last_frame"][k], odo["reproject_first_frame"][k]
        print(
            f"{k + 1:4d}  {copy:9.2f}  {warp:19.2f}  {cmd['reproject_first_frame'][k]:18.2f}"
            f"  {odo['coverage'][k]:7.3f}"
        )


if __name__ == "__main__":
    main()
