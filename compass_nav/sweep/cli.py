"""``compass-nav sweep run|report``: evaluation sweeps (registered through ``compass_nav.cli``).

``run`` resolves the spec file (:class:`compass_nav.sweep.spec.SweepSpec`, ``--set``
overrides), expands it, evaluates the cells not yet stored in ``--out`` on Ray or a local
process pool (:func:`compass_nav.sweep.engine.run_cells`) and writes the report
(:func:`compass_nav.sweep.report.write_report`); ``report`` writes the report again from
a results folder.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from compass_nav.utils.cli import Stage, Verb, add_overrides
from compass_nav.utils.errors import ConfigError
from compass_nav.utils.files import ensure_output_dir

PLAN = "plan.json"

_EPILOG = """\
examples:
  compass-nav sweep run sweep.yaml --out runs/sweep
  compass-nav sweep run sweep.yaml --out runs/sweep --set episodes=50 --engine local
  compass-nav sweep run sweep.yaml --out runs/sweep --address auto   # on a Ray cluster
  compass-nav sweep report runs/sweep

A spec file (every key optional):
  policies: [teacher, goal_seeker, models/default.onnx, "runs/il/checkpoints/step_*.pt"]
  bodies: [all, "random:4"]        # names, all/train/heldout, YAML paths, random:<n>
  families: [warehouse, office, hall]
  route_modes: [planned, mapless]
  episodes: 20
  seeds: [0]
  split: validation                # scene seeds: choose on validation, report heldout once
  backend: embedded
  image_height: 64
  image_width: 64
  max_steps: 300

A re-run skips the cells stored in --out whose fingerprint (policy file hash, body,
settings, code version, backend) is unchanged, so an interrupted sweep resumes."""


def _run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", type=Path, metavar="SPEC", help="sweep spec (YAML)")
    p.add_argument("--out", type=Path, required=True, help="results folder")
    add_overrides(p, "--set episodes=50")
    p.add_argument(
        "--engine",
        choices=("auto", "ray", "local"),
        default="auto",
        help="ray, a local process pool, or auto: ray when installed (default)",
    )
    p.add_argument(
        "--address",
        default=None,
        help="join this Ray cluster (auto, or host:port) instead of starting a local one",
    )
    p.add_argument(
        "--workers", type=int, default=0, help="cells at a time on this machine (0 = cores)"
    )


def _report_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("out", type=Path, metavar="OUT", help="results folder of a sweep")


def run(args: argparse.Namespace) -> int:
    """Handler of ``compass-nav sweep run``."""
    from compass_nav.sweep.engine import resolve_engine, run_cells
    from compass_nav.sweep.report import write_report
    from compass_nav.sweep.spec import SweepSpec, expand
    from compass_nav.utils.atomic import atomic_write_json
    from compass_nav.utils.config import dump_yaml, resolve_config

    if args.workers < 0:
        raise ConfigError(f"--workers={args.workers}: must be >= 0")
    if not args.spec.is_file():
        raise ConfigError(f"SPEC={args.spec}: no such file")
    spec = resolve_config(SweepSpec, config_file=args.spec, overrides=args.set)
    if spec.split == "heldout":
        import sys

        print(
            "WARNING: split: heldout: a sweep over held-out scenes reports, it must not choose "
            "policies, checkpoints or settings; choose on split: validation.",
            file=sys.stderr,
        )
    out = ensure_output_dir(args.out, "--out")
    resolve_engine(args.engine, args.address)
    cells = expand(spec)
    out.mkdir(parents=True, exist_ok=True)
    dump_yaml(spec, out / "sweep.yaml")
    title = f"Evaluation sweep {args.spec.name}"
    atomic_write_json(out / PLAN, {"title": title, "cells": [c.cell_id for c in cells]})
    outcome = run_cells(cells, out, engine=args.engine, address=args.address, workers=args.workers)
    paths = write_report(out, outcome.results, title=title)
    print(
        f"sweep: {len(cells)} cells ({len(outcome.computed)} evaluated, "
        f"{len(outcome.reused)} reused) engine={outcome.engine} wall_s={outcome.wall_s:.1f}; "
        f"wrote {paths['csv']} and {paths['report']}"
    )
    return 0


def report(args: argparse.Namespace) -> int:
    """Handler of ``compass-nav sweep report``."""
    from compass_nav.sweep.engine import CELLS
    from compass_nav.sweep.report import write_report

    plan = args.out / PLAN
    if not plan.is_file():
        raise ConfigError(f"OUT={args.out}: not a sweep results folder (no {PLAN})")
    records, missing = [], []
    data = json.loads(plan.read_text())
    for cid in data["cells"]:
        path = args.out / CELLS / f"{cid}.json"
        if path.is_file():
            records.append(json.loads(path.read_text()))
        else:
            missing.append(cid)
    if not records:
        raise ConfigError(f"OUT={args.out}: no finished cells yet")
    paths = write_report(args.out, records, title=data["title"])
    note = f" ({len(missing)} cells not finished: run the sweep again)" if missing else ""
    print(f"wrote {paths['csv']} and {paths['report']}{note}")
    return 0


STAGE = Stage(
    "sweep",
    help="evaluation sweeps: policies x bodies x families x seeds, on Ray or local cores",
    description="Evaluation sweeps, resumable, with a report.",
    verbs=(
        Verb(
            "run",
            help="run (or resume) a sweep and write its report",
            description="Expand SPEC into cells (policy x body x family x route mode x seed), "
            "evaluate those not stored in OUT with the same fingerprint, one task per core, and "
            "write OUT/cells.csv, OUT/report.md and plots.",
            epilog=_EPILOG,
            handler=run,
            options=_run_options,
        ),
        Verb(
            "report",
            help="write the report of a results folder again",
            description="Write OUT/cells.csv, OUT/report.md and the plots from the stored cells.",
            handler=report,
            options=_report_options,
        ),
    ),
)
