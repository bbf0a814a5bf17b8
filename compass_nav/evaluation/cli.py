"""The ``compass-nav evaluate run`` subcommand (registered through ``compass_nav.cli``).

``compass-nav evaluate run POLICY [options]`` runs :func:`compass_nav.evaluation.evaluate` and
writes the reports; ``compass-nav evaluate run --compare A.json B.json ...`` prints several
results side by side (IL vs specialist vs generalist).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from compass_nav.sim.suites import add_moving_obstacles, add_suite, resolve_suite_defaults
from compass_nav.utils.cli import (
    SIM_ROUTE_MODES,
    Stage,
    Verb,
    add_names,
    add_route_mode,
    add_split,
    config_from_args,
)
from compass_nav.utils.errors import ConfigError
from compass_nav.utils.files import ensure_output_dir, ensure_output_file

_EPILOG = """\
examples:
  compass-nav evaluate run teacher --embodiments all --episodes 200 --out runs/eval/teacher
  compass-nav evaluate run goal_seeker --route-mode mapless --episodes 50
  compass-nav evaluate runs/il/last.pt --embodiments carter spot --gifs 5
  compass-nav evaluate run --compare runs/eval/il runs/eval/generalist --out runs/eval/compare.md
  compass-nav evaluate run models/default.onnx --baselines default --split validation

--embodiments accepts names, YAML paths, the groups 'all', 'train' and 'heldout', and
random:<n>@seed=<s> (n procedural bodies from the envelope in docs/EMBODIMENTS.md).
Episode i of a cell is the same start/goal/scene for every policy under the same --seed,
so two results with equal settings are paired episode by episode; --baselines runs
the baselines on the same episodes and reports paired differences (baselines.md).
Choose settings and models on --split validation; --split heldout is for the figures
reported after that (the result files and reports record the split)."""


def _embodiments(values: list[str]) -> tuple[str, ...]:
    from compass_nav.contract.body import expand_embodiments

    return expand_embodiments(values)


def _default_out(policy: str) -> Path:
    stem = Path(policy).stem if ("/" in policy or "." in policy) else policy
    return Path("runs") / "eval" / re.sub(r"[^A-Za-z0-9_.-]+", "_", stem)


def _run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "policy",
        nargs="?",
        metavar="POLICY",
        help="teacher | standstill | wall | goal_seeker | a checkpoint/model path",
    )
    p.add_argument(
        "--compare",
        nargs="+",
        metavar="RESULTS",
        help="compare results.json files (or folders) instead of evaluating",
    )
    add_names(
        p,
        "--embodiments",
        ["carter"],
        "bodies: names, YAML paths, all/train/heldout, random:<n>@seed=<s> (default: carter)",
    )
    p.add_argument(
        "--families",
        nargs="+",
        default=None,
        metavar="FAMILY",
        help="scene families (default: v2 every family, the held-out one too; v1 the "
        "training families)",
    )
    p.add_argument("--episodes", type=int, default=200, help="episodes per cell (200)")
    add_suite(p, default="v2")
    add_route_mode(
        p,
        default=None,
        choices=SIM_ROUTE_MODES,
        help="route observation: the plan on the true map, the plan on the stale static "
        "map, or the straight line (default: v2 stale_map, v1 planned)",
    )
    add_split(
        p,
        default="heldout",
        help="scene seeds: heldout (reported figures), validation (for choosing "
        "settings), train (heldout)",
        choices=("heldout", "validation", "train"),
    )
    p.add_argument(
        "--baselines",
        default="",
        metavar="SPECS",
        help="comma-separated policies run on the same episodes beside POLICY, with paired "
        "differences (e.g. goal_seeker,classical,teacher; 'default' = those three)",
    )
    p.add_argument("--seed", type=int, default=0, help="episode-set seed (0)")
    p.add_argument(
        "--num-envs",
        type=int,
        default=0,
        help="parallel env slots, a multiple of the cell count (0 = automatic)",
    )
    p.add_argument(
        "--image-size",
        type=int,
        nargs=2,
        default=(64, 64),
        metavar=("H", "W"),
        help="camera resolution (64 64)",
    )
    p.add_argument("--max-steps", type=int, default=300, help="timeout in 10 Hz steps (300)")
    add_moving_obstacles(p)
    p.add_argument(
        "--workers",
        type=int,
        default=0,
        help="processes, each running a share of the cells (0 = one per core, "
        "at most max(embodiments, families))",
    )
    p.add_argument("--gifs", type=int, default=3, help="GIFs of the worst failures (3)")
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output folder (default runs/eval/<policy>); with --compare, a .md "
        "file for the table",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Handler of ``compass-nav evaluate run``."""
    from rich.console import Console

    console = Console()
    if not console.is_terminal:
        console = Console(width=max(console.width, 200))  # logs: keep table rows on one line
    if args.compare:
        return _compare(args, console)
    if not args.policy:
        raise ConfigError("POLICY is required (or use --compare RESULTS...)")
    from compass_nav.evaluation import EvalConfig, evaluate
    from compass_nav.evaluation.report import results_header, rich_table, table_rows
    from compass_nav.sim.config import EpisodeSpec

    resolve_suite_defaults(args)
    h, w = args.image_size
    episode = config_from_args(
        EpisodeSpec, args, max_episode_steps=args.max_steps, image_height=h, image_width=w
    )
    cfg = config_from_args(
        EvalConfig, args, embodiments=_embodiments(args.embodiments), episode=episode
    )
    baselines = ()
    if args.baselines:
        from compass_nav.contract.policy import check_policy_spec
        from compass_nav.evaluation.baselines import parse_baselines

        baselines = parse_baselines(args.baselines)
        for spec in (args.policy, *baselines):
            check_policy_spec(spec)  # a typo is refused before any episode runs
    out = ensure_output_dir(args.out or _default_out(args.policy), "--out")  # before the run
    _warn_split(episode.split)
    if baselines:
        return _run_baselines(args, cfg, baselines, out, console)
    result = evaluate(args.policy, cfg, progress=not args.no_progress)
    paths = result.save(out)
    console.print(
        rich_table(
            results_header(),
            table_rows(result.metrics),
            title=f"{args.policy} ({episode.suite}, {episode.route_mode}, {episode.split})",
        )
    )
    console.print(
        f"wrote {paths['json']}, {paths['csv'].name}, {paths['table'].name}, plots "
        f"and {len(paths['gifs'])} GIF(s) in {out}"
    )
    o = result.metrics["overall"]
    print(
        f"policy={args.policy} episodes={o['n']} sr={o['sr']:.4f} "
        f"collision_rate={o['collision_rate']:.4f} spl={o['spl']:.4f} "
        f"wtt_s={o['wtt']:.2f} wall_s={result.wall_time:.1f}"
    )
    return 0


