"""Latency of one X-Mobility policy step in torch on the CPU (batch 1), 1 and 2 threads.

Times :meth:`XMobility.step` (pre-processing incl. the resize from the camera size, encoder,
RSSM, fusion, heads, action scaling) on a 64x64 camera frame, the recurrent state fed back
each call, under ``torch.inference_mode``. Uses the given checkpoint or run folder, else a
freshly initialised ``default`` preset (same sizes, same cost). Prints the parameter count,
p50/p90 per thread count and, as its last line, ``name=value`` pairs.

    .venv/bin/python benchmarks/bench_policy_torch.py [--model runs/il_carter] [--iters 500]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from compass_nav.contract.body import get_embodiment
from compass_nav.models.checkpoint_policy import load_model
from compass_nav.models.xmobility import XMobility, count_parameters, preset


def time_steps(model: XMobility, threads: int, iters: int, camera: int) -> np.ndarray:
    """Per-call latencies (s) of ``iters`` steps after a warm-up."""
    torch.set_num_threads(threads)
    g = torch.Generator().manual_seed(0)
    rgb = torch.randint(0, 256, (1, camera, camera, 3), generator=g, dtype=torch.uint8)
    depth = torch.rand(1, camera, camera, generator=g) * 6
    speed = torch.zeros(1, 3)
    route = torch.randn(1, model.cfg.route_points, 2, generator=g)
    goal = torch.tensor([[3.0, 1.0, 0.5]])
    emb = torch.from_numpy(get_embodiment("carter").descriptor())[None]
    state = model.initial(1)
    h, z, prev = state.h, state.z, torch.zeros(1, 3)
    out = np.empty(iters)
    with torch.inference_mode():
        for i in range(iters + 50):
            t0 = time.perf_counter()
            prev, _, h, z = model.step(rgb, depth, speed, route, goal, emb, prev, h, z)
            if i >= 50:
                out[i - 50] = time.perf_counter() - t0
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="checkpoint or run folder (default: untrained default)")
    ap.add_argument("--iters", type=int, default=500)
    ap.add_argument("--camera", type=int, default=64, help="square camera size fed in")
    args = ap.parse_args()
    model = load_model(args.model) if args.model else XMobility(preset("default")).eval()
    n_all, n_inf = count_parameters(model), count_parameters(model, inference_only=True)
    print(
        f"parameters: {n_all} (inference path {n_inf}); input "
        f"{model.cfg.image_height}x{model.cfg.image_width} from a {args.camera}px camera"
    )
    res = {}
    for threads in (1, 2):
        t = time_steps(model, threads, args.iters, args.camera) * 1e3
        res[threads] = (np.percentile(t, 50), np.percentile(t, 90))
        print(f"threads={threads}: p50 {res[threads][0]:.3f} ms  p90 {res[threads][1]:.3f} ms")
    print(
        f"params={n_all} params_inference={n_inf} p50_ms_1thread={res[1][0]:.3f} "
        f"p90_ms_1thread={res[1][1]:.3f} p50_ms_2threads={res[2][0]:.3f} "
        f"p90_ms_2threads={res[2][1]:.3f}"
    )


if __name__ == "__main__":
    main()
