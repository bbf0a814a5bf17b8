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
6. ``eval/``: closed-loop evaluation on held-out scene seeds, mapless route, run as an
   evaluation sweep on the local cores (:func:`compass_nav.sweep.run_cells`, cells in
   ``eval/sweep/``): the IL base and the generalist on every body
   (training and held-out), each specialist on its own body; ``eval/table.md`` and
   ``eval/summary.json`` hold the table (success, collision rate, travel time), and
   ``eval/table.png`` plots it.

Each stage records the settings it runs with in ``fingerprints/<stage>.json`` (the settings,
the fingerprints of the stages it reads and their hash) before it starts. A re-run reuses a
stage only when its fingerprint is unchanged; otherwise it stops before any work with an
error that names the stage and the changed settings, or, with ``redo_changed``
(``--redo-changed``), deletes and redoes that stage and the stages that depend on it. Cached
evaluations are keyed by the evaluation settings, the evaluated file and its stage's
fingerprint. ``pipeline.yaml`` is written at the end of a run, so it always describes the
results next to it.

Presets (``configs/presets/pipeline.yaml``): ``tiny`` runs in about a minute (tests run it),
``full`` is what BENCHMARKS.md reports.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import time
from pathlib import Path
from typing import Any

from compass_nav.contract.body import get_embodiment
from compass_nav.data import record_episodes
from compass_nav.distill.config import DistillConfig
from compass_nav.distill.runner import train_distill
from compass_nav.evaluation import EvalConfig
from compass_nav.evaluation.harness import compute_metrics
from compass_nav.il.runner import ILConfig, train_il
from compass_nav.learning.common import CheckpointManager
from compass_nav.models.checkpoint_policy import resolve_checkpoint
from compass_nav.rl.artifact import resolve_artifact
from compass_nav.rl.config import RLConfig
from compass_nav.rl.record import record_specialist
from compass_nav.rl.runner import train_rl
from compass_nav.sim.config import EpisodeSpec, SimConfig
from compass_nav.utils.atomic import atomic_save_png, atomic_write_json, atomic_write_text
from compass_nav.utils.config import check, check_names, config_to_dict, dump_yaml, resolve_config
from compass_nav.utils.errors import ConfigError
from compass_nav.utils.files import file_sha256

