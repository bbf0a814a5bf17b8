"""Offline policy evaluation with the video world model: the full benchmark.

Records the pool's ground truth and training rollouts (reused when already there), trains the
world model unless a checkpoint exists (or ``--retrain``), imagines every pool policy from
its real first frames and compares predicted with real success. Writes the report folder
(``report.md``, ``results.json``, plots, GIFs) and prints, as its last line, ``name=value``
pairs: held-out and all-policy rank metrics, in-distribution PSNR at each horizon for the
model and both baselines, imagination speed, training time, judge accuracy, and the load
average seen during the run (the machine is shared; see docs/WORLDMODEL.md).

    nice -n 15 .venv/bin/python benchmarks/bench_worldmodel.py                # default preset
    .venv/bin/python benchmarks/bench_worldmodel.py --preset tiny --workdir /tmp/wm_tiny
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from compass_nav.plugins import register_all
from compass_nav.worldmodel.cli import resolve_config
from compass_nav.worldmodel.evaluate import evaluate_pool
from compass_nav.worldmodel.pool import collect_pool, load_split
from compass_nav.worldmodel.report import format_markdown, headline, write_report
from compass_nav.worldmodel.train import load_checkpoint, train_world_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", default="default", choices=("default", "tiny"))
    ap.add_argument("--workdir", default="runs/worldmodel")
    ap.add_argument("--model", help="checkpoint (default: <workdir>/model.pt)")
    ap.add_argument("--retrain", action="store_true", help="train even if the model exists")
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    args = ap.parse_args()
    work = Path(args.workdir)
    model_path = Path(args.model) if args.model else work / "model.pt"
    cfg = resolve_config(args.preset, None, args.overrides)
    load = [os.getloadavg()[0]]
    t0 = time.time()
    collect_pool(cfg, work / "data")
    if args.retrain or not model_path.is_file():
        train_world_model(cfg, list(load_split(cfg, work / "data", "train").values()), model_path)
    load.append(os.getloadavg()[0])
    loaded = load_checkpoint(model_path)
    results = evaluate_pool(loaded, work / "data")
    write_report(results, work / "report")
    load.append(os.getloadavg()[0])
    print(format_markdown(results))
    figures = headline(results)
    figures["bench_minutes"] = (time.time() - t0) / 60.0
    figures["load_avg_max"] = max(load)
    print(" ".join(f"{k}={v:.4g}" for k, v in figures.items()))


if __name__ == "__main__":
    register_all()  # the policies make_policy knows, as the command line registers them
    main()