def _warn_split(split: str) -> None:
    """Say loudly that held-out figures are for reporting, not for choosing settings."""
    import sys

    if split == "heldout":
        print(
            "WARNING: --split heldout: these figures are for reporting only, after every "
            "setting and model has been chosen on --split validation; do not tune on them.",
            file=sys.stderr,
        )


def _run_baselines(args, cfg, baselines, out: Path, console) -> int:
    from compass_nav.evaluation.baselines import evaluate_with_baselines

    report = evaluate_with_baselines(
        args.policy, baselines, cfg, out, progress=not args.no_progress
    )
    for p in report["policies"]:
        o = p["metrics"]["overall"]
        print(
            f"policy={p['spec']} split={report['split']} episodes={o['n']} sr={o['sr']:.4f} "
            f"collision_rate={o['collision_rate']:.4f} spl={o['spl']:.4f} "
            f"wtt_s={o['wtt']:.2f}"
        )
    for lab, d in report["paired"].items():
        o = d["overall"]
        print(
            f"paired {report['policy']}-{lab}: d_sr={o['d_sr']:+.4f} "
            f"[{o['d_sr_ci'][0]:+.4f}, {o['d_sr_ci'][1]:+.4f}] wins={o['policy_only']} "
            f"losses={o['baseline_only']}"
        )
    console.print(f"wrote {out / 'baselines.md'}, baselines.json and one folder per policy")
    return 0


def _compare(args: argparse.Namespace, console) -> int:
    from compass_nav.evaluation.report import (
        compare_rows,
        load_results,
        markdown_table,
        rich_table,
    )
    from compass_nav.utils.atomic import atomic_write_text

    if args.policy:
        raise ConfigError(f"POLICY={args.policy!r}: not used with --compare")
    if args.out:
        ensure_output_file(args.out, "--out")
    results = [load_results(p) for p in args.compare]
    header, rows, notes = compare_rows(results)
    console.print(rich_table(header, rows, title="comparison"))
    for note in notes:
        console.print(f"[yellow]note:[/yellow] {note}")
    if args.out:
        text = markdown_table(header, rows) + "".join(f"\nNote: {n}\n" for n in notes)
        atomic_write_text(args.out, text)
        console.print(f"wrote {args.out}")
    return 0


#: ``compass-nav evaluate run``.
STAGE = Stage(
    "evaluate",
    help="closed-loop evaluation: SR, collisions, SPL, WTT per embodiment x family",
    description="Closed-loop evaluation in the embedded simulator.",
    verbs=(
        Verb(
            "run",
            help="evaluate a policy (or compare results files)",
            description="Run a policy closed-loop in the embedded simulator on every "
            "embodiment x scene family and report success rate, collision rate, SPL and "
            "success-weighted travel time with 95%% confidence intervals (results.json/.csv, "
            "table.md, plots, GIFs of the worst failures).",
            epilog=_EPILOG,
            handler=run,
            options=_run_options,
        ),
    ),
)
