"""Writing the offline-evaluation report: JSON, markdown, scatter and PSNR plots, GIFs.

Wiring: ``compass-nav worldmodel evaluate`` passes the dict from
:func:`compass_nav.worldmodel.evaluate.evaluate_pool` to :func:`write_report`, which writes
into the output folder::

    results.json          every number (the private ``_imagined``/``_truth`` entries dropped)
    report.md             the tables a reader wants first
    success_scatter.png   predicted vs real success per policy, with the identity line
    psnr_horizon.png      PSNR vs horizon: model / copy-last / shuffled, AR and TF
    episode_<policy>_<i>.gif   real (left) and imagined (right) ego views side by side

Plots use matplotlib's Agg backend (no display); GIFs are written with imageio.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from compass_nav.utils.atomic import atomic_write_json, atomic_write_text
from compass_nav.worldmodel.rollouts import slug

__all__ = ["format_markdown", "headline", "write_report"]


def _fmt(v, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    return f"{v:.{digits}f}"


def _metric_cell(m: dict) -> str:
    lo, hi = m["ci95"]
    return f"{_fmt(m['value'])} [{_fmt(lo)}, {_fmt(hi)}]"


def headline(results: dict) -> dict[str, float]:
    """The figures a benchmark prints last (held-out policies first)."""
    c = results["correlation"]
    out = {}
    for g in ("heldout", "all"):
        if "pearson" in c.get(g, {}):
            for k in ("pearson", "spearman", "kendall", "mmrv", "pairwise_accuracy", "mae"):
                out[f"{g}_{k}"] = c[g][k]["value"]
    v = results["video"].get("in_distribution", {})
    if "ar" in v:
        for h, p, pc, ps in zip(
            v["horizons"],
            v["ar"]["model"]["psnr"],
            v["ar"]["copy"]["psnr"],
            v["ar"]["shuffled"]["psnr"],
            strict=True,
        ):
            out[f"psnr_ar{h}"] = p
            out[f"psnr_ar{h}_copy"] = pc
            out[f"psnr_ar{h}_shuffled"] = ps
    out["imagine_steps_per_s"] = results["imagination"]["steps_per_second"]
    out["train_minutes"] = results["training"].get("train_seconds", float("nan")) / 60.0
    out["train_cpu_minutes"] = results["training"].get("train_cpu_seconds", float("nan")) / 60.0
    out["judge_collision_bal_acc"] = results["judge_real"]["collision_balanced_accuracy"]
    return out


def format_markdown(results: dict) -> str:
    """The human-readable report."""
    cfg = results["config"]
    lines = ["# Offline policy evaluation with a video world model", ""]
    if cfg["judge"] == "depth":
        from compass_nav.worldmodel.imagine import DEPTH_CONTACT_M, DEPTH_SCALE_M

        metres = DEPTH_CONTACT_M + cfg["hazard_offset"] * DEPTH_SCALE_M
        setting = f"contact below {metres:.3f} m of predicted central depth"
    elif cfg["judge"] in ("map", "map_first"):
        from compass_nav.worldmodel.imagine import MAP_CONTACT_M, MAP_SCALE_M

        metres = MAP_CONTACT_M + cfg["hazard_offset"] * MAP_SCALE_M
        setting = f"contact below {metres:+.3f} m of footprint clearance to the obstacle map"
    elif cfg["judge"] in ("map_prior", "map_prior_band"):
        import math

        per_cell = 1.0 - math.exp(-math.exp(cfg["hazard_offset"]))
        setting = (
            f"contact where the measured cells show one, else each unseen cell entered "
            f"off the plan's corridor occupied with probability {per_cell:.2e}"
        )
    else:
        setting = f"hazard logit offset {cfg['hazard_offset']:+.2f}"
    routes = (
        "re-planned from the imagined pose"
        if cfg.get("replan")
        else "the start plan, from its nearest point"
    )
    lines += [
        f"Embodiment {cfg['embodiment']}, {cfg['image_size']}x{cfg['image_size']} "
        f"frames, {cfg['episodes_per_policy']} paired episodes per policy on held-out "
        f"scene seeds. Judge: {cfg['judge']} ({setting}, fitted on the train policies "
        "only). Imagined frames: ego-motion warp "
        f"`{cfg.get('ego_warp', 'off')}`"
        f"{' (floor snapped)' if cfg.get('snap_floor') else ''}, static-camera rule "
        f"{'on' if cfg.get('static_camera', True) else 'off'}. Imagined routes: {routes}.",
        "",
    ]
    abl = cfg.get("judge_modes", {})
    if abl:
        rule = cfg.get("judge_rule", "sr_mse")
        used = "train episode Brier" if rule == "episode_brier" else "train SR MSE"
        lines += [
            f"Judge modes (offset fitted on train policies; the lowest {used} is used; "
            "`map_first` is an ablation, never chosen):",
            "",
            "| mode | offset | train SR MSE | train episode Brier | held-out Pearson "
            "| held-out MMRV | held-out MAE |",
            "|---|---|---|---|---|---|---|",
        ]
        for mode, a in abl.items():
            lines.append(
                f"| {mode} | {a['offset']:+.2f} | {_fmt(a['train_mse'], 4)} | "
                f"{_fmt(a.get('train_brier', float('nan')), 4)} | "
                f"{_fmt(a.get('heldout_pearson'))} | {_fmt(a.get('heldout_mmrv'))} | "
                f"{_fmt(a.get('heldout_mae'))} |"
            )
        lines.append("")
    lines += [
        "## Per-policy success: real vs imagined",
        "",
        "| policy | role | real SR | predicted SR | real coll. | pred. coll. | "
        "real time (s) | pred. time (s) | IDM flagged |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for spec, row in results["per_policy"].items():
        r, p = row["real"], row["predicted"]
        if p is None:
            lines.append(
                f"| `{spec}` | {row['role']} | {_fmt(r['success'])} | not evaluable "
                f"in imagination | {_fmt(r['collision'])} | | "
                f"{_fmt(r['time_success'], 1)} | | |"
            )
            continue
        lines.append(
            f"| `{spec}` | {row['role']} | {_fmt(r['success'])} | {_fmt(p['success'])} | "
            f"{_fmt(r['collision'])} | {_fmt(p['collision'])} | {_fmt(r['time_success'], 1)} | "
            f"{_fmt(p['time_success'], 1)} | {_fmt(p['idm_flagged'], 2)} |"
        )
    lines += [
        "",
        "## Ranking agreement (95% bootstrap intervals over policies and episodes)",
        "",
        "| policies | n | Pearson | Spearman | Kendall | MMRV | pairwise acc. | SR MAE |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for g, m in results["correlation"].items():
        if "pearson" not in m:
            lines.append(f"| {g} | {m['policies']} | {m.get('skipped', '')} | | | | | |")
            continue
        cells = " | ".join(
            _metric_cell(m[k])
            for k in ("pearson", "spearman", "kendall", "mmrv", "pairwise_accuracy", "mae")
        )
        lines.append(f"| {g} | {m['policies']} | {cells} |")
    lines += ["", "## Video quality (RGB; mean over recorded windows)", ""]
    for g, v in results["video"].items():
        if "ar" not in v:
            lines += [f"{g}: {v.get('skipped', 'n/a')}", ""]
            continue
        lines += [
            f"### {g} ({v['windows']} windows)",
            "",
            "| mode | predictor | "
            + " | ".join(f"PSNR@{h} | SSIM@{h}" for h in v["horizons"])
            + " |",
            "|---|---|" + "---|---|" * len(v["horizons"]),
        ]
        for mode in ("ar", "tf"):
            for name in ("model", "copy", "shuffled"):
                s = v[mode][name]
                cells = " | ".join(
                    f"{_fmt(p, 2)} | {_fmt(q, 3)}"
                    for p, q in zip(s["psnr"], s["ssim"], strict=True)
                )
                lines.append(f"| {mode} | {name} | {cells} |")
        lines.append("")
    j = results["judge_real"]
    lines += [
        "## Judge on real rollouts",
        "",
        f"{j['episodes']} real episodes: collision accuracy "
        f"{_fmt(j['collision_accuracy'])}, "
        f"balanced accuracy {_fmt(j['collision_balanced_accuracy'])} (recall "
        f"{_fmt(j['collision_recall'])}, specificity "
        f"{_fmt(j['collision_specificity'])}), "
        f"AUROC {_fmt(j['collision_auroc'])}; 3-way outcome accuracy "
        f"{_fmt(j['outcome_accuracy'])}.",
        "",
    ]
    im = results["imagination"]
    tr = results["training"]
    lines += [
        "## Cost",
        "",
        f"Imagination: {im['steps']} episode-steps in {im['seconds']:.1f} s "
        f"({im['steps_per_second']:.0f} steps/s). Training: "
        f"{tr.get('train_seconds', float('nan')) / 60:.1f} min wall, "
        f"{tr.get('train_cpu_seconds', float('nan')) / 60:.1f} min CPU "
        f"({tr.get('steps', 'n/a')} steps, {tr.get('frames', 'n/a')} frames, "
        f"{tr.get('torch_threads', 'n/a')} torch thread(s)).",
        "",
    ]
    if results["not_evaluable"]:
        lines += [
            "Not evaluable in imagination (they read the simulator's privileged state; "
            "their rollouts train the world model and their ground truth is listed): "
            + ", ".join(f"`{s}`" for s in results["not_evaluable"]),
            "",
        ]
    return "\n".join(lines)


def _scatter(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.2, 5.0))
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="identity")
    for role, marker, color in (("train", "o", "tab:blue"), ("heldout", "s", "tab:red")):
        pts = [
            (r["real"]["success"], r["predicted"]["success"], s)
            for s, r in results["per_policy"].items()
            if r["predicted"] is not None and r["role"] == role
        ]
        if pts:
            xs, ys, _ = zip(*pts, strict=True)
            ax.scatter(xs, ys, marker=marker, color=color, label=f"{role} policies", zorder=3)
    c = results["correlation"].get("heldout", {})
    title = "Imagined vs real success rate"
    if "pearson" in c:
        title += (
            f"\nheld-out: Pearson {c['pearson']['value']:.3f}, "
            f"MMRV {c['mmrv']['value']:.3f}, MAE {c['mae']['value']:.3f}"
        )
    ax.set(
        xlim=(-0.03, 1.03),
        ylim=(-0.03, 1.03),
        xlabel="real success rate (simulator)",
        ylabel="predicted success rate (world model)",
        title=title,
    )
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _psnr_plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = [(g, v) for g, v in results["video"].items() if "ar" in v]
    if not groups:
        return
    fig, axes = plt.subplots(1, len(groups), figsize=(5.2 * len(groups), 4.0), squeeze=False)
    for ax, (g, v) in zip(axes[0], groups, strict=True):
        for mode, ls in (("ar", "-"), ("tf", ":")):
            for name, color in (
                ("model", "tab:blue"),
                ("copy", "tab:gray"),
                ("shuffled", "tab:orange"),
            ):
                ax.plot(
                    v["horizons"],
                    v[mode][name]["psnr"],
                    ls,
                    marker="o",
                    color=color,
                    label=f"{name} ({mode})",
                )
        ax.set(xlabel="horizon (steps, 10 Hz)", ylabel="PSNR (dB)", title=g)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _gifs(results: dict, out: Path, scale: int = 4) -> list[str]:
    import imageio.v2 as imageio

    imagined, truth = results.get("_imagined", {}), results.get("_truth", {})
    # Prefer vision policies (their actions depend on the predicted pixels).
    order = sorted(
        imagined,
        key=lambda s: ("depth_seeker" not in s, results["per_policy"][s]["role"] != "heldout"),
    )
    written = []
    for spec in order[:2]:
        im, real = imagined[spec], truth[spec]
        for i, fake in sorted(im.frames.items()):
            rgb = real.rgb[real.frames(i)]
            n = max(len(rgb), len(fake))
            pad = lambda a, n=n: np.concatenate([a, np.repeat(a[-1:], n - len(a), 0)])  # noqa: E731
            a, b = pad(rgb), pad(fake)
            gap = np.full((n, a.shape[1], 2, 3), 255, np.uint8)
            frames = np.concatenate([a, gap, b], 2).repeat(scale, 1).repeat(scale, 2)
            name = f"episode_{slug(spec)}_{i}.gif"
            imageio.mimsave(out / name, list(frames), duration=0.1, loop=0)
            written.append(name)
    return written


def write_report(results: dict, out: str | Path) -> dict[str, str]:
    """Write every report file into ``out``; returns {kind: file name}."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    public = {k: v for k, v in results.items() if not k.startswith("_")}
    public["headline"] = headline(results)
    atomic_write_json(out / "results.json", public)
    atomic_write_text(out / "report.md", format_markdown(results) + "\n")
    _scatter(results, out / "success_scatter.png")
    _psnr_plot(results, out / "psnr_horizon.png")
    gifs = _gifs(results, out)
    return {
        "json": "results.json",
        "markdown": "report.md",
        "scatter": "success_scatter.png",
        "psnr": "psnr_horizon.png",
        "gifs": ", ".join(gifs),
    }
