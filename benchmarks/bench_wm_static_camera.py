"""Video quality with and without the static-camera rule, in one run.

The rule (``evaluate.static_camera``): a camera that has not moved since its last real frame
sees that frame again, and a transition that does not move it keeps the frame latent. It
changes nothing learned, so the same checkpoint is measured both ways on the same recorded
windows: PSNR at each horizon, autoregressive and teacher-forced, against copying the last
frame, for the train policies' rollouts (in distribution) and the held-out policies'; and the
share of windows whose robot never moves. Last stdout line: model-minus-copy PSNR per
setting, group, mode and horizon.

    nice -n 5 .venv/bin/python benchmarks/bench_wm_static_camera.py \\
        --model runs/worldmodel/model_v6b.pt --data runs/worldmodel/data
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from compass_nav.worldmodel.evaluate import _windows, video_quality
from compass_nav.worldmodel.pool import load_split
from compass_nav.worldmodel.train import load_checkpoint


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="world-model checkpoint")
    ap.add_argument("--data", default="runs/worldmodel/data", help="collected pool data")
    args = ap.parse_args()
    loaded = load_checkpoint(args.model)
    cfg = loaded.config
    ec = cfg.evaluate
    torch.set_num_threads(cfg.train.threads)
    truth = load_split(cfg, args.data, "eval")
    roles = {p.spec: p.role for p in cfg.pool.policies}
    summary = []
    for group, role in (("in_distribution", "train"), ("heldout_policies", "heldout")):
        rolls = [truth[s] for s in truth if roles[s] == role]
        wins = _windows(rolls, max(ec.horizons), ec.video_windows, np.random.default_rng(ec.seed))
        still = np.mean(
            [np.abs(r.speed[s : s + max(ec.horizons) + 1]).max() == 0 for r, s in wins]
        )
        print(f"{group}: {len(wins)} windows, {still:.0%} of a robot that never moves")
        for rule in (True, False):
            loaded.model.static_camera = rule
            vq = video_quality(loaded, rolls, ec.horizons, ec.video_windows, ec.seed)
            for mode in ("ar", "tf"):
                m, c, sh = (vq[mode][k]["psnr"] for k in ("model", "copy", "shuffled"))
                print(
                    f"  static_camera={rule!s:5s} {mode}: "
                    + "  ".join(
                        f"@{h} {a:.2f} (copy {b:.2f}, shuffled {d:.2f})"
                        for h, a, b, d in zip(ec.horizons, m, c, sh, strict=True)
                    )
                )
                summary += [
                    f"{rule:d}/{group}/{mode}/{h}={a - b:+.2f}"
                    for h, a, b in zip(ec.horizons, m, c, strict=True)
                ]
    print(" ".join(summary))


if __name__ == "__main__":
    main()