__all__ = ["PipelineConfig", "pipeline_preset", "run_pipeline"]

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
        eval_episode: The evaluation's episodes (held-out scene seeds, mapless routes; camera
            size 0 is the IL model's input size).
        seed: Base seed of every stage.
        il: Imitation settings (``data`` is set to ``<out>/demos``).
        rl: Specialist settings (``embodiment`` and ``base`` are set per body).
        rl_per_body: Changes to ``rl`` for single bodies, e.g. ``{"h1": {"iterations": 1000}}``
            (bodies that need a longer run than the rest).
        distill: Generalist settings (``specialists`` and ``data`` are set).
    """

    __moved_keys__ = {
        "eval_families": "eval_episode.families",
        "eval_max_episode_steps": "eval_episode.max_episode_steps",
    }

    bodies: tuple[str, ...] = TRAIN_BODIES
    heldout: tuple[str, ...] = HELDOUT_BODIES
    demo_embodiments: tuple[str, ...] = ("carter",)
    demo_episodes: int = 400
    demo_num_envs: int = 24
    demo_image_size: int = 0
    record_episodes: int = 120
    record_num_envs: int = 24
    eval_episodes: int = 200
    eval_episode: EpisodeSpec = EpisodeSpec(
        families=FAMILIES, split="heldout", route_mode="mapless", image_height=0, image_width=0
    )
    seed: int = 0
    il: ILConfig = dataclasses.field(default_factory=ILConfig)
    rl: RLConfig = dataclasses.field(default_factory=RLConfig)
    rl_per_body: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    distill: DistillConfig = dataclasses.field(default_factory=DistillConfig)

    def __post_init__(self) -> None:
        for f in ("bodies", "heldout", "demo_embodiments"):
            object.__setattr__(self, f, tuple(getattr(self, f)))
        check_names("bodies", self.bodies)
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
        ):
            v = getattr(self, f)
            check(v >= 1, f, v, "must be >= 1")
        check(
            self.demo_image_size == 0 or 16 <= self.demo_image_size <= 512,
            "demo_image_size",
            self.demo_image_size,
            "must be 0 or within [16, 512] px",
        )

    def demo_sim_config(self) -> SimConfig:
        """The teacher demonstrations' simulator.

        The specialists' families, planned routes, ``demo_image_size`` (or the IL model's
        input size) and the streams the model reads.
        """
        size = self.demo_image_size
        episode = EpisodeSpec(
            families=self.rl.episode.families, image_height=size, image_width=size
        )
        return episode.sim_config(self.demo_num_envs, self.demo_embodiments, model=self.il.model)

    def eval_config(self, body: str):
        """The evaluation settings of one body (one process, no GIFs)."""
        m = self.il.model
        ep = self.eval_episode
        episode = dataclasses.replace(
            ep,
            image_height=ep.image_height or m.image_height,
            image_width=ep.image_width or m.image_width,
        )
        return EvalConfig(
            embodiments=(body,),
            episode=episode,
            episodes=self.eval_episodes,
            seed=self.seed,
            workers=1,
            gifs=0,
        )

    def rl_for(self, body: str) -> RLConfig:
        """The specialist settings of ``body``: ``rl`` with its ``rl_per_body`` changes."""
        over = self.rl_per_body.get(body)
        if not over:
            return self.rl
        return resolve_config(RLConfig, base=config_to_dict(self.rl), values=over)


def pipeline_preset(name: str, overrides: dict[str, Any] | None = None) -> PipelineConfig:
    """The named preset of ``configs/presets/pipeline.yaml`` with nested ``overrides`` merged.

    Raises:
        ConfigError: Unknown preset (the known ones are listed) or a bad value.
    """
    return resolve_config(PipelineConfig, preset=name, presets="pipeline", values=overrides)


def _stage_state(run: Path, final: str) -> str:
    """``done`` (final artefact there), ``resume`` (checkpoints, no artefact) or ``new``."""
    if (run / final).is_file():
        return "done"
    return "resume" if CheckpointManager(run).latest() is not None else "new"


def _log(msg: str) -> None:
    print(f"[pipeline] {msg}", flush=True)


#: Folder (inside the pipeline's output) with one settings record per stage.
FINGERPRINTS = "fingerprints"


def _digest(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def _portable(value: Any, out: Path) -> Any:
    """Plain JSON data with paths inside ``out`` made relative (a moved folder still matches)."""
    if isinstance(value, dict):
        return {k: _portable(v, out) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_portable(v, out) for v in value]
    if isinstance(value, Path):
        value = str(value)
    prefix = str(out) + "/"
    if isinstance(value, str) and value.startswith(prefix):
        return value[len(prefix) :]
    return value


@dataclasses.dataclass(frozen=True)
class _Stage:
    """One stage of the chain: its output, resolved settings and the stages it reads."""

    name: str
    path: Path
    settings: dict[str, Any]
    inputs: dict[str, str]  # stage name -> fingerprint

    @property
    def fingerprint(self) -> str:
        return _digest({"settings": self.settings, "inputs": self.inputs})

    def record(self) -> dict[str, Any]:
        return {
            "stage": self.name,
            "fingerprint": self.fingerprint,
            "settings": self.settings,
            "inputs": self.inputs,
        }


def _stage(name: str, path: Path, settings: Any, inputs: list[_Stage], out: Path) -> _Stage:
    plain = json.loads(json.dumps(_portable(config_to_dict(settings), out)))
    return _Stage(name, path, plain, {s.name: s.fingerprint for s in inputs})


def _has_results(path: Path) -> bool:
    return path.is_file() or (path.is_dir() and any(path.iterdir()))


def _flat(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        flat: dict[str, Any] = {}
        for k, v in data.items():
            flat.update(_flat(v, f"{prefix}{k}."))
        return flat
    return {prefix[:-1]: data}


def _show(value: Any) -> str:
    return json.dumps(value) if isinstance(value, (list, dict)) else str(value)


def _changes(old: dict[str, Any] | None, stage: _Stage) -> str:
    """What differs between a stage's record and its settings now, for the error message."""
    if old is None:
        return "no settings recorded (made before stages recorded their settings)"
    before, now = _flat(old.get("settings", {})), _flat(stage.settings)
    diffs = [
        f"{k}: {_show(before.get(k, '(none)'))} -> {_show(now.get(k, '(none)'))}"
        for k in sorted(set(before) | set(now))
        if before.get(k, "(none)") != now.get(k, "(none)")
    ]
    if not diffs:
        inputs = old.get("inputs", {})
        changed = sorted(
            k for k in {*inputs, *stage.inputs} if inputs.get(k) != stage.inputs.get(k)
        )
        diffs = [f"stages it reads changed: {', '.join(changed) or '(none)'}"]
    return "; ".join(diffs)


