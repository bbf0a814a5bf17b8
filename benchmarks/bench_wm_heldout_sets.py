"""A world model's policy ranking on every held-out set at once, per set and pooled.

The judge's calibration (one offset per judge mode) and the choice of mode depend on the
``train`` policies only, so one evaluation of the train policies plus the union of the
held-out sets gives each set's figures exactly as a separate run would, at a fraction of the
cost. The sets:

* ``developed``: the checkpoint's own held-out policies plus the final IL checkpoint (as its
  exported model ``models/default.onnx``), i.e. the report's developed held-out set as far as
  it is reproducible from the repository;
* ``fresh1``, ``fresh2``: the fresh sets of ``bench_wm_fresh_pool.py`` whose policies are
  here (learned policies from run folders that are absent are left out and listed; the final
  IL checkpoint is replaced by its exported model);
* ``fresh3`` to ``fresh7``: the third to seventh fresh sets (all 16 reproducible);
* ``pooled``: every policy above once.

Ground truth is recorded into ``--fresh-data`` (reused when present). Writes the full report
of the pooled evaluation to ``--out`` and ``sets.json`` / ``sets.md`` there: every rank metric
with its 95% bootstrap interval, per set and judge mode. Last stdout line: the chosen mode's
Pearson / MMRV / MAE per set.

    nice -n 5 .venv/bin/python benchmarks/bench_wm_heldout_sets.py --set evaluate.ego_warp=warp \\
        --set evaluate.replan=true --model runs/worldmodel/model_v7.pt \\
        --out runs/worldmodel/report_v7_replan_sets
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from bench_wm_fresh_pool import (
    FRESH,
    FRESH_2,
    FRESH_3,
    FRESH_4,
    FRESH_5,
    FRESH_6,
    FRESH_7,
    _available,
    common_args,
    link_recordings,
    record_ground_truth,
)

from compass_nav.utils.atomic import atomic_write_json, atomic_write_text
from compass_nav.worldmodel.cli import with_evaluate_overrides
from compass_nav.worldmodel.config import PoolPolicy
from compass_nav.worldmodel.evaluate import evaluate_pool, rank_metrics
from compass_nav.worldmodel.imagine import outcomes
from compass_nav.worldmodel.report import write_report

IL_FINAL = "runs/worldmodel/policies/il_carter_final.pt"
IL_FINAL_EXPORTED = "models/default.onnx"  # the same weights (models/MODEL_CARD.md)


def _reproducible(specs: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """(specs runnable here, with the final IL checkpoint as its export; specs left out)."""
    keep, left = [], []
    for s in specs:
        s = s.replace(IL_FINAL, IL_FINAL_EXPORTED)
        (keep if _available(s) else left).append(s)
    return keep, left


def main() -> None:
    ap = common_args(__doc__.split("\n\n")[0], "runs/worldmodel/data_heldout_sets")
    ap.add_argument(
        "--collect-only",
        action="store_true",
        help="only record the ground truth (e.g. while the model trains); the "
        "pool comes from the default config when --model does not exist yet",
    )
    args = ap.parse_args()

    from compass_nav.worldmodel.cli import resolve_config
    from compass_nav.worldmodel.train import load_checkpoint

    if args.collect_only and not Path(args.model).is_file():
        loaded, cfg = None, resolve_config()
    else:
        loaded = load_checkpoint(args.model)
        cfg = with_evaluate_overrides(loaded.config, args.overrides)
    train = tuple(p for p in cfg.pool.policies if p.role == "train")
    own = tuple(p.spec for p in cfg.pool.policies if p.role == "heldout")
    sets, left_out = {}, {}
    for name, specs in (
        ("developed", own + (IL_FINAL_EXPORTED,)),
        ("fresh1", FRESH),
        ("fresh2", FRESH_2),
        ("fresh3", FRESH_3),
        ("fresh4", FRESH_4),
        ("fresh5", FRESH_5),
        ("fresh6", FRESH_6),
        ("fresh7", FRESH_7),
    ):
        sets[name], left_out[name] = _reproducible(specs)
    pooled = list(dict.fromkeys(s for specs in sets.values() for s in specs))
    sets["pooled"] = pooled
    pool = train + tuple(PoolPolicy(s, "heldout") for s in pooled)
    cfg = dataclasses.replace(cfg, pool=dataclasses.replace(cfg.pool, policies=pool))
    fresh = Path(args.fresh_data)
    link_recordings(args.data, fresh, [p.spec for p in train] + list(own))  # the pool's own
    record_ground_truth(cfg, fresh)
    if args.collect_only:
        return
    loaded.config = cfg
    results = evaluate_pool(loaded, fresh)
    write_report(results, args.out)

    imagined, truth = results["_imagined"], results["_truth"]
    chosen = results["config"]["judge"]
    ec = cfg.evaluate
    table: dict = {"chosen_mode": chosen, "left_out": left_out, "sets": {}}
    for name, specs in sets.items():
        real = np.stack([truth[s].success.astype(np.float64) for s in specs])
        row = {"policies": specs}
        for mode, abl in results["config"]["judge_modes"].items():
            pred = np.stack(
                [
                    outcomes(imagined[s], abl["offset"], mode, ec.threshold)["success"]
                    for s in specs
                ]
            )
            row[mode] = rank_metrics(real, pred, ec.bootstrap, ec.seed)
        table["sets"][name] = row
    out = Path(args.out)
    atomic_write_json(out / "sets.json", table)
    lines = [
        "# Held-out sets",
        "",
        f"Judge chosen on the train policies: `{chosen}`.",
        "",
        "| set | policies | mode | Pearson | MMRV | SR MAE | Spearman | pairwise acc. |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, row in table["sets"].items():
        for mode in results["config"]["judge_modes"]:
            m = row[mode]
            cell = [
                f"{m[k]['value']:.3f} [{m[k]['ci95'][0]:.3f}, {m[k]['ci95'][1]:.3f}]"
                for k in ("pearson", "mmrv", "mae", "spearman", "pairwise_accuracy")
            ]
            tag = f"**{mode}**" if mode == chosen else mode
            lines.append(f"| {name} | {len(row['policies'])} | {tag} | " + " | ".join(cell) + " |")
    lines += ["", "Left out (files not in this checkout):", ""]
    lines += [f"- {name}: {', '.join(v) if v else 'none'}" for name, v in left_out.items()]
    atomic_write_text(out / "sets.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    print(
        " ".join(
            f"{name}={row[chosen]['pearson']['value']:.3f}/"
            f"{row[chosen]['mmrv']['value']:.3f}/{row[chosen]['mae']['value']:.3f}"
            for name, row in table["sets"].items()
        )
    )


if __name__ == "__main__":
    main()
