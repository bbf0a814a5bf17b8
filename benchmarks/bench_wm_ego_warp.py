"""Which ``evaluate.ego_warp`` setting fits the train policies best (the pre-registered rule).

Imagines every ``train`` policy of the pool (those that can act in imagination) from the
same real first frames under one ``evaluate.ego_warp`` setting (``off``, ``warp`` or
``reanchor``; :mod:`compass_nav.worldmodel.warp`), calibrates every judge mode on them as
the evaluation does, and prints, per mode, the train policies' episode Brier score and
success-rate MSE, plus real and imagined success rate and travel time per policy, and the
in-distribution video quality (PSNR per horizon, model / copy / shuffled). The setting whose
auto-chosen judge has the lowest train episode Brier is the one the held-out sets are
evaluated with (``BENCHMARKS.md``). Held-out policies are never imagined here. The last line
is machine-readable: ``ego_warp=<setting> snap_floor=<0|1> replan=<0|1> judge=<mode>
brier=<value>``. ``--snap-floor`` warps floor pixels with the floor depth along their own ray
(``evaluate.snap_floor``); ``--replan`` re-plans imagined routes from the imagined pose
(``evaluate.replan``).

    nice -n 5 .venv/bin/python benchmarks/bench_wm_ego_warp.py \\
        --model runs/worldmodel/model_v6b.pt --ego-warp memory
    nice -n 5 .venv/bin/python benchmarks/bench_wm_ego_warp.py \\
        --model runs/worldmodel/model_v7.pt --ego-warp warp --snap-floor
    nice -n 5 .venv/bin/python benchmarks/bench_wm_ego_warp.py \
        --model runs/worldmodel/model_v7.pt --ego-warp warp --replan
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from compass_nav.plugins import register_all
from compass_nav.policies import make_policy
from compass_nav.worldmodel.evaluate import (
    calibrate_offset,
    episode_brier,
    video_quality,
)
from compass_nav.worldmodel.imagine import AUTO_MODES, NeedsSimulator, imagine_episodes, outcomes
from compass_nav.worldmodel.pool import load_split
from compass_nav.worldmodel.train import load_checkpoint
from compass_nav.worldmodel.warp import EGO_WARP_MODES


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="world-model checkpoint")
    ap.add_argument("--data", default="runs/worldmodel/data", help="collected pool data")
    ap.add_argument("--ego-warp", choices=EGO_WARP_MODES, required=True)
    ap.add_argument(
        "--snap-floor",
        action="store_true",
        help="warped floor pixels show the floor along their own ray",
    )
    ap.add_argument(
        "--replan", action="store_true", help="imagined routes re-plan from the imagined pose"
    )
    args = ap.parse_args()
    loaded = load_checkpoint(args.model)
    cfg = loaded.config
    ec = cfg.evaluate
    torch.set_num_threads(cfg.train.threads)
    loaded.model.static_camera = ec.static_camera
    truth = load_split(cfg, args.data, "eval", role="train")
    ims, reals = {}, {}
    t0 = time.time()
    for spec, real in truth.items():
        try:
            ims[spec] = imagine_episodes(
                loaded,
                make_policy(spec),
                real,
                cfg.pool.max_episode_steps,
                seed=ec.seed,
                ego_warp=args.ego_warp,
                snap_floor=args.snap_floor,
                replan=args.replan,
            )
        except NeedsSimulator:
            continue
        reals[spec] = real
    specs = list(ims)
    real_sr = np.array([reals[s].success.mean() for s in specs])
    rows = {}
    for mode in AUTO_MODES:
        off, mse = calibrate_offset([ims[s] for s in specs], real_sr, mode, ec.threshold)
        brier = episode_brier(
            [ims[s] for s in specs], [reals[s] for s in specs], off, mode, ec.threshold
        )
        rows[mode] = (off, mse, brier)
        print(
            f"ego_warp={args.ego_warp} snap_floor={int(args.snap_floor)} "
            f"replan={int(args.replan)} judge {mode:9s} "
            f"offset {off:+.1f} train SR MSE {mse:.4f} episode Brier {brier:.4f}"
        )
    chosen = min(rows, key=lambda m: rows[m][2])
    off = rows[chosen][0]
    for s in specs:
        im, real = ims[s], reals[s]
        o = outcomes(im, off, chosen, ec.threshold)
        t_im = im.time[im.reached].mean() if im.reached.any() else float("nan")
        t_real = real.time[real.success].mean() if real.success.any() else float("nan")
        print(
            f"  {s:48s} real SR {real.success.mean():.3f} time {t_real:5.1f} s | imagined "
            f"SR {o['success'].mean():.3f} time {t_im:5.1f} s"
        )
    steps = sum(im.steps for im in ims.values())
    secs = sum(im.seconds for im in ims.values())
    print(
        f"imagination: {steps / secs:.0f} steps/s, {len(specs)} policies, {time.time() - t0:.0f} s"
    )
    vq = video_quality(
        loaded,
        list(truth.values()),
        ec.horizons,
        ec.video_windows,
        ec.seed,
        ego_warp=args.ego_warp,
        snap_floor=args.snap_floor,
    )
    for m in ("ar", "tf"):
        print(
            f"video {m} PSNR at {vq['horizons']}: "
            + "; ".join(
                f"{k} " + "/".join(f"{p:.2f}" for p in v["psnr"]) for k, v in vq[m].items()
            )
        )
    print(
        f"ego_warp={args.ego_warp} snap_floor={int(args.snap_floor)} "
        f"replan={int(args.replan)} judge={chosen} brier={rows[chosen][2]:.5f}"
    )


if __name__ == "__main__":
    register_all()  # the policies make_policy knows, as the command line registers them
    main()
