"""Evaluation sweep vs the old sequential path, and a sweep killed half-way then resumed.

Three runs of the same cells (policies x bodies x families, one route mode, one seed):

1. ``sequential``: the old path, a loop of :func:`compass_nav.evaluation.evaluate` calls in
   this process, one per cell, same settings (``workers=1``, no GIFs), after one warm-up
   call (numba's compiled kernels load from its disk cache);
2. ``sweep``: ``compass-nav sweep run SPEC --out A`` as a child process (engine ``auto``:
   a local Ray instance when Ray is installed), timed from start to exit (Ray's start-up
   and the workers' imports included);
3. ``killed + resumed``: the same command into ``B``, sent ``--signal`` (SIGINT, or SIGKILL)
   once half of the cells are stored, then run again to the end; the run after the kill
   must evaluate only the cells that were missing, and ``B``'s ``cells.csv`` and
   ``report.md`` must equal ``A``'s byte for byte.

The last line holds ``sequential_s``, ``sweep_s``, their ratio, the cells, how many were
stored when the sweep was killed, how many the resumed run evaluated, and ``identical``.

    nice -n 10 .venv/bin/python benchmarks/bench_sweep.py
    .venv/bin/python benchmarks/bench_sweep.py --engine local --signal KILL --keep runs/bench_sweep
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_POLICIES = (
    "teacher",
    "goal_seeker",
    "models/default.onnx",
    "degraded:teacher?noise=0.3&delay=2",
)
DEFAULT_BODIES = ("carter", "spot", "g1", "scout", "anymal")


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "compass_nav.cli", *args]


def _stored(out: Path) -> int:
    folder = out / "cells"
    return len(list(folder.glob("*.json"))) if folder.is_dir() else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--policies", nargs="+", default=list(DEFAULT_POLICIES))
    ap.add_argument("--bodies", nargs="+", default=list(DEFAULT_BODIES))
    ap.add_argument("--families", nargs="+", default=["warehouse", "office", "hall"])
    ap.add_argument("--episodes", type=int, default=4, help="episodes per cell (4)")
    ap.add_argument("--image-size", type=int, default=32, help="square camera size (32)")
    ap.add_argument("--max-steps", type=int, default=150, help="episode time limit (150)")
    ap.add_argument("--engine", choices=("auto", "ray", "local"), default="auto")
    ap.add_argument("--signal", choices=("INT", "KILL"), default="INT", help="how to kill")
    ap.add_argument("--keep", type=Path, default=None, help="keep the outputs in this folder")
    args = ap.parse_args()

    from compass_nav.evaluation import evaluate
    from compass_nav.plugins import register_all
    from compass_nav.sweep import SweepSpec, expand

    register_all()
    root = args.keep or Path(tempfile.mkdtemp(prefix="bench_sweep_"))
    for sub in ("A", "B"):
        shutil.rmtree(root / sub, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    spec = {
        "policies": args.policies,
        "bodies": args.bodies,
        "families": args.families,
        "episodes": args.episodes,
        "image_height": args.image_size,
        "image_width": args.image_size,
        "max_steps": args.max_steps,
    }
    spec_path = root / "sweep.yaml"
    spec_path.write_text(json.dumps(spec, indent=1))  # JSON is YAML
    cells = expand(SweepSpec(**spec))
    print(f"{len(cells)} cells; load average before: {os.getloadavg()}", flush=True)

    # 1. The old path: one evaluate() per cell, in this process.
    evaluate("goal_seeker", cells[0].eval_config(), progress=False)  # warm-up
    t0 = time.perf_counter()
    seq_sr = []
    for i, cell in enumerate(cells):
        cell.register_body()
        res = evaluate(cell.load, cell.eval_config(), progress=False)
        seq_sr.append(res.cell(cell.body, cell.family)["sr"])
        print(f"\rsequential {i + 1}/{len(cells)}", end="", file=sys.stderr, flush=True)
    seq = time.perf_counter() - t0
    print(f"\nsequential: {seq:.1f} s", flush=True)

    # 2. The sweep, uninterrupted.
    cmd = ["sweep", "run", str(spec_path), "--engine", args.engine]
    t0 = time.perf_counter()
    subprocess.run(_cli(*cmd, "--out", str(root / "A")), check=True, stdout=subprocess.DEVNULL)
    sweep = time.perf_counter() - t0
    print(f"sweep ({args.engine}): {sweep:.1f} s", flush=True)
    sweep_sr = [
        json.loads((root / "A" / "cells" / f"{c.cell_id}.json").read_text())["metrics"]["sr"]
        for c in cells
    ]

    # 3. Killed half-way, then resumed.
    proc = subprocess.Popen(
        _cli(*cmd, "--out", str(root / "B")),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # the signal reaches the command and its workers, as Ctrl-C
    )
    while _stored(root / "B") < len(cells) // 2 and proc.poll() is None:
        time.sleep(0.05)
    os.killpg(proc.pid, getattr(signal, f"SIG{args.signal}"))
    proc.wait()
    killed_at = _stored(root / "B")
    out = subprocess.run(
        _cli(*cmd, "--out", str(root / "B")), check=True, capture_output=True, text=True
    ).stdout
    resumed = int(out.rsplit("(", 1)[1].split(" evaluated")[0])
    identical = all(
        (root / "A" / f).read_bytes() == (root / "B" / f).read_bytes()
        for f in ("cells.csv", "report.md")
    )
    print(
        f"killed (SIG{args.signal}, exit {proc.returncode}) with {killed_at}/{len(cells)} "
        f"cells stored; the resumed run evaluated {resumed}; report identical: {identical}; "
        f"per-cell SR equal to the sequential loop's: {seq_sr == sweep_sr}"
    )
    print(f"load average after: {os.getloadavg()}; outputs in {root}")
    print(
        f"cells={len(cells)} sequential_s={seq:.1f} sweep_s={sweep:.1f} "
        f"speedup={seq / sweep:.2f} killed_at={killed_at} resumed_evaluated={resumed} "
        f"identical={identical} sr_equal={seq_sr == sweep_sr}"
    )


if __name__ == "__main__":
    main()
