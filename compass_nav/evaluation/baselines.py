"""A policy and its baselines on the same episodes: side-by-side tables and paired differences.

``compass-nav evaluate run POLICY --baselines goal_seeker,classical,teacher`` (see
:mod:`compass_nav.evaluation.cli`) calls :func:`evaluate_with_baselines`: every policy runs the
same :class:`~compass_nav.evaluation.config.EvalConfig`, and the harness seeds episode ``i`` of
a cell from (seed, body, family, i) whatever the policy
(:func:`compass_nav.evaluation.harness.episode_key`), so episode ``i`` is the same scene, start
and goal for all of them; :func:`compass_nav.evaluation.strata.episode_pairs` checks it again
on the records (scene seeds must match) before any difference is computed.

Outputs in ``--out``: one folder per policy (its own ``results.json``, ``results.csv``,
``table.md``), and ``baselines.json`` / ``baselines.md``: per body x family and pooled, every
policy's success / collision / timeout / SPL / travel time with 95% intervals, the same per
stratum, and policy minus each baseline on the same episodes with paired bootstrap intervals.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from compass_nav.evaluation.config import EvalConfig
from compass_nav.evaluation.report import (
    _jsonable,
    body_splits,
    fmt_metric,
    fmt_value,
    markdown_table,
    metric_groups,
    split_line,
)
from compass_nav.evaluation.strata import STRATA, episode_pairs, paired_difference
from compass_nav.utils.atomic import atomic_write_json, atomic_write_text
from compass_nav.utils.config import config_to_dict
from compass_nav.utils.errors import ConfigError

__all__ = ["baseline_report", "evaluate_with_baselines", "parse_baselines"]

#: The baselines the issue's evaluation protocol asks for, in report order.
DEFAULT_BASELINES = ("goal_seeker", "classical", "teacher")

FORMAT = 1


def parse_baselines(text: str) -> tuple[str, ...]:
    """``"goal_seeker,classical"`` -> ("goal_seeker", "classical"); ``default`` expands.

    Raises:
        ConfigError: an empty entry or a repeated one.
    """
    items = [t.strip() for t in text.split(",")]
    out: list[str] = []
    for t in items:
        if not t:
            raise ConfigError(f"--baselines={text!r}: empty entry (comma-separated specs)")
        for spec in DEFAULT_BASELINES if t == "default" else (t,):
            if spec in out:
                raise ConfigError(f"--baselines={text!r}: {spec!r} is listed twice")
            out.append(spec)
    return tuple(out)


def label_of(spec: str) -> str:
    """A short, file-name-safe label for a policy spec."""
    stem = Path(spec).stem if ("/" in spec or spec.endswith((".pt", ".onnx"))) else spec
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", stem) or "policy"


def _labels(specs: list[str]) -> list[str]:
    used: set[str] = set()
    out = []
    for s in specs:
        base = label_of(s)
        lab, k = base, 2
        while lab in used:
            lab, k = f"{base}_{k}", k + 1
        used.add(lab)
        out.append(lab)
    return out


def evaluate_with_baselines(
    policy: str,
    baselines: tuple[str, ...],
    cfg: EvalConfig,
    out: Path,
    *,
    progress: bool = True,
) -> dict[str, Any]:
    """Evaluate ``policy`` and every baseline on the same episodes; write every report.

    Returns:
        The :func:`baseline_report` dict (also written to ``out/baselines.json``).

    Raises:
        ConfigError: a baseline equal to the policy.
    """
    from compass_nav.evaluation.harness import evaluate

    if policy in baselines:
        raise ConfigError(f"--baselines: {policy!r} is the evaluated policy itself")
    specs = [policy, *baselines]
    labels = _labels(specs)
    results = {}
    for spec, lab in zip(specs, labels, strict=True):
        res = evaluate(spec, cfg, progress=progress)
        res.save(out / lab, plots=False)
        results[lab] = res
    report = baseline_report(
        [
            (lab, spec, results[lab].records, results[lab].metrics)
            for lab, spec in zip(labels, specs, strict=True)
        ],  # fmt: skip
        cfg,
    )
    report["wall_time_s"] = {lab: round(r.wall_time, 3) for lab, r in results.items()}
    atomic_write_json(out / "baselines.json", _jsonable(report))
    atomic_write_text(out / "baselines.md", baseline_markdown(report))
    return report


def baseline_report(
    runs: list[tuple[str, str, list[dict[str, Any]], dict[str, Any]]], cfg: EvalConfig
) -> dict[str, Any]:
    """The side-by-side and paired content of ``baselines.json``.

    Args:
        runs: (label, spec, episode records, metrics) of the policy first, then each
            baseline, all evaluated with ``cfg``.
        cfg: The shared evaluation settings.

    Returns:
        ``{"format", "split", "route_mode", "bodies", "config", "policies": [{label, spec,
        metrics}], "paired": {baseline label: {"cells", "embodiments", "overall"}}}`` where
        each paired entry is :func:`compass_nav.evaluation.strata.paired_difference` of the
        group plus ``strata`` (the same per stratum half).
    """
    label, _, rec0, _ = runs[0]
    paired: dict[str, Any] = {}
    for k, (lab, _, rec, _) in enumerate(runs[1:]):
        pairs = episode_pairs(rec0, rec)
        seed = cfg.seed * 1000 + 17 * (k + 1)

        def group(sel, emb, fam, pairs=pairs, seed=seed):
            sub = [p for p in pairs if sel(p[0])]
            entry = {"embodiment": emb, "family": fam, **paired_difference(sub, seed=seed)}
            strata = {}
            for key, *_ in STRATA:
                if sub and all(p[0].get(key) is not None for p in sub):
                    strata[key] = {
                        half: paired_difference(
                            [p for p in sub if bool(p[0][key]) == (half == "true")], seed=seed
                        )
                        for half in ("true", "false")
                    }
            entry["strata"] = strata
            return entry

        paired[lab] = {
            "cells": [
                group(lambda r, b=b, f=f: r["embodiment"] == b and r["family"] == f, b, f)
                for b, f in cfg.cells
            ],
            "embodiments": [
                group(lambda r, b=b: r["embodiment"] == b, b, "all") for b in cfg.embodiments
            ],
            "overall": group(lambda r: True, "all", "all"),
        }
    return {
        "format": FORMAT,
        "split": cfg.episode.split,
        "route_mode": cfg.episode.route_mode,
        "bodies": body_splits(cfg.embodiments),
        "config": config_to_dict(cfg),
        "policy": label,
        "policies": [{"label": lab, "spec": spec, "metrics": m} for lab, spec, _, m in runs],
        "paired": paired,
    }


def _diff(d: dict[str, Any], key: str, kind: str = "rate") -> str:
    v = d.get(key)
    text = fmt_value(v, kind)
    if text == "-":
        return text
    sign = "+" if float(v) >= 0 else ""
    lo, hi = d[f"{key}_ci"]
    return f"{sign}{text} [{fmt_value(lo, kind)}, {fmt_value(hi, kind)}]"


def baseline_markdown(report: dict[str, Any]) -> str:
    """``baselines.md``: side-by-side metrics, strata and paired differences."""
    pols = report["policies"]
    cfg = report["config"]
    ep = cfg["episode"]
    text = (
        f"# `{pols[0]['spec']}` against its baselines\n\n"
        f"{split_line(report['split'], report['bodies'])}\n\n"
        f"{ep['route_mode']} routes, {cfg['episodes']} episodes per cell, seed {cfg['seed']}, "
        f"{ep['image_width']}x{ep['image_height']} images, timeout {ep['max_episode_steps']} "
        "steps. Every policy ran the same episodes (same scene, start and goal). Rates: "
        "Wilson 95% intervals; SPL, differences: bootstrap 95% intervals (paired: episodes "
        "resampled together).\n\n"
    )
    groups = [metric_groups(p["metrics"]) for p in pols]
    header = ["embodiment", "family"]
    for p in pols:
        header += [f"{p['label']} SR [95% CI]", f"{p['label']} coll.", f"{p['label']} SPL"]
    rows = []
    for i, m in enumerate(groups[0]):
        emb = m["embodiment"] if m["embodiment"] != "all" else "**all**"
        fam = m["family"] if m["family"] != "all" else "**pooled**"
        row = [emb, fam]
        for g in groups:
            q = g[i]
            row += [
                fmt_metric(q, "sr", "sr_ci", "rate") + f" (n={q['n']})",
                fmt_metric(q, "collision_rate", "collision_ci", "rate"),
                fmt_metric(q, "spl", "spl_ci", "rate"),
            ]
        rows.append(row)
    text += "## Success, collision, SPL\n\n" + markdown_table(header, rows)
    header = ["embodiment", "family"]
    for p in pols:
        header += [f"{p['label']} timeout", f"{p['label']} TT s [95% CI]"]
    rows = []
    for i, m in enumerate(groups[0]):
        emb = m["embodiment"] if m["embodiment"] != "all" else "**all**"
        fam = m["family"] if m["family"] != "all" else "**pooled**"
        row = [emb, fam]
        for g in groups:
            q = g[i]
            row += [
                fmt_value(q["timeout_rate"], "rate"),
                fmt_metric(q, "travel_time", "travel_time_ci", "time"),
            ]
        rows.append(row)
    text += "\n## Timeouts and travel time (successes)\n\n" + markdown_table(header, rows)
    # Strata side by side (pooled per body and overall, to keep the page readable).
    present = groups[0][-1].get("strata") or {}
    for key, title, yes, no in STRATA:
        if key not in present:
            continue
        header = ["embodiment", "family", f"n {yes} / {no}"]
        for p in pols:
            header += [f"{p['label']} SR {yes}", f"{p['label']} SR {no}"]
        rows = []
        for i, m in enumerate(groups[0]):
            st = (m.get("strata") or {}).get(key)
            if st is None:
                continue
            emb = m["embodiment"] if m["embodiment"] != "all" else "**all**"
            fam = m["family"] if m["family"] != "all" else "**pooled**"
            row = [emb, fam, f"{st['true']['n']} / {st['false']['n']}"]
            for g in groups:
                s = g[i]["strata"][key]
                row += [
                    fmt_metric(s["true"], "sr", "sr_ci", "rate"),
                    fmt_metric(s["false"], "sr", "sr_ci", "rate"),
                ]
            rows.append(row)
        text += f"\n## Stratum: {title} {yes} / {no} (`{key}`)\n\n" + markdown_table(header, rows)
    # Paired differences.
    for lab, pd in report["paired"].items():
        text += (
            f"\n## Paired: {pols[0]['label']} minus {lab} (same episodes)\n\n"
            "ΔSR, Δcollision, ΔSPL: mean per-episode difference; ΔTT: on the episodes both "
            "succeeded; wins / losses: episodes only the policy / only the baseline "
            "succeeded.\n\n"
        )
        header = ["embodiment", "family", "n", "ΔSR", "Δcollision", "ΔSPL", "ΔTT s",
                  "wins / losses"]  # fmt: skip
        for key, _title, yes, no in STRATA:
            if key in (pd["overall"].get("strata") or {}):
                header += [f"ΔSR {yes}", f"ΔSR {no}"]
        rows = []
        entries = []
        for b in pd["embodiments"]:
            entries += [c for c in pd["cells"] if c["embodiment"] == b["embodiment"]] + [b]
        if len(pd["embodiments"]) > 1:
            entries.append(pd["overall"])
        for d in entries:
            emb = d["embodiment"] if d["embodiment"] != "all" else "**all**"
            fam = d["family"] if d["family"] != "all" else "**pooled**"
            row = [
                emb,
                fam,
                str(d["n"]),
                _diff(d, "d_sr"),
                _diff(d, "d_collision"),
                _diff(d, "d_spl"),
                _diff(d, "d_time", "time"),
                f"{d['policy_only']} / {d['baseline_only']}",
            ]
            for key, *_ in STRATA:
                if key in (pd["overall"].get("strata") or {}):
                    st = d["strata"].get(key)
                    row += (
                        [_diff(st["true"], "d_sr"), _diff(st["false"], "d_sr")]
                        if st
                        else ["-", "-"]
                    )
            rows.append(row)
        text += markdown_table(header, rows)
    return text
