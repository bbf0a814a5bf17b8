"""Evaluation reports: results.json / results.csv / table.md, plots, GIFs and comparisons.

:meth:`compass_nav.evaluation.harness.EvalResult.save` calls :func:`write_outputs`; the CLI
prints :func:`rich_table` and, in ``--compare`` mode, :func:`compare_rows` over several
``results.json`` files (:func:`load_results`). Every writer is atomic, so an interrupted
evaluation never leaves a half-written table.

``results.json`` layout (format 1)::

    {"format": 1, "policy": str, "config": {EvalConfig fields},
     "wall_time_s": float, "env_steps": int,
     "metrics": {"cells": [...], "embodiments": [...], "overall": {...}},
     "episodes": [{RECORD_FIELDS...}, ...], "gifs": [file names]}

The top level also names the ``split`` (train / validation / heldout scene seeds), the
``route_mode`` and every body's own split (``bodies``: ``{name: train|heldout}``); the same
split appears in every ``results.csv`` row and in the header of ``table.md``.

Each metrics entry also holds the blocked / clear strata (``blocked_n``, ``blocked_sr``,
``blocked_sr_ci``, ``clear_...``; :func:`compass_nav.evaluation.metrics.line_strata`) and
``strata`` (:func:`compass_nav.evaluation.strata.stratify`: full metrics of each stratum of
every fact the simulator stated: straight line, stale route, moving obstacles), which
``table.md`` lists after the main table, one section per stratum variable, and
``results.csv`` as extra columns ``<key>_<true|false>_<metric>``.

NaN (undefined, e.g. WTT with no success) is written as ``null``; +inf as the string "inf".
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

from compass_nav.evaluation.failure_clips import write_gif
from compass_nav.utils.atomic import (
    atomic_save_png,
    atomic_write_json,
    atomic_write_text,
)
from compass_nav.utils.config import config_to_dict
from compass_nav.utils.errors import DataError

FORMAT = 1

#: (column title, metric key, CI key or None, kind) of the tables.
COLUMNS = (
    ("SR [95% CI]", "sr", "sr_ci", "rate"),
    ("collision [95% CI]", "collision_rate", "collision_ci", "rate"),
    ("timeout", "timeout_rate", None, "rate"),
    ("SPL [95% CI]", "spl", "spl_ci", "rate"),
    ("TT s", "travel_time", None, "time"),
    ("WTT s [95% CI]", "wtt", "wtt_ci", "time"),
)


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, float):
        if math.isnan(x):
            return None
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
    return x


def _num(x: Any) -> float:
    """Inverse of :func:`_jsonable` for one number."""
    if x is None:
        return math.nan
    if isinstance(x, str):
        return float(x)
    return float(x)


def fmt_value(value: Any, kind: str) -> str:
    """Format one metric (``rate`` with 3 decimals, ``time`` with 1); undefined is '-'."""
    v = _num(value)
    if math.isnan(v):
        return "-"
    if math.isinf(v):
        return "inf"
    return f"{v:.3f}" if kind == "rate" else f"{v:.1f}"


def fmt_metric(m: dict[str, Any], key: str, ci: str | None, kind: str) -> str:
    """``value [low, high]`` (or just the value when there is no interval)."""
    text = fmt_value(m.get(key), kind)
    if ci is None or text == "-":
        return text
    lo, hi = m[ci]
    return f"{text} [{fmt_value(lo, kind)}, {fmt_value(hi, kind)}]"


def table_rows(metrics: dict[str, Any]) -> list[list[str]]:
    """Rows embodiment x family, each embodiment followed by its pooled row, then overall."""
    rows = []
    emb_names = [m["embodiment"] for m in metrics["embodiments"]]
    for emb in emb_names:
        group = [m for m in metrics["cells"] if m["embodiment"] == emb]
        group += [m for m in metrics["embodiments"] if m["embodiment"] == emb]
        for m in group:
            fam = m["family"] if m["family"] != "all" else "**pooled**"
            rows.append([emb, fam, *(fmt_metric(m, *c[1:]) for c in COLUMNS), str(m["n"])])
    if len(emb_names) > 1:
        m = metrics["overall"]
        rows.append(
            ["**all**", "**pooled**", *(fmt_metric(m, *c[1:]) for c in COLUMNS), str(m["n"])]
        )
    return rows


def strata_rows(metrics: dict[str, Any]) -> list[list[str]]:
    """Rows of the blocked / clear strata, in :func:`table_rows` order; [] without the flag.

    Each row: embodiment, family, episodes, blocked episodes (share), SR [95% CI] on the
    blocked ones, SR [95% CI] on the clear ones.
    """
    if "blocked_n" not in metrics["overall"]:
        return []
    rows = []
    groups = [[m for m in metrics["cells"] if m["embodiment"] == e["embodiment"]] + [e]
              for e in metrics["embodiments"]]  # fmt: skip
    if len(metrics["embodiments"]) > 1:
        groups.append([metrics["overall"]])
    for group in groups:
        for m in group:
            emb = m["embodiment"] if m["embodiment"] != "all" else "**all**"
            fam = m["family"] if m["family"] != "all" else "**pooled**"
            share = m["blocked_n"] / m["n"] if m["n"] else math.nan
            rows.append(
                [
                    emb,
                    fam,
                    str(m["n"]),
                    f"{m['blocked_n']} ({fmt_value(share, 'rate')})",
                    fmt_metric(m, "blocked_sr", "blocked_sr_ci", "rate"),
                    fmt_metric(m, "clear_sr", "clear_sr_ci", "rate"),
                ]
            )
    return rows


#: Column titles of :func:`strata_rows`.
STRATA_HEADER = [
    "embodiment",
    "family",
    "n",
    "line blocked (share)",
    "SR blocked [95% CI]",
    "SR clear [95% CI]",
]


def metric_groups(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """Metrics entries in table order: each body's cells then its pooled row, then overall."""
    out = []
    for e in metrics["embodiments"]:
        out += [m for m in metrics["cells"] if m["embodiment"] == e["embodiment"]] + [e]
    if len(metrics["embodiments"]) > 1:
        out.append(metrics["overall"])
    return out


