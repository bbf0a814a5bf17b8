"""Closed-loop evaluation: run a policy in the embedded simulator on every embodiment x family.

Wiring: :func:`evaluate` is the Python API (the CLI in :mod:`compass_nav.evaluation.cli`, the
IL trainer and later stages call it); it builds one :class:`~compass_nav.sim.env.NavVectorEnv`
whose slots cover every cell evenly (slot ``e`` drives family ``e % F`` and embodiment
``(e // F) % E``), runs ``policy.act`` on it with the episode runner
(:class:`compass_nav.episodes.EpisodeRunner`, quota :class:`compass_nav.episodes.CellQueue`),
and turns the finished episodes into :class:`EvalResult` (metrics from
:mod:`compass_nav.evaluation.metrics`, files from :mod:`compass_nav.evaluation.report`,
GIFs from :mod:`compass_nav.evaluation.failure_clips`).

Episode identity. Episode ``i`` of cell (embodiment, family) is reset from the generator
seeded ``[seed, crc32(embodiment), crc32(family), i]``, whichever slot runs it. A cell's
episodes are handed to its slots from a queue as slots free up; slots with nothing left keep
stepping and their episodes are ignored. So the episode set and its count are exact and
deterministic, and the same start/goal/scene set is used by every policy, route mode, env
count and worker split: results of two policies are paired episode by episode. (Sensor noise
is hashed from the slot's step counter, so a learned policy may see different noise pixels
under another ``num_envs``.)
"""

from __future__ import annotations

import dataclasses
import os
import time
import zlib
from typing import Any

import numpy as np

from compass_nav.contract.policy import install_registry, registry_snapshot
from compass_nav.episodes import CellQueue, Episode, EpisodeHook, EpisodeRunner
from compass_nav.evaluation.config import EvalConfig
from compass_nav.evaluation.failure_clips import FailureClip, FailureRecorder, merge_clips
from compass_nav.policies import Policy, make_policy
from compass_nav.utils.errors import CompassNavError, ConfigError

#: Fields of one per-episode record, in ``results.json`` order.
RECORD_FIELDS = (
    "embodiment",
    "family",
    "cell",
    "episode",
    "scene_seed",
    "success",
    "collision",
    "timeout",
    "steps",
    "time",
    "spl",
    "path_length",
    "ref_length",
    "final_distance",
    "return",
    "line_blocked",
)


def episode_key(seed: int, embodiment: str, family: str, index: int) -> list[int]:
    """Seed of episode ``index`` of a cell: stable across runs, layouts and processes.

    The body enters by :func:`~compass_nav.contract.body.body_key`: its name, or for a body
    given as a YAML file its content hash (the same file anywhere gets the same episodes).
    """
    from compass_nav.contract.body import body_key

    return [
        int(seed),
        zlib.crc32(body_key(embodiment).encode()),
        zlib.crc32(family.encode()),
        int(index),
    ]


@dataclasses.dataclass
class EvalResult:
    """Everything one evaluation produced.

    Attributes:
        config: The evaluation settings.
        policy: The policy spec (or the policy object's ``name``).
        records: One dict per episode (:data:`RECORD_FIELDS`), sorted by cell then episode.
        metrics: ``{"cells": [...], "embodiments": [...], "overall": {...}}``; each entry
            holds ``embodiment``, ``family`` (``"all"`` when pooled), the metrics of
            :func:`compass_nav.evaluation.metrics.summarize` and the blocked / clear strata
            of :func:`compass_nav.evaluation.metrics.line_strata`.
        clips: The worst failures (at most ``config.gifs``), worst first.
        wall_time: Seconds spent rolling out.
        env_steps: Env steps simulated (all slots, including idle ones).
    """

    config: EvalConfig
    policy: str
    records: list[dict[str, Any]]
    metrics: dict[str, Any]
    clips: list[FailureClip] = dataclasses.field(default_factory=list)
    wall_time: float = 0.0
    env_steps: int = 0

    def cell(self, embodiment: str, family: str = "all") -> dict[str, Any]:
        """Metrics of one cell, or of an embodiment pooled over families (``"all"``)."""
        group = self.metrics["cells"] if family != "all" else self.metrics["embodiments"]
        for m in group:
            if m["embodiment"] == embodiment and m["family"] == family:
                return m
        raise KeyError(f"no metrics for {embodiment}/{family}")

    def save(self, out_dir, *, plots: bool = True) -> dict[str, Any]:
        """Write results.json, results.csv, table.md, plots and failure GIFs into ``out_dir``.

        Returns:
            Mapping of artefact name to path (``gifs`` is a list).
        """
        from compass_nav.evaluation.report import write_outputs

        return write_outputs(self, out_dir, plots=plots)


