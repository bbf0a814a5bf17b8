"""The whole chain in one command: demos -> IL base -> specialists -> generalist -> table.

``compass-nav pipeline run --preset tiny|full --out DIR`` (:mod:`compass_nav.rl.cli`) calls
:func:`run_pipeline`, which runs each stage through its own Python API and skips what is
already done, so an interrupted chain picks up where it stopped (a stage whose run folder
holds checkpoints but no final artefact is resumed):

1. ``demos/``: teacher demonstrations (:func:`compass_nav.data.record_episodes`).
2. ``il/``: the X-Mobility base (:func:`compass_nav.il.runner.train_il`).
3. ``rl_<body>/``: one residual specialist per training body
   (:func:`compass_nav.rl.runner.train_rl`).
4. ``rollouts_<body>/``: specialist rollouts with policy state and action distribution
   (:func:`compass_nav.rl.record.record_specialist`).
5. ``generalist/``: the distilled generalist (:func:`compass_nav.distill.runner.train_distill`).
6. ``eval/``: closed-loop evaluation on held-out scene seeds, mapless route
   (:func:`compass_nav.evaluation.evaluate`): the IL base and the generalist on every body
   (training and held-out), each specialist on its own body; ``eval/table.md`` and
   ``eval/summary.json`` hold the table (success, collision rate, travel time), and
   ``eval/table.png`` plots it.

Presets (:data:`PIPELINE_PRESETS`): ``tiny`` runs in about a minute (tests run it), ``full``
is what BENCHMARKS.md reports.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

from compass_nav.contract.body import get_embodiment
from compass_nav.data import record_episodes
from compass_nav.distill.config import DistillConfig
from compass_nav.distill.runner import train_distill
from compass_nav.evaluation import EvalConfig, evaluate
from compass_nav.il.runner import ILConfig, il_preset, train_il
from compass_nav.learning.common import CheckpointManager
from compass_nav.models.loader import XMobilityPolicy, load_model, resolve_checkpoint
from compass_nav.rl.artifact import resolve_artifact
from compass_nav.rl.config import RLConfig
from compass_nav.rl.loader import load_agent
from compass_nav.rl.record import record_specialist
from compass_nav.rl.runner import train_rl
from compass_nav.sim.config import SimConfig
from compass_nav.utils.atomic import atomic_save_png, atomic_write_json, atomic_write_text
from compass_nav.utils.config import (
    check,
    config_from_dict,
    config_to_dict,
    deep_merge,
    dump_yaml,
)
from compass_nav.utils.errors import ConfigError
from compass_nav.utils.files import file_sha256

__all__ = ["PIPELINE_PRESETS", "PipelineConfig", "pipeline_preset", "run_pipeline"]

TRAIN_BODIES = ("carter", "omnibase", "spot", "h1", "g1", "digit")
HELDOUT_BODIES = ("scout", "anymal", "walker")
FAMILIES = ("warehouse", "office", "hall")


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    """Every stage's settings; stage-specific paths (data, base, specialists) are filled in.

    Attributes:
        bodies: Training embodiments (one specialist each; the generalist learns them all).
        heldout: Embodiments only evaluated (zero-shot generalist rows).
        demo_embodiments: Bodies the teacher demonstrates for the IL base (COMPASS: carter).
        demo_episodes: Teacher episodes recorded.
        demo_num_envs: Env slots while recording demonstrations.
        demo_image_size: Camera size of the demonstrations, px (square; 0: the IL model's
            input size; larger frames are resized by the model).
        record_episodes: Specialist episodes recorded per body for distillation.
        record_num_envs: Env slots while recording specialists.
        eval_episodes: Episodes per embodiment x family cell.
        eval_families: Scene families evaluated.
        eval_max_episode_steps: Evaluation timeout, control steps.
        seed: Base seed of every stage.
        il: Imitation settings (``data`` is set to ``<out>/demos``).
        rl: Specialist settings (``embodiment`` and ``base`` are set per body).
        rl_per_body: Changes to ``rl`` for single bodies, e.g. ``{"h1": {"iterations": 1000}}``
            (bodies that need a longer run than the rest).
        distill: Generalist settings (``specialists`` and ``data`` are set).
    """

    bodies: tuple[str, ...] = TRAIN_BODIES
    heldout: tuple[str, ...] = HELDOUT_BODIES
    demo_embodiments: tuple[str, ...] = ("carter",)
    demo_episodes: int = 400
    demo_num_envs: int = 24
    demo_image_size: int = 0
    record_episodes: int = 120
    record_num_envs: int = 24
    eval_episodes: int = 200
    eval_families: tuple[str, ...] = FAMILIES
    eval_max_episode_steps: int = 300
    seed: int = 0
    il: ILConfig = dataclasses.field(default_factory=ILConfig)
    rl: RLConfig = dataclasses.field(default_factory=RLConfig)
    rl_per_body: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    distill: DistillConfig = dataclasses.field(default_factory=DistillConfig)

    def __post_init__(self) -> None:
        for f in ("bodies", "heldout", "demo_embodiments", "eval_families"):
            object.__setattr__(self, f, tuple(getattr(self, f)))
        check(len(self.bodies) >= 1, "bodies", self.bodies, "must not be empty")
        check(
            len(set(self.bodies)) == len(self.bodies),
            "bodies",
            self.bodies,
            "must not repeat a name",
        )
        check(
            not set(self.bodies) & set(self.heldout),
            "heldout",
            self.heldout,
            "must not contain a training body",
        )
        for name in (*self.bodies, *self.heldout, *self.demo_embodiments):
            get_embodiment(name)
        for name in self.rl_per_body:
            check(name in self.bodies, "rl_per_body", name, f"is not one of bodies {self.bodies}")
            self.rl_for(name)  # validates the changed settings
        for f in (
            "demo_episodes",
            "demo_num_envs",
            "record_episodes",
            "record_num_envs",
            "eval_episodes",
            "eval_max_episode_steps",
        ):
            v = getattr(self, f)
            check(v >= 1, f, v, "must be >= 1")
        check(
            len(self.eval_families) >= 1, "eval_families", self.eval_families, "must not be empty"
        )
        check(
            self.demo_image_size == 0 or 16 <= self.demo_image_size <= 512,
            "demo_image_size",
            self.demo_image_size,
            "must be 0 or within [16, 512] px",
        )

    def rl_for(self, body: str) -> RLConfig:
        """The specialist settings of ``body``: ``rl`` with its ``rl_per_body`` changes."""
        over = self.rl_per_body.get(body)
        if not over:
            return self.rl
        return config_from_dict(RLConfig, deep_merge(config_to_dict(self.rl), over))


#: Named presets as plain overrides (nested sections merge over their defaults).
PIPELINE_PRESETS: dict[str, dict[str, Any]] = {
    "full": {
        "demo_episodes": 1500,
        "demo_image_size": 64,
        "record_episodes": 100,
        "il": il_preset("default"),
        "rl": {"iterations": 400},
        # The two bodies whose specialists stayed under 0.90 after 400 iterations; h1 also
        # with a doubled collision penalty (0.892 held-out against 0.878 without it).
        "rl_per_body": {
            "omnibase": {"iterations": 1000},
            "h1": {"iterations": 1000, "reward": {"collision": -10.0, "proximity": -0.05}},
        },
    },
    "tiny": {
        "bodies": ("carter", "spot"),
        "heldout": ("scout",),
        "demo_episodes": 4,
        "demo_num_envs": 4,
        "record_episodes": 3,
        "record_num_envs": 3,
        "eval_episodes": 2,
        "eval_families": ("warehouse",),
        "eval_max_episode_steps": 40,
        "il": {
            **il_preset("debug"),
            "steps": 10,
            "checkpoint_every": 10,
            "num_threads": 1,
            "dagger": {"rounds": 0},
        },
        "rl": {
            "num_envs": 3,
            "steps_per_env": 12,
            "iterations": 2,
            "max_episode_steps": 40,
            "families": ("warehouse",),
            "save_interval": 2,
            "head": {"hidden_dims": (16,)},
            "ppo": {"critic_hidden_dims": (16,), "num_learning_epochs": 1, "num_mini_batches": 2},
        },
        "distill": {
            "steps": 10,
            "batch_size": 32,
            "dagger_rounds": 1,
            "dagger_steps": 8,
            "dagger_updates": 5,
            "num_envs": 2,
            "max_episode_steps": 40,
            "families": ("warehouse",),
            "tensorboard": False,
            "head": {"hidden_dims": (16,), "heteroscedastic": True},
        },
    },
}


def pipeline_preset(name: str, overrides: dict[str, Any] | None = None) -> PipelineConfig:
    """The named preset, with plain nested ``overrides`` merged over it.

    Raises:
        ConfigError: Unknown preset (the known ones are listed) or a bad value.
    """
    if name not in PIPELINE_PRESETS:
        raise ConfigError(
            f"pipeline preset={name!r}: unknown; known presets: {', '.join(PIPELINE_PRESETS)}"
        )
    data = deep_merge(PIPELINE_PRESETS[name], overrides or {})
    return config_from_dict(PipelineConfig, data)


def _stage_state(run: Path, final: str) -> str:
    """``done`` (final artefact there), ``resume`` (checkpoints, no artefact) or ``new``."""
    if (run / final).is_file():
        return "done"
    return "resume" if CheckpointManager(run).latest() is not None else "new"


def _log(msg: str) -> None:
    print(f"[pipeline] {msg}", flush=True)


def run_pipeline(cfg: PipelineConfig, out: str | Path, progress: bool = True) -> dict[str, Any]:
    """Run (or continue) every stage into ``out``; returns the evaluation summary.

    Returns:
        ``{"rows": [...], "table": markdown, "stages": {stage: seconds}}``, also written to
        ``out/eval/summary.json`` and ``out/eval/table.md``.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    dump_yaml(cfg, out / "pipeline.yaml")
    times: dict[str, float] = {}

    def timed(name: str, fn, *args, **kwargs):
        t0 = time.perf_counter()
        result = fn(*args, **kwargs)
        times[name] = round(time.perf_counter() - t0, 1)
        return result

    m = cfg.il.model
    demo_h = cfg.demo_image_size or m.image_height
    demo_w = cfg.demo_image_size or m.image_width
    demos = out / "demos"
    _log(f"1/6 teacher demonstrations -> {demos}")
    timed(
        "demos",
        record_episodes,
        "teacher",
        demos,
        SimConfig(
            num_envs=cfg.demo_num_envs,
            embodiments=cfg.demo_embodiments,
            families=cfg.rl.families,
            split="train",
            image_height=demo_h,
            image_width=demo_w,
            render_rgb=m.use_rgb,
            render_depth=m.use_depth,
            route_mode="planned",
        ),
        cfg.demo_episodes,
        seed=cfg.seed,
        progress=progress,
    )

    il_run = out / "il"
    il_cfg = dataclasses.replace(cfg.il, data=str(demos), embodiments=cfg.demo_embodiments)
    state = _stage_state(il_run, "model.pt")
    _log(f"2/6 imitation base -> {il_run} ({state})")
    if state != "done":
        timed("il", train_il, il_cfg, il_run, resume=state == "resume", progress=progress)

    specialists, rollouts = [], []
    for body in cfg.bodies:
        run = out / f"rl_{body}"
        state = _stage_state(run, "specialist.pt")
        _log(f"3/6 specialist {body} -> {run} ({state})")
        if state != "done":
            rl_cfg = dataclasses.replace(
                cfg.rl_for(body), embodiment=body, base=str(il_run), seed=cfg.seed
            )
            timed(f"rl_{body}", train_rl, rl_cfg, run, resume=state == "resume", progress=progress)
        specialists.append(str(run))
        rec = out / f"rollouts_{body}"
        _log(f"4/6 specialist rollouts {body} -> {rec}")
        timed(
            f"record_{body}",
            record_specialist,
            run,
            rec,
            cfg.record_episodes,
            seed=cfg.seed,
            num_envs=cfg.record_num_envs,
            families=cfg.rl.families,
            route_mode=cfg.rl.route_mode,
            max_episode_steps=cfg.rl.max_episode_steps,
            progress=progress,
        )
        rollouts.append(str(rec))

    gen_run = out / "generalist"
    state = _stage_state(gen_run, "generalist.pt")
    _log(f"5/6 generalist -> {gen_run} ({state})")
    if state != "done":
        d_cfg = dataclasses.replace(
            cfg.distill, specialists=tuple(specialists), data=tuple(rollouts), seed=cfg.seed
        )
        timed(
            "distill", train_distill, d_cfg, gen_run, resume=state == "resume", progress=progress
        )

    _log(f"6/6 evaluation -> {out / 'eval'}")
    summary = timed(
        "eval",
        evaluate_chain,
        cfg,
        il_run,
        dict(zip(cfg.bodies, specialists, strict=True)),
        gen_run,
        out / "eval",
        progress=progress,
    )
    summary["stages"] = times
    atomic_write_json(out / "eval" / "summary.json", summary)
    return summary