def _read_record(out: Path, name: str) -> dict[str, Any] | None:
    path = out / FINGERPRINTS / f"{name}.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: unreadable stage record ({exc}); delete it to redo") from exc


def _check_stages(stages: list[_Stage], out: Path, redo_changed: bool) -> None:
    """Refuse (or, with ``redo_changed``, delete for redoing) stages made with other settings.

    Runs before any stage does work. A stage whose output exists but whose record is missing
    or has another fingerprint counts as changed; stages that read it change with it.

    Raises:
        ConfigError: A changed stage without ``redo_changed``, naming it and what changed.
    """
    changed = []
    for st in stages:
        if not _has_results(st.path):
            continue
        old = _read_record(out, st.name)
        if old is None or old.get("fingerprint") != st.fingerprint:
            changed.append((st, old))
    if not changed:
        return
    if not redo_changed:
        own = [
            (st, old) for st, old in changed if old is None or old.get("settings") != st.settings
        ] or changed[:1]
        names = {st.name for st, _ in own}
        after = [st.name for st, _ in changed if st.name not in names]
        lines = [
            f"pipeline stage {st.name} ({st.path}) was made with other settings: "
            f"{_changes(old, st)}"
            for st, old in own
        ]
        if after:
            lines.append(f"the stages that read it are affected too: {', '.join(after)}")
        raise ConfigError(
            "\n  ".join(lines) + "\n  reusing them would mix results of other settings; pass "
            "--redo-changed to redo these stages (their folders are deleted), or choose "
            "another --out"
        )
    for st, old in changed:
        _log(f"redo {st.name}: {_changes(old, st)}; deleting {st.path}")
        if st.path.is_dir():
            shutil.rmtree(st.path)
        else:
            st.path.unlink()


def _start(st: _Stage, out: Path) -> None:
    """Record a stage's settings before it does any work (a resume then checks them)."""
    atomic_write_json(out / FINGERPRINTS / f"{st.name}.json", st.record())


