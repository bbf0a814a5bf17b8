"""Run a sweep's cells on Ray (local instance or a cluster) or a local process pool.

:func:`run_cells` is the one entry point (``compass-nav sweep run`` and the pipeline's
evaluation call it). It reads ``OUT/cells/<cell_id>.json`` for every cell, keeps those whose
stored fingerprint equals the cell's (:meth:`compass_nav.sweep.spec.Cell.fingerprint`) and
hands the rest to an engine, one task per cell (:func:`run_cell`: one single-threaded
simulator, so a task is one core). Each finished cell is written atomically by the driver
as soon as it arrives, so a killed sweep loses only the cells in flight; wall times go to
``OUT/timing.jsonl`` and never into the cell files.

Engines:

* ``ray``: a local Ray instance (``num_cpus`` = the cores, no dashboard, no usage stats,
  bound to 127.0.0.1) or, with ``address``, an existing cluster; tasks ask for one CPU.
* ``local``: a ``spawn`` process pool, one worker per core (``workers``).
* ``auto``: ``ray`` when it is installed, else ``local``.

Workers receive the parent's policy registry (:func:`compass_nav.contract.policy.
registry_snapshot`), as the evaluation harness's own workers do.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from compass_nav.sweep.spec import Cell, code_version
from compass_nav.utils.atomic import atomic_write_json
from compass_nav.utils.errors import ConfigError

__all__ = ["ENGINES", "SweepOutcome", "load_cell", "resolve_engine", "run_cell", "run_cells"]

ENGINES = ("auto", "ray", "local")
CELLS = "cells"
TIMING = "timing.jsonl"


@dataclasses.dataclass
class SweepOutcome:
    """What :func:`run_cells` did.

    Attributes:
        results: The stored record of every cell, in the order of the cells given.
        computed: Ids of the cells evaluated by this call.
        reused: Ids of the cells whose stored result was kept.
        engine: The engine that ran (``ray``, ``local``, or ``none`` when all were reused).
        wall_s: Seconds this call took.
        wall: Rollout seconds of each computed cell, by id.
    """

    results: list[dict[str, Any]]
    computed: list[str]
    reused: list[str]
    engine: str
    wall_s: float
    wall: dict[str, float] = dataclasses.field(default_factory=dict)


def _limit_threads() -> None:
    """One compute thread: a task is one core (numba's kernels, torch's intra-op pool)."""
    import sys

    import numba

    numba.set_num_threads(1)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)


def run_cell(cell: Cell, registry=None) -> dict[str, Any]:
    """Evaluate one cell in this process; returns its metrics and episode records.

    Args:
        cell: The cell.
        registry: A :func:`~compass_nav.contract.policy.registry_snapshot` to install first
            (a fresh worker process knows only the scripted policies its imports register).
    """
    from compass_nav.contract.policy import install_registry
    from compass_nav.evaluation import evaluate

    if registry is not None:
        install_registry(registry)
    _limit_threads()
    cell.register_body()
    res = evaluate(cell.load, cell.eval_config(), progress=False)
    _limit_threads()  # a learned policy imported torch while loading
    return {
        "metrics": res.cell(cell.body, cell.family),
        "records": res.records,
        "wall_s": res.wall_time,
    }


def _init_local_worker(registry) -> None:
    from compass_nav.contract.policy import install_registry

    install_registry(registry)
    _limit_threads()


def load_cell(path: Path, fingerprint: str) -> dict[str, Any] | None:
    """The stored record at ``path`` if its fingerprint is ``fingerprint``, else None."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None  # missing, or not a finished write: evaluate again
    if not isinstance(data, dict) or data.get("fingerprint") != fingerprint:
        return None
    return data


def _record(cell: Cell, fingerprint: str, result: dict[str, Any]) -> dict[str, Any]:
    cfg = dataclasses.asdict(cell)
    del cfg["load"]
    return {
        "cell_id": cell.cell_id,
        "fingerprint": fingerprint,
        "code_version": code_version(),
        "cell": cfg,
        "metrics": result["metrics"],
        "records": result["records"],
    }


def resolve_engine(engine: str, address: str | None) -> str:
    """The engine that will run: ``ray`` or ``local`` (``auto`` resolved).

    Raises:
        ConfigError: Unknown engine, ``address`` without Ray, or Ray asked for but missing.
    """
    if engine not in ENGINES:
        raise ConfigError(f"engine={engine!r}: unknown; choose one of {', '.join(ENGINES)}")
    if engine == "local":
        if address:
            raise ConfigError(f"address={address!r}: only the ray engine joins a cluster")
        return "local"
    try:
        import ray  # noqa: F401
    except ImportError:
        if engine == "ray" or address:
            raise ConfigError(
                "engine=ray: the 'ray' package is not installed "
                "(pip install -r requirements/base.txt), or use --engine local"
            ) from None
        return "local"
    return "ray"