def _rollout(
    policy: Policy,
    cfg: EvalConfig,
    embodiments: tuple[str, ...],
    families: tuple[str, ...],
    progress,
) -> tuple:
    """Run the episodes of ``embodiments`` x ``families`` in one env; see module doc."""
    from compass_nav.sim.env import NavVectorEnv

    F, E = len(families), len(embodiments)
    # Same slots per cell as the full config would give, whatever share this process runs.
    per_cell = cfg.resolved_num_envs() // len(cfg.cells)
    n_env = per_cell * E * F
    sim = cfg.episode.sim_config(n_env, embodiments, families=families)
    env = NavVectorEnv(sim)
    names = [(b, f) for b in embodiments for f in families]
    # Cell of each slot; cells are numbered globally (over all of cfg.embodiments).
    local = np.array([((e // F) % E) * F + e % F for e in range(n_env)])
    global_cell = np.array([cfg.cells.index(names[c]) for c in local])
    quota = CellQueue(local, cfg.episodes, lambda c, i: episode_key(cfg.seed, *names[c], i))
    recorder = FailureRecorder(
        n_env,
        cfg.episode.image_height,
        cfg.episode.image_width,
        env.max_step_limit,
        cfg.gifs,
        cfg.clip_memory_mb,
    )
    records: list[dict[str, Any]] = []

    def record(episode: Episode) -> dict[str, Any]:
        e = episode.slot
        c = local[e]
        return {
            "embodiment": names[c][0],
            "family": names[c][1],
            "cell": int(global_cell[e]),
            "episode": episode.index,
            "scene_seed": episode.scene_seed,
            "success": episode.success,
            "collision": episode.collision,
            "timeout": episode.timeout,
            "steps": episode.steps,
            "time": episode.time,
            "spl": episode.spl,
            "path_length": episode.path_length,
            "ref_length": episode.ref_length,
            "final_distance": episode.final_distance,
            "return": episode.episode_return,
            "line_blocked": episode.line_blocked,
            **episode.extras,  # the optional facts the simulator states (strata)
        }

    class Hook(EpisodeHook):
        def on_reset(self, runner, obs):
            priv = env.privileged()
            recorder.begin(np.arange(n_env), priv["goal"], priv["height"])
            recorder.push(obs, priv["pose"])

        def after_step(self, runner, obs, reward, terminated, truncated, info):
            priv = env.privileged()
            if runner.pending.any():  # reset by this step: a new episode starts
                recorder.begin(np.flatnonzero(runner.pending), priv["goal"], priv["height"])
            recorder.push(obs, priv["pose"])

        def on_episode(self, runner, episode):
            rec = record(episode)
            records.append(rec)
            recorder.finish(episode.slot, rec)
            progress(rec)

    policy.bind(env)
    runner = EpisodeRunner(env, policy.act, quota, [Hook()])
    runner.run()
    steps = runner.env_steps
    env.close()
    return records, recorder.clips, steps


def _worker(spec: str, cfg: EvalConfig, share: tuple, threads: int, queue, registry) -> None:
    """Worker-process entry: one share of the cells; records and result via ``queue``.

    ``registry`` is the parent's :func:`registry_snapshot`: a spawned process starts with
    only the scripted policies its imports register.
    """
    import sys

    import numba

    numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
    install_registry(registry)
    try:
        policy = make_policy(spec)
        if "torch" in sys.modules:  # a learned policy: keep its intra-op pool to our share
            sys.modules["torch"].set_num_threads(threads)
        result = _rollout(policy, cfg, *share, lambda rec: queue.put(("episode", rec)))
        queue.put(("done", result))
    except BaseException as exc:  # the parent re-raises it (user errors stay user errors)
        import pickle

        try:
            pickle.dumps(exc)
        except Exception:
            exc = RuntimeError(f"evaluation worker failed: {type(exc).__name__}: {exc}")
        queue.put(("error", exc))
        if not isinstance(exc, CompassNavError):
            raise  # a bug: keep the worker's traceback on stderr


def _pooled(cfg: EvalConfig, records: list[dict[str, Any]]) -> dict[str, Any]:
    from compass_nav.evaluation.metrics import line_strata, summarize
    from compass_nav.evaluation.strata import describe, stratify

    # Records stored before episodes carried the flag get no strata (and no made-up ones).
    flagged = all("line_blocked" in r for r in records)

    def group(rows: list[dict[str, Any]], emb: str, fam: str) -> dict[str, Any]:
        a = {
            k: np.array([r[k] for r in rows])
            for k in ("success", "collision", "timeout", "time", "spl")
        }
        seed = zlib.crc32(f"{cfg.seed}/{emb}/{fam}".encode())
        return {
            "embodiment": emb,
            "family": fam,
            **summarize(
                a["success"],
                a["collision"],
                a["timeout"],
                a["time"],
                a["spl"],
                n_boot=cfg.bootstrap,
                seed=seed,
            ),
            **(
                line_strata(a["success"], np.array([r["line_blocked"] for r in rows], bool))
                if flagged
                else {}
            ),
            **describe(rows),
            "strata": stratify(rows, n_boot=cfg.bootstrap, seed=seed + 11),
        }

    cells = [
        group([r for r in records if r["embodiment"] == b and r["family"] == f], b, f)
        for b, f in cfg.cells
    ]
    bodies = [
        group([r for r in records if r["embodiment"] == b], b, "all") for b in cfg.embodiments
    ]
    return {"cells": cells, "embodiments": bodies, "overall": group(records, "all", "all")}


def compute_metrics(cfg: EvalConfig, records: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-cell, per-embodiment (pooled over families) and overall metrics of ``records``.

    The blocked / clear strata (:func:`compass_nav.evaluation.metrics.line_strata`) are
    added when every record carries ``line_blocked``; every group also gets ``strata``
    (:func:`compass_nav.evaluation.strata.stratify`: full metrics per stratum of every fact
    the simulator stated) and the descriptors of :func:`compass_nav.evaluation.strata.describe`.
    """
    return _pooled(cfg, records)


def evaluate(
    policy: str | Policy, cfg: EvalConfig | None = None, *, progress: bool = True
) -> EvalResult:
    """Evaluate ``policy`` closed-loop on every embodiment x family cell of ``cfg``.

    Args:
        policy: Anything :func:`compass_nav.policies.make_policy` accepts (``"teacher"``,
            ``"goal_seeker"``, a checkpoint path...) or a :class:`Policy` instance.
        cfg: Settings; defaults to :class:`EvalConfig` ().
        progress: Show a progress bar (episodes done / total, running SR).

    Returns:
        The :class:`EvalResult` (call ``.save(out_dir)`` to write the reports).

    Raises:
        ConfigError: for bad settings, an unknown policy spec, or ``workers > 1`` with a
            policy object (workers rebuild the policy from its spec).
    """
    from compass_nav.utils.progress import progress_bar

    cfg = cfg or EvalConfig()
    workers = cfg.resolved_workers(policy_is_spec=isinstance(policy, str))
    if isinstance(policy, str):
        spec = policy
        pol = make_policy(spec) if workers == 1 else None
    elif isinstance(policy, Policy):
        spec = policy.name
        pol = policy
        if workers > 1:
            raise ConfigError(
                f"workers={cfg.workers}: worker processes need a policy spec "
                "string, not a Policy object"
            )
    else:
        raise ConfigError(f"policy={policy!r}: expected a spec string or a Policy")

    total = len(cfg.cells) * cfg.episodes
    import sys

    bar = progress_bar(
        total,
        f"evaluate {spec}",
        "ep",
        progress,
        mininterval=0.1 if sys.stderr.isatty() else 5.0,
    )
    tally = {"done": 0, "success": 0, "collision": 0}

    def tick(rec: dict[str, Any]) -> None:
        tally["done"] += 1
        tally["success"] += rec["success"]
        tally["collision"] += rec["collision"]
        bar.update(1)
        if tally["done"] % 10 == 0 or tally["done"] == total:
            bar.set_postfix(
                SR=f"{tally['success'] / tally['done']:.3f}",
                coll=f"{tally['collision'] / tally['done']:.3f}",
                refresh=False,
            )

    t0 = time.perf_counter()
    try:
        if workers == 1:
            records, clips, steps = _rollout(pol, cfg, cfg.embodiments, cfg.episode.families, tick)
        else:
            records, clips, steps = _run_workers(spec, cfg, workers, tick)
    finally:
        bar.close()
    wall = time.perf_counter() - t0
    records.sort(key=lambda r: (r["cell"], r["episode"]))
    return EvalResult(
        config=cfg,
        policy=spec,
        records=records,
        metrics=compute_metrics(cfg, records),
        clips=clips,
        wall_time=wall,
        env_steps=steps,
    )


def _run_workers(spec: str, cfg: EvalConfig, workers: int, tick) -> tuple:
    """Split the cells over ``workers`` spawned processes and merge their results."""
    import multiprocessing as mp
    import queue as queue_mod

    shares = cfg.shares(workers)
    threads = max(1, (os.cpu_count() or 1) // workers)
    ctx = mp.get_context("spawn")  # no fork: numba's thread pools do not survive it
    q = ctx.Queue()
    procs = [
        ctx.Process(
            target=_worker, args=(spec, cfg, s, threads, q, registry_snapshot()), daemon=True
        )
        for s in shares
    ]
    for p in procs:
        p.start()
    parts = []
    try:
        while len(parts) < len(procs):
            try:
                kind, payload = q.get(timeout=1.0)
            except queue_mod.Empty:
                if any(p.exitcode not in (None, 0) for p in procs):
                    raise RuntimeError(
                        f"an evaluation worker died (exit codes {[p.exitcode for p in procs]})"
                    ) from None
                continue
            if kind == "episode":
                tick(payload)
            elif kind == "done":
                parts.append(payload)
            else:
                raise payload
    finally:
        for p in procs:
            if p.is_alive() and len(parts) < len(procs):
                p.terminate()
            p.join()
    records = [r for p in parts for r in p[0]]
    clips = merge_clips([p[1] for p in parts], cfg.gifs)
    return records, clips, sum(p[2] for p in parts)


__all__ = ["RECORD_FIELDS", "EvalResult", "compute_metrics", "episode_key", "evaluate"]
