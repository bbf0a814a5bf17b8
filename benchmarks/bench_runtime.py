"""Policy step latency and throughput: onnxruntime vs torch, through the runtime interface.

Exports the model (a checkpoint / run folder, or a freshly initialised ``default``-preset IL
base: same sizes, same cost) to ONNX in a temporary folder, then times
:meth:`PolicyRuntime.step` of :class:`OnnxRuntime` and :class:`TorchRuntime` - everything
a robot pays per control period: input checks, recurrent state in and out, the graph - at
batch 1 (latency p50/p99) and batch 64 (throughput), with 1 and 2 intra-op threads. The two
runtimes are timed in alternating rounds so that load from other processes on a shared
machine hits both alike; compare them by the ratios. Last line: ``name=value`` pairs.

    nice -n 10 .venv/bin/python benchmarks/bench_runtime.py [--model runs/il_carter]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from compass_nav.contract.body import get_embodiment
from compass_nav.export.onnx_export import export_onnx
from compass_nav.runtime.onnx_runtime import OnnxRuntime
from compass_nav.runtime.sources import load_exportable
from compass_nav.runtime.torch_runtime import TorchRuntime


def _module(model: str | None):
    if model:
        return load_exportable(model)
    from compass_nav.models.xmobility import XMobility, preset
    from compass_nav.runtime.adapters import StepExport

    torch.manual_seed(0)
    cfg = preset("default")
    return StepExport(
        XMobility(cfg),
        cfg,
        kind="il_base",
        train_config={"note": "untrained default preset (benchmark only)"},
    )


def _obs(spec, batch: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    h, w = spec.image_height, spec.image_width
    bodies = ["carter", "spot", "h1", "g1"]
    return {
        "rgb": rng.integers(0, 256, (batch, h, w, 3), dtype=np.uint8),
        "depth": rng.uniform(0.3, 8.0, (batch, h, w)).astype(np.float32),
        "speed": rng.normal(0, 0.3, (batch, 3)).astype(np.float32),
        "route": np.cumsum(rng.uniform(0, 0.4, (batch, spec.route_points, 2)), 1).astype(
            np.float32
        ),
        "goal": rng.normal(0, 2, (batch, 3)).astype(np.float32),
        "embodiment": np.stack([get_embodiment(bodies[i % 4]).descriptor() for i in range(batch)]),
    }


def _time(runtimes: dict, obs: dict, rounds: int, per_round: int, bar) -> dict[str, np.ndarray]:
    """Per-step seconds of each runtime, measured in alternating rounds."""
    out = {k: [] for k in runtimes}
    for rt in runtimes.values():  # warm-up (allocations, first-run graph optimisations)
        for _ in range(10):
            rt.step(obs)
    for _ in range(rounds):
        for name, rt in runtimes.items():
            for _ in range(per_round):
                t0 = time.perf_counter()
                rt.step(obs)
                out[name].append(time.perf_counter() - t0)
            bar.update(per_round)
    return {k: np.asarray(v) for k, v in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="checkpoint or run folder (default: untrained default)")
    ap.add_argument("--rounds", type=int, default=10, help="alternating rounds per setting")
    ap.add_argument("--steps", type=int, default=100, help="batch-1 steps per round")
    ap.add_argument("--big-batch", type=int, default=64)
    ap.add_argument("--big-steps", type=int, default=10, help="big-batch steps per round")
    args = ap.parse_args()

    module = _module(args.model)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "policy.onnx"
        rep = export_onnx(module, path, command="benchmarks/bench_runtime.py")
        spec = module.input_spec()
        n_inf = sum(p.numel() for n, p in module.named_parameters() if ".decoder." not in n)
        print(
            f"model: {args.model or 'default preset (untrained)'}; {n_inf} parameters on the "
            f"inference path; ONNX {rep.size_bytes / 1e6:.2f} MB, {rep.nodes} nodes; input "
            f"{spec.image_height}x{spec.image_width}; cpu count {os.cpu_count()}; load "
            f"average {os.getloadavg()[0]:.1f}"
        )
        figures: dict[str, float] = {}
        total = 2 * args.rounds * 2 * (args.steps + args.big_steps)
        with tqdm(total=total, desc="bench runtime", unit="step") as bar:
            for threads in (1, 2):
                torch.set_num_threads(threads)
                runtimes = {
                    "onnx": OnnxRuntime(path, threads=threads),
                    "torch": TorchRuntime(module),
                }
                lat = _time(runtimes, _obs(spec, 1, 0), args.rounds, args.steps, bar)
                big = _time(
                    runtimes, _obs(spec, args.big_batch, 1), args.rounds, args.big_steps, bar
                )
                for name in runtimes:
                    ms = lat[name] * 1e3
                    figures[f"{name}_b1_p50_ms_t{threads}"] = float(np.percentile(ms, 50))
                    figures[f"{name}_b1_p99_ms_t{threads}"] = float(np.percentile(ms, 99))
                    figures[f"{name}_b{args.big_batch}_samples_per_s_t{threads}"] = float(
                        args.big_batch / np.median(big[name])
                    )
                figures[f"onnx_over_torch_b1_p50_t{threads}"] = (
                    figures[f"onnx_b1_p50_ms_t{threads}"] / figures[f"torch_b1_p50_ms_t{threads}"]
                )
                figures[f"onnx_over_torch_b{args.big_batch}_t{threads}"] = (
                    figures[f"torch_b{args.big_batch}_samples_per_s_t{threads}"]
                    / figures[f"onnx_b{args.big_batch}_samples_per_s_t{threads}"]
                )
    print(
        f"{'runtime':<8}{'threads':>8}{'b1 p50 ms':>11}{'b1 p99 ms':>11}"
        f"{f'b{args.big_batch} samples/s':>18}"
    )
    for threads in (1, 2):
        for name in ("onnx", "torch"):
            print(
                f"{name:<8}{threads:>8}{figures[f'{name}_b1_p50_ms_t{threads}']:>11.3f}"
                f"{figures[f'{name}_b1_p99_ms_t{threads}']:>11.3f}"
                f"{figures[f'{name}_b{args.big_batch}_samples_per_s_t{threads}']:>18.0f}"
            )
    print(" ".join(f"{k}={v:.4g}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
