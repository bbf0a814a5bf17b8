"""The sweep report: one table of every cell, a markdown page with plots, the best policies.

:func:`write_report` is called by ``compass-nav sweep run`` (and ``sweep report``) with the
stored cell records of :mod:`compass_nav.sweep.engine`, in the order of the spec's
expansion. It writes into the results folder:

* ``cells.csv`` (and ``cells.parquet`` when pyarrow is installed): one row per cell with
  SR and its 95% Wilson interval, collision and timeout rates, SPL and travel times;
* ``report.md``: success per policy x body (pooled over families, route modes and seeds,
  with Wilson intervals from the pooled counts), the best policy per body, success per
  family (the strata the episode records carry), and checkpoint series;
* ``heatmap.png``, ``strata.png`` and ``steps.png`` (when some policies are checkpoints
  with a step in their name, e.g. ``step_00001000.pt``).

Nothing time-dependent is written into the CSV or the markdown, so a sweep that was
interrupted and resumed reports byte for byte what an uninterrupted one reports.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from compass_nav.evaluation.metrics import wilson_interval
from compass_nav.utils.atomic import atomic_save_png, atomic_write_text

__all__ = ["CSV_FIELDS", "pooled", "write_report"]

CSV_FIELDS = (
    "policy",
    "body",
    "family",
    "route_mode",
    "seed",
    "n",
    "successes",
    "sr",
    "sr_lo",
    "sr_hi",
    "collision_rate",
    "timeout_rate",
    "spl",
    "travel_time",
    "wtt",
    "cell_id",
)
_STEP = re.compile(r"step_?(\d+)")


def _fmt(v: Any) -> str:
    if v is None:  # stored JSON writes NaN (no successes: no travel time) as null
        return "nan"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.4f}"
    return str(v)


def _rows(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for rec in records:
        c, m = rec["cell"], rec["metrics"]
        rows.append(
            {
                "policy": c["policy"],
                "body": c["body"],
                "family": c["family"],
                "route_mode": c["route_mode"],
                "seed": c["seed"],
                "n": m["n"],
                "successes": m["successes"],
                "sr": m["sr"],
                "sr_lo": m["sr_ci"][0],
                "sr_hi": m["sr_ci"][1],
                "collision_rate": m["collision_rate"],
                "timeout_rate": m["timeout_rate"],
                "spl": m["spl"],
                "travel_time": m["travel_time"],
                "wtt": m["wtt"],
                "cell_id": rec["cell_id"],
            }
        )
    return rows


def pooled(rows: Sequence[dict[str, Any]], keys: Sequence[str]) -> dict[tuple, dict[str, Any]]:
    """Success counts pooled by ``keys`` (first-seen order) with Wilson intervals."""
    acc: dict[tuple, list[int]] = {}
    for r in rows:
        k = tuple(r[key] for key in keys)
        a = acc.setdefault(k, [0, 0])
        a[0] += r["successes"]
        a[1] += r["n"]
    return {
        k: {"successes": s, "n": n, "sr": s / n, "ci": wilson_interval(s, n)}
        for k, (s, n) in acc.items()
    }


def _unique(values) -> list:
    return list(dict.fromkeys(values))


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def _sr(p: dict[str, Any] | None) -> str:
    if p is None:
        return "-"
    return f"{p['sr']:.2f} [{p['ci'][0]:.2f}, {p['ci'][1]:.2f}]"


def _series(policies: Sequence[str]) -> dict[str, list[tuple[int, str]]]:
    """Checkpoint series: policies equal but for the step number, two or more steps."""
    groups: dict[str, list[tuple[int, str]]] = {}
    for p in policies:
        m = list(_STEP.finditer(p))
        if m:
            last = m[-1]
            key = p[: last.start(1)] + "*" + p[last.end(1) :]
            groups.setdefault(key, []).append((int(last.group(1)), p))
    return {k: sorted(v) for k, v in groups.items() if len(v) >= 2}


def _plots(out: Path, rows, policies, bodies, families, by_pb, by_pf, series) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    made = []
    grid = np.array([[by_pb[(p, b)]["sr"] for b in bodies] for p in policies])
    fig, ax = plt.subplots(
        figsize=(max(5.0, 0.9 * len(bodies) + 3), max(2.5, 0.45 * len(policies) + 1.5)),
        dpi=110,
    )
    im = ax.imshow(grid, vmin=0.0, vmax=1.0, cmap="viridis", aspect="auto")
    for i in range(len(policies)):
        for j in range(len(bodies)):
            v = grid[i, j]
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if v < 0.6 else "black")  # fmt: skip
    ax.set_xticks(range(len(bodies)), bodies, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(policies)), [_short(p) for p in policies], fontsize=8)
    fig.colorbar(im, ax=ax, label="success rate")
    ax.set_title("success per policy x body")
    fig.tight_layout()
    atomic_save_png(fig, out / "heatmap.png")
    made.append("heatmap.png")

    fig, ax = plt.subplots(figsize=(max(5.0, 1.2 * len(families) + 3), 3.5), dpi=110)
    width = 0.8 / len(policies)
    x = np.arange(len(families))
    for k, p in enumerate(policies):
        ys = [by_pf[(p, f)]["sr"] for f in families]
        lo = [by_pf[(p, f)]["sr"] - by_pf[(p, f)]["ci"][0] for f in families]
        hi = [by_pf[(p, f)]["ci"][1] - by_pf[(p, f)]["sr"] for f in families]
        ax.bar(x + (k - (len(policies) - 1) / 2) * width, ys, width, yerr=[lo, hi],
               capsize=2, label=_short(p))  # fmt: skip
    ax.set_xticks(x, families)
    ax.set_ylim(0.0, 1.0)
    ax.set_ylabel("success rate (95% CI)")
    ax.legend(fontsize=7, loc="best")
    ax.set_title("success per scene family (all bodies)")
    fig.tight_layout()
    atomic_save_png(fig, out / "strata.png")
    made.append("strata.png")

    if series:
        by_p = pooled(rows, ("policy",))
        fig, ax = plt.subplots(figsize=(6.0, 3.5), dpi=110)
        for name, points in series.items():
            steps = [s for s, _ in points]
            ps = [by_p[(p,)] for _, p in points]
            ax.errorbar(
                steps,
                [q["sr"] for q in ps],
                yerr=[[q["sr"] - q["ci"][0] for q in ps], [q["ci"][1] - q["sr"] for q in ps]],
                marker="o",
                capsize=2,
                label=_short(name),
            )
        ax.set_xlabel("training step")
        ax.set_ylabel("success rate (95% CI)")
        ax.set_ylim(0.0, 1.0)
        ax.legend(fontsize=7)
        fig.tight_layout()
        atomic_save_png(fig, out / "steps.png")
        made.append("steps.png")
    return made


def _short(policy: str) -> str:
    return policy if len(policy) <= 40 else "..." + policy[-37:]


def write_report(out: str | Path, records: Sequence[dict[str, Any]], title: str = "") -> dict:
    """Write ``cells.csv``, ``report.md`` and the plots of ``records`` into ``out``.

    Args:
        out: The sweep's results folder.
        records: The cell records (:func:`compass_nav.sweep.engine.run_cells`), in the
            order the report lists them.
        title: First line of the report.

    Returns:
        Mapping of artefact name to path.
    """
    out = Path(out)
    rows = _rows(records)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_FIELDS)
    for r in rows:
        w.writerow([_fmt(r[f]) for f in CSV_FIELDS])
    atomic_write_text(out / "cells.csv", buf.getvalue())
    paths: dict[str, Path] = {"csv": out / "cells.csv"}
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        pass
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(rows), out / "cells.parquet")
        paths["parquet"] = out / "cells.parquet"

    policies = _unique(r["policy"] for r in rows)
    bodies = _unique(r["body"] for r in rows)
    families = _unique(r["family"] for r in rows)
    by_pb = pooled(rows, ("policy", "body"))
    by_pf = pooled(rows, ("policy", "family"))
    by_p = pooled(rows, ("policy",))
    series = _series(policies)
    plots = _plots(out, rows, policies, bodies, families, by_pb, by_pf, series)

    n_eps = sum(r["n"] for r in rows)
    modes = _unique(r["route_mode"] for r in rows)
    seeds = _unique(r["seed"] for r in rows)
    md = [f"# {title or 'Evaluation sweep'}", ""]
    md.append(
        f"{len(rows)} cells ({len(policies)} policies x {len(bodies)} bodies x "
        f"{len(families)} families x {len(modes)} route modes ({', '.join(modes)}) x "
        f"{len(seeds)} seeds), {n_eps} episodes. Success rates "
        "with 95% Wilson intervals, pooled over the cells of each entry. Every cell is a row "
        "of `cells.csv`."
    )
    md += ["", "## Success per policy x body", "", "![heat map](heatmap.png)", ""]
    md.append(
        _md_table(
            ["policy", *bodies, "all bodies"],
            [[p, *[_sr(by_pb.get((p, b))) for b in bodies], _sr(by_p[(p,)])] for p in policies],
        )
    )
    md += ["## Best policy per body", ""]
    best_rows = []
    for b in bodies:
        cands = [(p, by_pb[(p, b)]) for p in policies if (p, b) in by_pb]
        # Highest SR, then the higher lower bound (more episodes); exact ties are all named.
        best = max((q["sr"], q["ci"][0]) for _, q in cands)
        tied = [(p, q) for p, q in cands if (q["sr"], q["ci"][0]) == best]
        best_rows.append([b, ", ".join(p for p, _ in tied), _sr(tied[0][1])])
    md.append(_md_table(["body", "best policy (ties: all)", "SR [95% CI]"], best_rows))
    md += ["## Strata: success per scene family (all bodies)", "", "![strata](strata.png)", ""]
    md.append(
        _md_table(
            ["policy", *families],
            [[p, *[_sr(by_pf.get((p, f))) for f in families]] for p in policies],
        )
    )
    if series:
        md += ["## Checkpoint series", "", "![success vs training step](steps.png)", ""]
        for name, points in series.items():
            md.append(f"`{name}`:\n")
            md.append(
                _md_table(
                    ["step", "policy", "SR [95% CI]"],
                    [[str(s), p, _sr(by_p[(p,)])] for s, p in points],
                )
            )
    atomic_write_text(out / "report.md", "\n".join(md))
    paths["report"] = out / "report.md"
    for name in plots:
        paths[name.removesuffix(".png")] = out / name
    return paths
