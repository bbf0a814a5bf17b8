"""How often the ego-motion warp turns floor into an obstacle, as the depth seeker reads it.

On recorded training windows of one pool policy, the first frame is warped by the recorded
motion to the frame ``h`` steps later (``compass_nav.worldmodel.warp``), and on the pixels
the warp covers, the depth seeker's obstacle rule (nearer than 85% of the floor's depth in
its row band) is applied to the warped and to the real depth. Prints both shares and the
share of phantoms (obstacle in the warp, not in the real frame), for the warp as splatted
(``nearest``: a pixel keeps its nearest point) and with floor points snapped to the pixel's
own floor depth (``snap``).

    .venv/bin/python benchmarks/bench_wm_warp_floor.py
"""

from __future__ import annotations

import argparse

import numpy as np

from compass_nav.contract.body import get_embodiment
from compass_nav.contract.geometry import wrap_angle
from compass_nav.policies.degraded import floor_depth
from compass_nav.worldmodel.model import frames_to_tensor
from compass_nav.worldmodel.rollouts import load_rollouts, rollout_path
from compass_nav.worldmodel.warp import FrameWarper


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="runs/worldmodel/data", help="collected pool data")
    ap.add_argument("--policy", default="degraded:depth_seeker?route=straight")
    ap.add_argument("--windows", type=int, default=200)
    ap.add_argument("--embodiment", default="carter")
    args = ap.parse_args()
    r = load_rollouts(rollout_path(args.data, "train", args.policy))
    size = r.depth.shape[-1]
    warper = FrameWarper(get_embodiment(args.embodiment), size)
    floor = floor_depth(r.descriptor[None], size, size)[0]
    band = slice(int(0.25 * size), int(0.95 * size))
    rng = np.random.default_rng(0)
    for h in (1, 4, 8, 16):
        ok = np.nonzero(r.length > h)[0]
        eps = rng.choice(ok, args.windows)
        s = r.start[eps] + (rng.random(args.windows) * (r.length[eps] - h)).astype(int)
        p0, p1 = r.pose[s], r.pose[s + h]
        d = p1[:, :2] - p0[:, :2]
        c, sn = np.cos(p0[:, 2]), np.sin(p0[:, 2])
        rel = np.stack(
            [
                c * d[:, 0] + sn * d[:, 1],
                -sn * d[:, 0] + c * d[:, 1],
                wrap_angle(p1[:, 2] - p0[:, 2]),
            ],
            1,
        )
        for snap in (False, True):
            _, dw, valid = warper.warp(
                frames_to_tensor(r.rgb[s], r.depth[s]),
                r.depth[s],
                np.zeros_like(rel),
                rel,
                snap_floor=snap,
            )
            v = valid.numpy()[:, band]
            warped_obs = (dw.numpy()[:, band] < 0.85 * floor[band, None])[v]
            real_obs = (r.depth[s + h][:, band] < 0.85 * floor[band, None])[v]
            print(
                f"h={h:2d} {'snap' if snap else 'nearest':7s}: covered pixels "
                f"{v.mean():.3f}; read as obstacle: warped {warped_obs.mean():.4f}, real "
                f"{real_obs.mean():.4f}; phantom {(warped_obs & ~real_obs).mean():.4f}; "
                f"missed {(~warped_obs & real_obs).mean():.4f}"
            )


if __name__ == "__main__":
    main()