#: Column titles of :func:`stratum_rows` (``{yes}``/``{no}``: the stratum labels).
STRATUM_HEADER = (
    "embodiment",
    "family",
    "n {yes} / {no}",
    "SR {yes} [95% CI]",
    "SR {no} [95% CI]",
    "collision {yes} [95% CI]",
    "collision {no} [95% CI]",
    "timeout {yes} / {no}",
    "SPL {yes} [95% CI]",
    "SPL {no} [95% CI]",
    "TT s {yes} / {no}",
)


def stratum_rows(metrics: dict[str, Any], key: str) -> list[list[str]]:
    """Rows of one stratum variable (``line_blocked``, ``route_blocked``...) in table order."""
    rows = []
    for m in metric_groups(metrics):
        st = (m.get("strata") or {}).get(key)
        if st is None:
            continue
        t, f = st["true"], st["false"]
        emb = m["embodiment"] if m["embodiment"] != "all" else "**all**"
        fam = m["family"] if m["family"] != "all" else "**pooled**"
        rows.append(
            [
                emb,
                fam,
                f"{t['n']} / {f['n']}",
                fmt_metric(t, "sr", "sr_ci", "rate"),
                fmt_metric(f, "sr", "sr_ci", "rate"),
                fmt_metric(t, "collision_rate", "collision_ci", "rate"),
                fmt_metric(f, "collision_rate", "collision_ci", "rate"),
                f"{fmt_value(t['timeout_rate'], 'rate')} / {fmt_value(f['timeout_rate'], 'rate')}",
                fmt_metric(t, "spl", "spl_ci", "rate"),
                fmt_metric(f, "spl", "spl_ci", "rate"),
                f"{fmt_value(t['travel_time'], 'time')} / {fmt_value(f['travel_time'], 'time')}",
            ]
        )
    return rows