def run_pipeline(
    cfg: PipelineConfig, out: str | Path, progress: bool = True, redo_changed: bool = False
) -> dict[str, Any]:
    """Run (or continue) every stage into ``out``; returns the evaluation summary.

    Args:
        cfg: Settings of every stage.
        out: Output folder (see the module docstring for its layout).
        progress: Show progress bars.
        redo_changed: Delete and redo stages whose recorded settings differ from ``cfg`` (and
            the stages that read them) instead of refusing.

    Returns:
        ``{"rows": [...], "table": markdown, "stages": {stage: seconds}}``, also written to
        ``out/eval/summary.json`` and ``out/eval/table.md``.

    Raises:
        ConfigError: A finished or started stage was made with other settings and
            ``redo_changed`` is false (nothing is run or written then).
    """
    out = Path(out)
    times: dict[str, float] = {}

    def timed(name: str, fn, *args, **kwargs):
        t0 = time.perf_counter()
        result = fn(*args, **kwargs)
        times[name] = round(time.perf_counter() - t0, 1)
        return result

    # Every stage's settings first, so a changed one is found before anything runs.
    demos = out / "demos"
    demo_sim = cfg.demo_sim_config()
    demo_args = {"episodes": cfg.demo_episodes, "seed": cfg.seed}
    st_demos = _stage("demos", demos, {"policy": "teacher", "sim": demo_sim, **demo_args}, [], out)
    il_run = out / "il"
    il_cfg = dataclasses.replace(cfg.il, data=str(demos), embodiments=cfg.demo_embodiments)
    st_il = _stage("il", il_run, il_cfg, [st_demos], out)
    stages = [st_demos, st_il]
    rl_cfgs, rec_args, specialists, rollouts = {}, {}, [], []
    st_rl, st_rec = {}, {}
    for body in cfg.bodies:
        run, rec = out / f"rl_{body}", out / f"rollouts_{body}"
        rl_cfgs[body] = dataclasses.replace(
            cfg.rl_for(body), embodiment=body, base=str(il_run), seed=cfg.seed
        )
        st_rl[body] = _stage(f"rl_{body}", run, rl_cfgs[body], [st_il], out)
        rec_args[body] = {
            "num_episodes": cfg.record_episodes,
            "seed": cfg.seed,
            "num_envs": cfg.record_num_envs,
            "episode": cfg.rl.episode,
        }
        st_rec[body] = _stage(f"rollouts_{body}", rec, rec_args[body], [st_rl[body]], out)
        stages += [st_rl[body], st_rec[body]]
        specialists.append(str(run))
        rollouts.append(str(rec))
    gen_run = out / "generalist"
    d_cfg = dataclasses.replace(
        cfg.distill, specialists=tuple(specialists), data=tuple(rollouts), seed=cfg.seed
    )
    st_gen = _stage("generalist", gen_run, d_cfg, [*st_rl.values(), *st_rec.values()], out)
    stages.append(st_gen)
    _check_stages(stages, out, redo_changed)
    out.mkdir(parents=True, exist_ok=True)

    _log(f"1/6 teacher demonstrations -> {demos}")
    _start(st_demos, out)
    timed(
        "demos",
        record_episodes,
        "teacher",
        demos,
        demo_sim,
        cfg.demo_episodes,
        seed=cfg.seed,
        progress=progress,
    )

    state = _stage_state(il_run, "model.pt")
    _log(f"2/6 imitation base -> {il_run} ({state})")
    if state != "done":
        _start(st_il, out)
        timed("il", train_il, il_cfg, il_run, resume=state == "resume", progress=progress)

    for body in cfg.bodies:
        run, rec = st_rl[body].path, st_rec[body].path
        state = _stage_state(run, "specialist.pt")
        _log(f"3/6 specialist {body} -> {run} ({state})")
        if state != "done":
            _start(st_rl[body], out)
            timed(
                f"rl_{body}",
                train_rl,
                rl_cfgs[body],
                run,
                resume=state == "resume",
                progress=progress,
            )
        _log(f"4/6 specialist rollouts {body} -> {rec}")
        _start(st_rec[body], out)
        timed(f"record_{body}", record_specialist, run, rec, progress=progress, **rec_args[body])

    state = _stage_state(gen_run, "generalist.pt")
    _log(f"5/6 generalist -> {gen_run} ({state})")
    if state != "done":
        _start(st_gen, out)
        timed(
            "distill", train_distill, d_cfg, gen_run, resume=state == "resume", progress=progress
        )

    _log(f"6/6 evaluation -> {out / 'eval'}")
    fingerprints = {st.name: st.fingerprint for st in stages}
    summary = timed(
        "eval",
        evaluate_chain,
        cfg,
        il_run,
        dict(zip(cfg.bodies, specialists, strict=True)),
        gen_run,
        out / "eval",
        progress=progress,
        fingerprints=fingerprints,
    )
    summary["stages"] = times
    atomic_write_json(out / "eval" / "summary.json", summary)
    # Written last: the record describes the results that are now in ``out``.
    dump_yaml(cfg, out / "pipeline.yaml")
    return summary


