"""How predicted depth drifts with the horizon, as a depth-reading policy would see it.

On recorded windows of one pool policy (training scenes by default, so held-out sets stay
untouched), the world model predicts depth from the first frame with the recorded commands,
autoregressive (``AR``) and teacher-forced (``TF``). At each horizon it prints what the
depth seeker (``compass_nav.policies.degraded.DepthSeeker``) would read in predicted and real
frames: the share of pixels it calls obstacle (nearer than 85% of the floor's depth in its
row band), the share of frames whose nearest obstacle ahead (central columns) is under its
1.6 m slow-down range, and the median range ahead (capped at 5 m).

    nice -n 5 .venv/bin/python benchmarks/bench_wm_depth_drift.py \\
        --model runs/worldmodel/model_v6b.pt
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from compass_nav.contract.body import get_embodiment
from compass_nav.policies.degraded import floor_depth
from compass_nav.worldmodel.model import frames_to_tensor, tensor_to_frames
from compass_nav.worldmodel.rollouts import load_rollouts, rollout_path
from compass_nav.worldmodel.train import load_checkpoint, step_features

HORIZONS = (1, 4, 8, 16, 32)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="world-model checkpoint")
    ap.add_argument("--data", default="runs/worldmodel/data", help="collected pool data")
    ap.add_argument(
        "--policy",
        default="degraded:depth_seeker?route=straight",
        help="pool policy whose recorded windows are used",
    )
    ap.add_argument(
        "--split",
        default="train",
        choices=("train", "eval"),
        help="training-scene rollouts (default) or the held-out-scene ground truth",
    )
    ap.add_argument("--windows", type=int, default=60)
    args = ap.parse_args()
    loaded = load_checkpoint(args.model)
    model = loaded.model
    torch.set_num_threads(loaded.config.train.threads)
    body = get_embodiment(loaded.config.pool.embodiment)
    r = load_rollouts(rollout_path(args.data, args.split, args.policy))
    H = max(HORIZONS)
    eps = [i for i in range(r.num_episodes) if r.length[i] >= H][: args.windows]
    rows = np.stack([r.start[i] + np.arange(H + 1) for i in eps])
    x = frames_to_tensor(r.rgb[rows], r.depth[rows].astype(np.float32))
    feats = torch.from_numpy(step_features(r, body)[rows[:, :-1]])
    size = r.depth.shape[-1]
    floor = floor_depth(r.descriptor[None], size, size)[0]
    band = slice(int(0.25 * size), int(0.95 * size))
    centre = slice(int(0.4 * size), int(0.6 * size) + 1)

    def read(d: np.ndarray) -> tuple[float, float, float]:
        obstacle = d[:, band, :] < 0.85 * floor[band, None]
        ahead = np.where(obstacle, d[:, band, :], np.inf).min(1)[:, centre].min(1)
        return obstacle.mean(), (ahead < 1.6).mean(), float(np.median(np.minimum(ahead, 5.0)))

    print(f"{len(eps)} windows of {args.policy} ({args.split} split)")
    with torch.no_grad():
        for mode in ("AR", "TF"):
            state = model.initial(x[:, 0])
            for t in range(H):
                nxt, _ = model.imagine(state, feats[:, t])
                if t + 1 in HORIZONS:
                    _, pred = tensor_to_frames(model.render(nxt), far=body.camera_far)
                    p, q = read(pred), read(r.depth[rows[:, t + 1]].astype(np.float32))
                    print(
                        f"{mode} h={t + 1:2d}  obstacle pixels {p[0]:.3f} (real {q[0]:.3f})  "
                        f"blocked ahead {p[1]:.2f} (real {q[1]:.2f})  median range ahead "
                        f"{p[2]:.2f} m (real {q[2]:.2f} m)"
                    )
                state = model.with_real(nxt.h, x[:, t + 1]) if mode == "TF" else nxt


if __name__ == "__main__":
    main()