def strata_markdown(metrics: dict[str, Any]) -> str:
    """Markdown sections, one per stratum variable the episodes carry ('' when none)."""
    from compass_nav.evaluation.strata import STRATA

    present = metrics["overall"].get("strata") or {}
    text = ""
    for key, title, yes, no in STRATA:
        if key not in present:
            continue
        header = [h.format(yes=yes, no=no) for h in STRATUM_HEADER]
        text += (
            f"\n## Stratum: {title} {yes} / {no} (`{key}`)\n\n"
            "Rates: Wilson 95% intervals; SPL: bootstrap 95% intervals; TT: mean travel "
            "time of the successes.\n\n" + markdown_table(header, stratum_rows(metrics, key))
        )
    return text


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A GitHub-flavoured markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def results_header() -> list[str]:
    """Column titles of :func:`table_rows`."""
    return ["embodiment", "family", *(c[0] for c in COLUMNS), "n"]


def body_splits(embodiments) -> dict[str, str]:
    """``{body: its split}`` (``train`` / ``heldout``) of the evaluated bodies."""
    from compass_nav.contract.body import get_embodiment

    return {str(b): get_embodiment(b).split for b in embodiments}


def split_line(split: str, bodies: dict[str, str]) -> str:
    """One markdown line naming the scene split and every body's split."""
    note = {
        "heldout": "held-out scenes: for reported figures, made after the settings were "
        "fixed on validation",
        "validation": "validation scenes: for choosing settings and models",
        "train": "training scenes: in-distribution, not a generalisation figure",
    }.get(split, split)
    listed = ", ".join(f"{b} ({s})" for b, s in bodies.items())
    return f"**Split: {split}** ({note}); bodies: {listed}."


def to_dict(result) -> dict[str, Any]:
    """The ``results.json`` content of an :class:`EvalResult` (see module docstring)."""
    return _jsonable(
        {
            "format": FORMAT,
            "policy": result.policy,
            "split": result.config.episode.split,
            "route_mode": result.config.episode.route_mode,
            "bodies": body_splits(result.config.embodiments),
            "config": config_to_dict(result.config),
            "wall_time_s": round(result.wall_time, 3),
            "env_steps": int(result.env_steps),
            "metrics": result.metrics,
            "episodes": result.records,
        }
    )


#: Metrics of each stratum written as CSV columns ``<key>_<true|false>_<metric>``.
_CSV_STRATUM_METRICS = (
    "n",
    "sr",
    "sr_ci",
    "collision_rate",
    "collision_ci",
    "timeout_rate",
    "spl",
    "spl_ci",
    "travel_time",
)


def _flat(m: dict[str, Any]) -> dict[str, Any]:
    """A metrics entry as flat scalar / interval columns (strata expanded)."""
    out = {k: v for k, v in m.items() if k not in ("embodiment", "family", "strata")}
    for key, entry in (m.get("strata") or {}).items():
        for half in ("true", "false"):
            for metric in _CSV_STRATUM_METRICS:
                out[f"{key}_{half}_{metric}"] = entry[half][metric]
    return out


def _csv_text(metrics: dict[str, Any], split: str = "", bodies: dict | None = None) -> str:
    flat = [_flat(m) for m in metrics["cells"] + metrics["embodiments"]]
    keys = list(_flat(metrics["overall"]))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    header = ["split", "embodiment", "embodiment_split", "family"]
    for k in keys:
        header += [f"{k}_low", f"{k}_high"] if k.endswith("_ci") else [k]
    w.writerow(header)
    bodies = bodies or {}
    for m, f in zip(metrics["cells"] + metrics["embodiments"], flat, strict=True):
        row: list[Any] = [split, m["embodiment"], bodies.get(m["embodiment"], ""), m["family"]]
        for k in keys:
            v = f.get(k)
            if k.endswith("_ci"):
                row += [_num(x) for x in v] if v is not None else ["", ""]
            else:
                row += [v]
        w.writerow(["" if (x is None or (isinstance(x, float) and math.isnan(x))) else x
                    for x in row])  # fmt: skip
    return buf.getvalue()