def evaluate_chain(
    cfg: PipelineConfig,
    il_run: str | Path,
    specialists: dict[str, str],
    generalist: str | Path | None,
    out: str | Path,
    progress: bool = True,
) -> dict[str, Any]:
    """Evaluate IL base, specialists and generalist; write ``table.md`` and per-policy JSON.

    Each (policy, body) evaluation is cached as ``out/<policy>_<body>.json`` with the SHA-256
    of the file it evaluated, so a re-run only evaluates what is missing or was retrained.
    Bodies without a specialist, or ``generalist=None``, leave those columns empty (for a
    chain that is still being trained).

    Returns:
        ``{"rows": [...], "table": markdown}``; a row per body: its kind (``train`` or
        ``heldout``) and, for each policy that ran on it, SR with 95% CI, collision rate and
        mean travel time of successful episodes.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    m = cfg.il.model

    digests: dict[Path, str] = {}  # each file is hashed once, not once per body

    def run(tag: str, make, body: str, source: Path) -> dict[str, Any]:
        path = out / f"{tag}_{body}.json"
        if source not in digests:
            digests[source] = file_sha256(source)
        digest = digests[source]
        if path.is_file():
            cached = json.loads(path.read_text())
            if cached.get("source_sha256") == digest:
                return cached
            _log(f"  {path.name}: {source} changed since it was evaluated; evaluating again")
        ecfg = EvalConfig(
            embodiments=(body,),
            families=cfg.eval_families,
            episodes=cfg.eval_episodes,
            route_mode="mapless",
            split="heldout",
            seed=cfg.seed,
            image_height=m.image_height,
            image_width=m.image_width,
            max_episode_steps=cfg.eval_max_episode_steps,
            workers=1,
            gifs=0,
        )
        res = evaluate(make(), ecfg, progress=progress)
        cell = res.cell(body)
        row = {
            k: cell[k] for k in ("n", "sr", "sr_ci", "collision_rate", "travel_time", "wtt", "spl")
        }
        row["wall_s"] = round(res.wall_time, 1)
        row["source"], row["source_sha256"] = str(source), digest
        atomic_write_json(path, row)
        return row

    rows = []
    for body in (*cfg.bodies, *cfg.heldout):
        row: dict[str, Any] = {
            "embodiment": body,
            "kind": "train" if body in cfg.bodies else "heldout",
        }
        row["il"] = run(
            "il",
            lambda: XMobilityPolicy(load_model(il_run), name="il"),
            body,
            resolve_checkpoint(il_run),
        )
        if body in specialists:
            row["specialist"] = run(
                "specialist",
                lambda b=body: load_agent(specialists[b]),
                body,
                resolve_artifact(specialists[body]),
            )
        if generalist is not None:
            row["generalist"] = run(
                "generalist", lambda: load_agent(generalist), body, resolve_artifact(generalist)
            )
        rows.append(row)
    table = chain_table(rows)
    atomic_write_text(out / "table.md", table)
    chain_plot(rows, out / "table.png")
    return {"rows": rows, "table": table}


def _cell(r: dict[str, Any] | None) -> list[str]:
    if r is None:
        return ["-", "-", "-"]
    lo, hi = r["sr_ci"]
    tt = r["travel_time"]
    tt_s = "-" if tt is None or tt != tt else f"{tt:.1f}"
    return [f"{r['sr']:.2f} [{lo:.2f}, {hi:.2f}]", f"{r['collision_rate']:.2f}", tt_s]


def chain_table(rows: list[dict[str, Any]]) -> str:
    """Markdown table: per body, IL / specialist / generalist SR [95% CI], collision, time."""
    head = ["embodiment", "split"]
    for who in ("IL", "specialist", "generalist"):
        head += [f"{who} SR", f"{who} coll.", f"{who} time (s)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["embodiment"], r["kind"]]
        for key in ("il", "specialist", "generalist"):
            cells += _cell(r.get(key))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def chain_plot(rows: list[dict[str, Any]], path: str | Path) -> Path:
    """Grouped bars of success (95% CI) per body: IL base, specialist, generalist.

    Bodies kept out of training are marked "(zero-shot)"; the dotted line is 0.90, the
    specialists' target. Written atomically as PNG.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    whos = (
        ("il", "IL base", "#9e9e9e"),
        ("specialist", "specialist", "#1f77b4"),
        ("generalist", "generalist", "#ff7f0e"),
    )
    x = np.arange(len(rows))
    width = 0.27
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(rows)), 3.8), dpi=110)
    for k, (key, label, colour) in enumerate(whos):
        xs, ys, lo, hi = [], [], [], []
        for i, r in enumerate(rows):
            cell = r.get(key)
            if cell is None:
                continue
            xs.append(x[i] + (k - 1) * width)
            ys.append(cell["sr"])
            lo.append(cell["sr"] - cell["sr_ci"][0])
            hi.append(cell["sr_ci"][1] - cell["sr"])
        if xs:
            ax.bar(xs, ys, width, yerr=[lo, hi], capsize=2, color=colour, label=label)
    ax.axhline(0.9, color="k", linestyle=":", linewidth=1)
    ax.set_xticks(
        x,
        [r["embodiment"] + ("\n(zero-shot)" if r["kind"] == "heldout" else "") for r in rows],
        fontsize=8,
    )
    ax.set_ylim(0.0, 1.0)
    ax.set_ylabel("success rate (held-out scenes)")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    atomic_save_png(fig, path)
    return Path(path)