def evaluate_chain(
    cfg: PipelineConfig,
    il_run: str | Path,
    specialists: dict[str, str],
    generalist: str | Path | None,
    out: str | Path,
    progress: bool = True,
    fingerprints: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Evaluate IL base, specialists and generalist; write ``table.md`` and per-policy JSON.

    Each (policy, body) evaluation is cached as ``out/<policy>_<body>.json`` with a
    fingerprint of its evaluation settings, the SHA-256 of the file it evaluated and the
    fingerprint of the stage that made that file (``fingerprints``, by stage name: ``il``,
    ``rl_<body>``, ``generalist``), so a re-run only evaluates what is missing, was retrained
    or is evaluated with other settings. Bodies without a specialist, or ``generalist=None``,
    leave those columns empty (for a chain that is still being trained).

    The evaluations to do run as one evaluation sweep on the local cores
    (:func:`compass_nav.sweep.run_cells`, one cell per policy x body x family, stored in
    ``out/sweep/cells/``): an evaluation interrupted half-way keeps its finished cells. A
    row pools its families' episodes as one ``evaluate`` call over all of them would.

    Returns:
        ``{"rows": [...], "table": markdown}``; a row per body: its kind (``train`` or
        ``heldout``) and, for each policy that ran on it, SR with 95% CI, collision rate and
        mean travel time of successful episodes.
    """
    from compass_nav.plugins import register_all
    from compass_nav.sweep import Cell, run_cells

    register_all()  # the sweep's workers load the policies by spec
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)

    digests: dict[Path, str] = {}  # each file is hashed once, not once per body
    stage_fps = fingerprints or {}
    rows: list[dict[str, Any]] = []
    todo: list[tuple[dict[str, Any], str, str, Path, str, str, list[Cell]]] = []

    def plan(row: dict[str, Any], tag: str, body: str, source: Path, stage: str) -> None:
        path = out / f"{tag}_{body}.json"
        if source not in digests:
            digests[source] = file_sha256(source)
        digest = digests[source]
        ecfg = cfg.eval_config(body)
        key = _digest(
            {
                "eval": config_to_dict(ecfg),
                "source_sha256": digest,
                "stage": stage_fps.get(stage),
            }
        )
        if path.is_file():
            cached = json.loads(path.read_text())
            if cached.get("fingerprint") == key:
                row[tag] = cached
                return
            _log(
                f"  {path.name}: {source} or the evaluation settings changed since it was "
                "evaluated; evaluating again"
            )
        ep = ecfg.episode
        cells = [
            Cell(
                policy=tag,
                load=str(source.resolve()),
                policy_key=f"sha256:{digest}",
                body=body,
                body_spec=get_embodiment(body).to_dict(),
                family=family,
                route_mode=ep.route_mode,
                seed=ecfg.seed,
                episodes=ecfg.episodes,
                split=ep.split,
                image_height=ep.image_height,
                image_width=ep.image_width,
                max_steps=ep.max_episode_steps,
            )
            for family in ep.families
        ]
        todo.append((row, tag, body, source, digest, key, cells))

    for body in (*cfg.bodies, *cfg.heldout):
        row: dict[str, Any] = {
            "embodiment": body,
            "kind": "train" if body in cfg.bodies else "heldout",
        }
        plan(row, "il", body, resolve_checkpoint(il_run), "il")
        if body in specialists:
            plan(row, "specialist", body, resolve_artifact(specialists[body]), f"rl_{body}")
        if generalist is not None:
            plan(row, "generalist", body, resolve_artifact(generalist), "generalist")
        rows.append(row)

    if todo:
        done = run_cells(
            [c for *_, cells in todo for c in cells],
            out / "sweep",
            engine="local",
            log=_log if progress else (lambda _msg: None),
        )
        by_id = {r["cell_id"]: r for r in done.results}
        for row, tag, body, source, digest, key, cells in todo:
            ecfg = cfg.eval_config(body)
            records = [rec for c in cells for rec in by_id[c.cell_id]["records"]]
            cell = compute_metrics(ecfg, records)["embodiments"][0]
            res = {
                k: cell[k]
                for k in ("n", "sr", "sr_ci", "collision_rate", "travel_time", "wtt", "spl")
            }
            res["wall_s"] = round(sum(done.wall.get(c.cell_id, 0.0) for c in cells), 1)
            res["source"], res["source_sha256"], res["fingerprint"] = str(source), digest, key
            atomic_write_json(out / f"{tag}_{body}.json", res)
            row[tag] = json.loads((out / f"{tag}_{body}.json").read_text())  # as cached

    # Columns in a fixed order, whichever of them came from the cache.
    order = ("embodiment", "kind", "il", "specialist", "generalist")
    rows = [{k: r[k] for k in order if k in r} for r in rows]
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
