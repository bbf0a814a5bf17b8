"""The sweep report: one table of every cell, a markdown page with plots, the best policies.

:func:`write_report` is called by ``compass-nav sweep run`` (and ``sweep report``) with the
stored cell records of :mod:`compass_nav.sweep.engine`, in the order of the spec's
expansion. It writes into the results folder:

* ``cells.csv`` (and ``cells.parquet`` when pyarrow is installed): one row per cell with
  SR and its 95% Wilson interval, collision and timeout rates, SPL and travel times, and
  the blocked / clear strata (episodes, successes, SR and interval on the episodes whose
  straight line start -> goal is blocked for the body, ``line_blocked`` in the episode
  records, and on the others; empty for cells stored before records carried the flag);
* ``report.md``: success per policy x body (pooled over families, route modes and seeds,
  with Wilson intervals from the pooled counts), the best policy per body, the strata
  blocked / clear per policy x body (when every cell carries them), success per family,
  and checkpoint series;
* ``heatmap.png``, ``strata_line.png`` (blocked / clear), ``strata.png`` (per family) and
  ``steps.png`` (when some policies are checkpoints with a step in their name, e.g.
  ``step_00001000.pt``).

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
    "blocked_n",
    "blocked_successes",
    "blocked_sr",
    "blocked_sr_lo",
    "blocked_sr_hi",
    "clear_n",
    "clear_successes",
    "clear_sr",
    "clear_sr_lo",
    "clear_sr_hi",
    "split",
)
#: The blocked / clear strata (``line_blocked`` in the episode records).
STRATA = ("blocked", "clear")
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
                "split": c.get("split", ""),
            }
        )
        flagged = "blocked_n" in m  # absent: stored before the records carried the flag
        for k in STRATA:
            ci = m[f"{k}_sr_ci"] if flagged else (None, None)
            rows[-1].update(
                {
                    f"{k}_n": m[f"{k}_n"] if flagged else None,
                    f"{k}_successes": m[f"{k}_successes"] if flagged else None,
                    f"{k}_sr": m[f"{k}_sr"] if flagged else None,
                    f"{k}_sr_lo": ci[0],
                    f"{k}_sr_hi": ci[1],
                }
            )
    return rows


def _csv_value(row: dict[str, Any], field: str) -> str:
    if field.startswith(STRATA) and row["blocked_n"] is None:
        return ""  # no strata for this cell (not "nan": nothing was measured)
    return _fmt(row[field])


def pooled(
    rows: Sequence[dict[str, Any]], keys: Sequence[str], stratum: str = ""
) -> dict[tuple, dict[str, Any]]:
    """Success counts pooled by ``keys`` (first-seen order) with Wilson intervals.

    Args:
        rows: Cell rows.
        keys: Row fields to group by.
        stratum: ``""`` for all episodes, ``"blocked"`` or ``"clear"`` for one stratum of
            the straight line to the goal (rows must carry it).

    Returns:
        ``{key tuple: {"successes", "n", "sr" (NaN when n is 0), "ci"}}``.
    """
    pre = f"{stratum}_" if stratum else ""
    acc: dict[tuple, list[int]] = {}
    for r in rows:
        k = tuple(r[key] for key in keys)
        a = acc.setdefault(k, [0, 0])
        a[0] += r[f"{pre}successes"]
        a[1] += r[f"{pre}n"]
    return {
        k: {"successes": s, "n": n, "sr": s / n if n else math.nan, "ci": wilson_interval(s, n)}
        for k, (s, n) in acc.items()
    }


def _unique(values) -> list:
    return list(dict.fromkeys(values))


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def _sr(p: dict[str, Any] | None) -> str:
    if p is None or p["n"] == 0:
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


def _line_plot(out: Path, policies, bodies, line) -> str:
    """``strata_line.png``: SR per body and policy, on blocked and on clear episodes."""
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(
        1, 2, figsize=(max(7.0, 2.0 * len(bodies) + 4), 3.6), dpi=110, sharey=True
    )
    width = 0.8 / len(policies)
    x = np.arange(len(bodies))
    for ax, k in zip(axes, STRATA, strict=True):
        for i, p in enumerate(policies):
            qs = [line[k].get((p, b)) for b in bodies]
            # An empty stratum has no SR: no bar (NaN), no whisker.
            ys = [q["sr"] if q and q["n"] else np.nan for q in qs]
            lo = [q["sr"] - q["ci"][0] if q and q["n"] else 0.0 for q in qs]
            hi = [q["ci"][1] - q["sr"] if q and q["n"] else 0.0 for q in qs]
            ax.bar(x + (i - (len(policies) - 1) / 2) * width, ys, width, yerr=[lo, hi],
                   capsize=2, label=_short(p))  # fmt: skip
        n = sum(q["n"] for (p, _), q in line[k].items() if p == policies[0])
        ax.set_title(f"straight line {k} ({n} episodes per policy)", fontsize=9)
        ax.set_xticks(x, bodies, rotation=30 if len(bodies) > 4 else 0, fontsize=8)
        ax.set_ylim(0.0, 1.18)  # headroom for the legend above the bars
        ax.set_yticks(np.linspace(0, 1, 6))
    axes[0].set_ylabel("success rate (95% CI)")
    axes[1].legend(fontsize=7, loc="upper center", ncol=min(len(policies), 3), frameon=False)
    fig.tight_layout()
    atomic_save_png(fig, out / "strata_line.png")
    return "strata_line.png"


def _plots(
    out: Path, rows, policies, bodies, families, by_pb, by_pf, series, line=None
) -> list[str]:
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

    if line is not None:
        made.append(_line_plot(out, policies, bodies, line))

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
        w.writerow([_csv_value(r, f) for f in CSV_FIELDS])
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
    # The blocked / clear strata when every cell carries them; else the per-family view only.
    line = None
    if rows and all(r["blocked_n"] is not None for r in rows):
        line = {k: pooled(rows, ("policy", "body"), k) for k in STRATA}
        line_p = {k: pooled(rows, ("policy",), k) for k in STRATA}
    plots = _plots(out, rows, policies, bodies, families, by_pb, by_pf, series, line)

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
    splits = _unique(r["split"] for r in rows)
    md += ["", f"**Split: {', '.join(s or '?' for s in splits)}** (scene seeds)."]
    md += ["", "## Best policy per body", ""]
    if any(s == "heldout" for s in splits):
        md += [
            "**Held-out scenes: this table reports, it does not choose.** Choose policies, "
            "checkpoints and settings on a `split: validation` sweep, then report held-out "
            "once.",
            "",
        ]
    best_rows = []
    for b in bodies:
        cands = [(p, by_pb[(p, b)]) for p in policies if (p, b) in by_pb]
        # Highest SR, then the higher lower bound (more episodes); exact ties are all named.
        best = max((q["sr"], q["ci"][0]) for _, q in cands)
        tied = [(p, q) for p, q in cands if (q["sr"], q["ci"][0]) == best]
        best_rows.append([b, ", ".join(p for p, _ in tied), _sr(tied[0][1])])
    md.append(_md_table(["body", "best policy (ties: all)", "SR [95% CI]"], best_rows))
    if line is not None:
        md += [
            "## Strata: straight line to the goal blocked / clear",
            "",
            "An episode is *blocked* when the body's circumscribed disc swept along the "
            "straight segment from the start to the goal would touch an obstacle "
            "(`line_blocked`, computed by the simulator at reset): the hard episodes, where "
            "driving straight at the goal is not enough. Policies evaluated on the same cells "
            "see the same episodes, hence the same blocked share.",
            "",
            "![strata: line blocked / clear](strata_line.png)",
            "",
        ]
        strata_rows = []
        for p in policies:
            for b in [*bodies, None]:
                key, group = ((p, b), line) if b else ((p,), line_p)
                if key not in group["blocked"]:
                    continue
                q_b, q_c = group["blocked"][key], group["clear"][key]
                n = q_b["n"] + q_c["n"]
                share = f"{q_b['n']} / {n} ({q_b['n'] / n:.2f})" if n else "-"
                strata_rows.append([p, b or "all bodies", share, _sr(q_b), _sr(q_c)])
        md.append(
            _md_table(
                [
                    "policy",
                    "body",
                    "blocked / episodes",
                    "SR blocked [95% CI]",
                    "SR clear [95% CI]",
                ],
                strata_rows,
            )
        )
        md += ["## Success per scene family (all bodies)", "", "![strata](strata.png)", ""]
    else:
        md += [
            "## Strata: success per scene family (all bodies)",
            "",
            "(Some cells' episode records carry no `line_blocked` flag, stored by an older "
            "version: no blocked / clear strata.)",
            "",
            "![strata](strata.png)",
            "",
        ]
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