def _plots(result, out: Path) -> dict[str, Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    cfg = result.config
    ep = cfg.episode
    cells = result.metrics["cells"]
    F = len(cfg.episode.families)
    x = np.arange(len(cfg.embodiments))
    width = 0.8 / F
    fig, ax = plt.subplots(figsize=(max(5.0, 1.2 * len(x) + 2), 3.6))
    for j, fam in enumerate(cfg.episode.families):
        ms = [
            next(m for m in cells if m["embodiment"] == b and m["family"] == fam)
            for b in cfg.embodiments
        ]
        sr = np.array([m["sr"] for m in ms])
        err = np.array([[m["sr"] - m["sr_ci"][0], m["sr_ci"][1] - m["sr"]] for m in ms]).T
        ax.bar(x + (j - (F - 1) / 2) * width, sr, width, yerr=err, capsize=3, label=fam)
    ax.set_xticks(x, cfg.embodiments, rotation=30 if len(x) > 4 else 0)
    ax.set_ylim(0, 1.18)  # headroom for the legend above the bars
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.set_ylabel("success rate (95% Wilson CI)")
    ax.set_title(
        f"{result.policy}: {ep.route_mode} routes, {ep.split} scenes, n={cfg.episodes}/cell",
        fontsize=9,
    )
    ax.legend(fontsize=8, loc="upper center", ncol=F, frameon=False)
    fig.tight_layout()
    paths = {"sr_plot": out / "success_rate.png"}
    atomic_save_png(fig, paths["sr_plot"])

    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    times = {
        b: [r["time"] for r in result.records if r["embodiment"] == b and r["success"]]
        for b in cfg.embodiments
    }
    all_t = [t for v in times.values() for t in v]
    bins = np.linspace(0, max(all_t + [1.0]), 31)
    for b, ts in times.items():
        if ts:
            ax.hist(ts, bins=bins, histtype="step", linewidth=1.5, label=b)
    ax.set_xlabel("travel time of successful episodes, s")
    ax.set_ylabel("episodes")
    if all_t:
        ax.legend(fontsize=8)
    fig.tight_layout()
    paths["time_plot"] = out / "travel_time.png"
    atomic_save_png(fig, paths["time_plot"])
    return paths


def write_outputs(result, out_dir: str | Path, *, plots: bool = True) -> dict[str, Any]:
    """Write every report of ``result`` into ``out_dir`` (created); return name -> path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Any] = {}
    gifs = []
    for rank, clip in enumerate(result.clips):
        r = clip.record
        name = (
            f"failure{rank + 1}_{r['embodiment']}_{r['family']}_ep{r['episode']}_"
            f"{'collision' if r['collision'] else 'timeout'}.gif"
        )
        write_gif(out / name, clip, fps=10.0)
        gifs.append(out / name)
    data = to_dict(result)
    data["gifs"] = [g.name for g in gifs]
    paths["json"] = out / "results.json"
    atomic_write_json(paths["json"], data)
    paths["csv"] = out / "results.csv"
    cfg = result.config
    ep = cfg.episode
    bodies = body_splits(cfg.embodiments)
    atomic_write_text(paths["csv"], _csv_text(result.metrics, ep.split, bodies))
    title = (
        f"# Evaluation of `{result.policy}`\n\n{split_line(ep.split, bodies)}\n\n"
        f"{ep.route_mode} routes, {ep.split} "
        f"scenes, {cfg.episodes} episodes per cell, seed {cfg.seed}, "
        f"{cfg.episode.image_width}x{cfg.episode.image_height} images, timeout "
        f"{cfg.episode.max_episode_steps} steps"
        + (f", {ep.moving_obstacles} moving obstacles" if ep.moving_obstacles else "")
        + f"; wall time {result.wall_time:.0f} s.\n\n"
        "SR/collision: Wilson 95% intervals; SPL, WTT: bootstrap 95% intervals; "
        "TT: mean travel time of successes; WTT = TT / SR.\n\n"
    )
    table = title + markdown_table(results_header(), table_rows(result.metrics))
    table += strata_markdown(result.metrics)
    paths["table"] = out / "table.md"
    atomic_write_text(paths["table"], table)
    if plots:
        paths.update(_plots(result, out))
    paths["gifs"] = gifs
    return paths


def load_results(path: str | Path) -> dict[str, Any]:
    """Read a ``results.json`` (or the folder holding one).

    Raises:
        DataError: when the file is missing or is not an evaluation result.
    """
    p = Path(path)
    if p.is_dir():
        p = p / "results.json"
    try:
        data = json.loads(p.read_text())
    except FileNotFoundError:
        raise DataError(f"{p}: no such results file") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{p}: not valid JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or "metrics" not in data:
        raise DataError(f"{p}: not a compass-nav evaluation result (format {FORMAT})")
    data["_path"] = str(p)
    return data


def _label(data: dict[str, Any], used: set[str]) -> str:
    base = Path(data["_path"]).parent.name or data["policy"]
    label, k = base, 2
    while label in used:
        label, k = f"{base}#{k}", k + 1
    used.add(label)
    return label


def compare_rows(results: list[dict[str, Any]]) -> tuple[list[str], list[list[str]], list[str]]:
    """Side-by-side SR / SPL / WTT of several results, one row per embodiment x family.

    Returns:
        (header, rows, notes): notes list the settings in which the results differ (their
        numbers are then not on the same episode set).
    """
    used: set[str] = set()
    labels = [_label(d, used) for d in results]
    keys: list[tuple[str, str]] = []
    for d in results:
        for group in ("cells", "embodiments"):
            for m in d["metrics"][group]:
                if (m["embodiment"], m["family"]) not in keys:
                    keys.append((m["embodiment"], m["family"]))
    # First-seen order of bodies and families (the configs' order), pooled row last.
    bodies = list(dict.fromkeys(k[0] for k in keys))
    fams = list(dict.fromkeys(k[1] for k in keys if k[1] != "all")) + ["all"]
    keys.sort(key=lambda k: (bodies.index(k[0]), fams.index(k[1])))
    header = ["embodiment", "family"]
    for lab in labels:
        header += [f"{lab} SR [95% CI]", f"{lab} SPL", f"{lab} WTT s"]
    rows = []
    for emb, fam in keys:
        row = [emb, fam if fam != "all" else "**pooled**"]
        for d in results:
            group = d["metrics"]["embodiments" if fam == "all" else "cells"]
            m = next((m for m in group if m["embodiment"] == emb and m["family"] == fam), None)
            if m is None:
                row += ["-", "-", "-"]
            else:
                row += [
                    fmt_metric(m, "sr", "sr_ci", "rate") + f" (n={m['n']})",
                    fmt_value(m["spl"], "rate"),
                    fmt_value(m["wtt"], "time"),
                ]
        rows.append(row)
    notes = []
    for k in (
        "split",
        "route_mode",
        "episodes",
        "seed",
        "max_episode_steps",
        "image_height",
        "image_width",
        "moving_obstacles",
    ):
        vals = [
            d["config"].get("episode", d["config"]).get(k, d["config"].get(k)) for d in results
        ]
        if len(set(map(str, vals))) > 1:
            notes.append(
                f"{k} differs: "
                + ", ".join(f"{lab}={v}" for lab, v in zip(labels, vals, strict=True))
            )
    return header, rows, notes


def rich_table(header: list[str], rows: list[list[str]], title: str = ""):
    """The same rows as a ``rich`` table for the terminal."""
    from rich.table import Table

    table = Table(title=title or None, show_lines=False)
    for i, h in enumerate(header):
        table.add_column(h, justify="left" if i < 2 else "right")
    for r in rows:
        table.add_row(*(c.replace("**", "") for c in r))
    return table
