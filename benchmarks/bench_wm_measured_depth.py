"""Do vision policies stall in imagination because of predicted depth the camera measured?

Vision policies (the depth seeker family) are imagined slower than they drive. One
hypothesis: predicted depth shows phantom obstacles, and the policy brakes for them. This
benchmark imagines the pool's ``train`` vision policies twice from the same first frames:
once on the model's predicted depth, once with the depth that the real first frame's
measured cells determine substituted wherever they determine it
(``evaluate.measured_depth``, :meth:`compass_nav.worldmodel.geometry.ObstacleMap
.measured_depth`). Train policies only: the held-out sets stay untouched. Prints real and
imagined success rate and travel time per policy and setting (judge as given).

    nice -n 5 .venv/bin/python benchmarks/bench_wm_measured_depth.py \\
        --model runs/worldmodel/model_v6b.pt --judge map_max --offset -5.3
"""

from __future__ import annotations

import argparse

import torch

from compass_nav.plugins import register_all
from compass_nav.policies import make_policy
from compass_nav.worldmodel.imagine import imagine_episodes, outcomes
from compass_nav.worldmodel.pool import load_split
from compass_nav.worldmodel.train import load_checkpoint


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="world-model checkpoint")
    ap.add_argument("--data", default="runs/worldmodel/data", help="collected pool data")
    ap.add_argument("--judge", default="map_max", help="judge mode for the success rate")
    ap.add_argument(
        "--offset",
        type=float,
        default=0.0,
        help="the judge's calibration offset (from the model's report)",
    )
    args = ap.parse_args()
    loaded = load_checkpoint(args.model)
    cfg = loaded.config
    torch.set_num_threads(cfg.train.threads)
    truth = load_split(cfg, args.data, "eval", role="train")
    for spec, real in truth.items():
        if "depth_seeker" not in spec:
            continue
        for measured in (False, True):
            im = imagine_episodes(
                loaded,
                make_policy(spec),
                real,
                cfg.pool.max_episode_steps,
                seed=cfg.evaluate.seed,
                measured_depth=measured,
            )
            o = outcomes(im, args.offset, args.judge)
            t_im = im.time[im.reached].mean() if im.reached.any() else float("nan")
            t_real = real.time[real.success].mean() if real.success.any() else float("nan")
            print(
                f"{spec:45s} measured_depth={measured!s:5s} real SR {real.success.mean():.3f}"
                f" time {t_real:.1f} s | imagined SR {o['success'].mean():.3f} reached "
                f"{im.reached.mean():.3f} time {t_im:.1f} s"
            )


if __name__ == "__main__":
    register_all()  # the policies make_policy knows, as the command line registers them
    main()
