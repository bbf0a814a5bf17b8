"""IL base vs specialist per scene family: the chain's evaluation, split by family.

Evaluates the IL base and each body's specialist of a `compass-nav pipeline run` run with the
same settings as the chain's table (held-out scene seeds, mapless route, the preset's episode
count per body x family cell, one worker, seed 0) and prints success per family, so the cell
where the IL base is weakest can be read off. Totals equal the chain's table rows (the
harness is deterministic). The last line holds the weakest IL cell and the specialist there.

    nice -n 5 .venv/bin/python benchmarks/bench_rl_families.py --run runs/rl --bodies carter spot
"""

from __future__ import annotations

import argparse
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", default="runs/rl", help="pipeline output folder (runs/rl)")
    ap.add_argument("--preset", default="full", help="pipeline preset of that run (full)")
    ap.add_argument(
        "--bodies",
        nargs="+",
        default=None,
        help="training bodies to evaluate (default: the preset's)",
    )
    args = ap.parse_args()

    import torch

    from compass_nav.evaluation import evaluate
    from compass_nav.models.checkpoint_policy import XMobilityPolicy, load_model
    from compass_nav.pipeline.runner import pipeline_preset
    from compass_nav.rl.agent import load_agent

    torch.set_num_threads(1)
    cfg = pipeline_preset(args.preset, {})
    run = Path(args.run)
    families = cfg.eval_episode.families
    rows = {}
    for body in args.bodies or cfg.bodies:
        for tag, make in (
            ("il", lambda: XMobilityPolicy(load_model(run / "il"), name="il")),
            ("specialist", lambda b=body: load_agent(run / f"rl_{b}")),
        ):
            res = evaluate(make(), cfg.eval_config(body), progress=True)
            rows[body, tag] = {f: res.cell(body, f)["sr"] for f in (*families, "all")}
    print(f"{'body':10s} " + " ".join(f"{f:>18s}" for f in (*families, "all")))
    for body in args.bodies or cfg.bodies:
        il, sp = rows[body, "il"], rows[body, "specialist"]
        print(
            f"{body:10s} "
            + " ".join(f"{il[f]:7.3f} -> {sp[f]:6.3f}   " for f in (*families, "all"))
        )
    body, fam = min(
        ((b, f) for b in args.bodies or cfg.bodies for f in families),
        key=lambda bf: rows[bf[0], "il"][bf[1]],
    )
    il, sp = rows[body, "il"][fam], rows[body, "specialist"][fam]
    print(
        f"weakest_il_cell={body}/{fam} il_sr={il:.3f} specialist_sr={sp:.3f} "
        f"sr_ratio={sp / max(il, 1e-9):.2f} failure_ratio={(1 - il) / max(1 - sp, 1e-9):.2f}"
    )


if __name__ == "__main__":
    from compass_nav.plugins import register_all

    register_all()  # the policies make_policy knows, as the command line registers them
    main()