def run_cells(
    cells: Sequence[Cell],
    out: str | Path,
    *,
    engine: str = "auto",
    address: str | None = None,
    workers: int = 0,
    log: Callable[[str], None] = print,
) -> SweepOutcome:
    """Evaluate the cells not stored under ``out/cells`` with a matching fingerprint.

    Args:
        cells: The cells (:func:`compass_nav.sweep.spec.expand`).
        out: Results folder.
        engine: ``auto``, ``ray`` or ``local`` (see the module doc).
        address: A Ray cluster to join (``auto`` or ``host:port``); None starts a local one.
        workers: Parallel tasks on this machine (0 = one per core); with ``address`` the
            cluster's CPUs decide.
        log: Where one line per finished cell goes.

    Returns:
        The :class:`SweepOutcome`.

    Raises:
        ConfigError: Unknown engine, Ray asked for but not installed, or a cell's own user
            error (an unknown policy...).
    """
    t0 = time.perf_counter()
    out = Path(out)
    folder = out / CELLS
    folder.mkdir(parents=True, exist_ok=True)
    version = code_version()
    fps = [c.fingerprint(version) for c in cells]
    results: list[dict[str, Any] | None] = [
        load_cell(folder / f"{c.cell_id}.json", fp) for c, fp in zip(cells, fps, strict=True)
    ]
    reused = [c.cell_id for c, r in zip(cells, results, strict=True) if r is not None]
    pending = [i for i, r in enumerate(results) if r is None]
    computed: list[str] = []
    wall: dict[str, float] = {}
    used = "none"
    if pending:
        used = resolve_engine(engine, address)
        n = workers if workers > 0 else (os.cpu_count() or 1)
        log(
            f"sweep: {len(cells)} cells, {len(reused)} stored, {len(pending)} to evaluate "
            f"on {used}" + (f" ({address})" if address else f" ({n} at a time)")
        )

        def done(i: int, result: dict[str, Any]) -> None:
            cell = cells[i]
            rec = _record(cell, fps[i], result)
            path = folder / f"{cell.cell_id}.json"
            atomic_write_json(path, rec)
            # As stored (non-finite numbers are written as null): a resumed sweep reports
            # from the files, so this one does too.
            rec = json.loads(path.read_text())
            with open(out / TIMING, "a") as fh:
                fh.write(json.dumps({"cell_id": cell.cell_id, "wall_s": result["wall_s"]}) + "\n")
            results[i] = rec
            computed.append(cell.cell_id)
            wall[cell.cell_id] = result["wall_s"]
            m = rec["metrics"]
            log(
                f"  [{len(computed)}/{len(pending)}] {cell.cell_id}: sr={m['sr']:.3f} "
                f"n={m['n']} ({result['wall_s']:.1f}s)"
            )

        run = _run_ray if used == "ray" else _run_local
        run([cells[i] for i in pending], pending, done, address=address, workers=n)
    else:
        log(f"sweep: all {len(cells)} cells stored with matching fingerprints")
    return SweepOutcome(
        results=[r for r in results if r is not None],
        computed=computed,
        reused=reused,
        engine=used,
        wall_s=time.perf_counter() - t0,
        wall=wall,
    )


def _run_local(cells, index, done, *, address, workers) -> None:
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    from compass_nav.contract.policy import registry_snapshot

    ctx = mp.get_context("spawn")  # no fork: numba's thread pools do not survive it
    pool = ProcessPoolExecutor(
        max_workers=min(workers, len(cells)),
        mp_context=ctx,
        initializer=_init_local_worker,
        initargs=(registry_snapshot(),),
    )
    try:
        futures = {pool.submit(run_cell, c): i for c, i in zip(cells, index, strict=True)}
        while futures:
            finished, _ = wait(futures, return_when=FIRST_COMPLETED)
            for f in finished:
                done(futures.pop(f), f.result())
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _run_ray(cells, index, done, *, address, workers) -> None:
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import logging

    import ray

    from compass_nav.contract.policy import registry_snapshot

    quiet = {"log_to_driver": False, "logging_level": logging.ERROR}
    if address:
        try:
            ray.init(address=address, **quiet)
        except ConnectionError as exc:
            raise ConfigError(f"--address={address}: no Ray cluster there ({exc})") from None
    else:
        ray.init(
            num_cpus=workers,
            include_dashboard=False,
            _node_ip_address="127.0.0.1",
            **quiet,
        )
    try:
        task = ray.remote(num_cpus=1, max_retries=0)(run_cell)
        registry = ray.put(registry_snapshot())
        refs = {task.remote(c, registry): i for c, i in zip(cells, index, strict=True)}
        while refs:
            finished, _ = ray.wait(list(refs), num_returns=1)
            for r in finished:
                done(refs.pop(r), ray.get(r))
    finally:
        ray.shutdown()
