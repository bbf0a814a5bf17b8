"""Recording episodes of any policy in the embedded simulator into a demonstrations dataset.

:func:`record_episodes` drives a batched :class:`~compass_nav.sim.env.NavVectorEnv` with a
policy from :func:`compass_nav.policies.make_policy` -- the planner teacher by default -- and
writes each episode the moment it ends (:func:`compass_nav.data.format.write_episode`, in a
background thread so compression overlaps stepping). With ``workers > 1`` the env slots are
split over spawned processes with one numba thread each (:func:`_worker_main`), which share
a file-index counter; on the shared 2-core machine that beats one process whose numba
kernels synchronise two threads every call (see docs/DATASET.md). The teacher CLI
(``compass-nav teacher demos``) calls it; later stages call it with their own policies and an
``extra_fn`` to store per-step extras such as ``policy_state``.

Autoreset alignment (gymnasium ``NEXT_STEP``): step ``t`` of an episode stores the
observation the action was computed from and the action that was executed on it; the
observation returned together with the episode's last step is stored as ``final_*``; the
next ``step`` call, whose action the env ignores while it resets that slot, stores nothing.

Resuming: finished episode files are kept; a new run with the same folder records only the
missing ones. Global env slot ``g`` of a run is seeded ``[seed, next_index, g]`` where
``next_index`` is one past the highest finished file, which only grows, so a resumed run
never replays the random stream of a run whose episodes were kept.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import os
import sys
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from compass_nav.contract.body import DESCRIPTOR_FIELDS, get_embodiment
from compass_nav.contract.policy import install_registry, registry_snapshot
from compass_nav.data import format as fmt
from compass_nav.data.routes import mapless_route
from compass_nav.data.summary import summarize_attrs
from compass_nav.episodes import EpisodeHook, EpisodeRunner, OpenQuota, check_names
from compass_nav.policies import Policy, make_policy
from compass_nav.sim.config import SimConfig
from compass_nav.utils.config import config_to_dict
from compass_nav.utils.errors import CompassNavError, ConfigError, DataError
from compass_nav.utils.progress import progress_bar

__all__ = ["ExtraFn", "RecordResult", "build_meta", "record_episodes"]

_log = logging.getLogger(__name__)

#: ``extra_fn(policy, obs, action) -> {name: (N, ...) array}``, called every step after the
#: policy acted, with the observation the action was computed from and the policy's raw
#: output (before clipping).
ExtraFn = Callable[[Policy, Mapping[str, np.ndarray], np.ndarray], Mapping[str, np.ndarray]]

# Sim-config fields that may change between resumed runs without changing the data.
_RESUMABLE_FIELDS = ("num_envs",)
_ONE_THREAD_ENV = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
_OBS_STEP_KEYS = ("rgb", "depth", "speed", "route", "goal")


@dataclasses.dataclass(frozen=True)
class RecordResult:
    """What one call of :func:`record_episodes` did.

    Attributes:
        out_dir: The dataset folder.
        requested: Episodes the dataset should hold at the end.
        existing: Finished episodes found at the start (kept).
        written: Episodes this call wrote.
        successes: Successful episodes among ``written``.
        recorded_steps: Steps stored in the written episodes.
        env_steps: Env-steps simulated (all slots, including discarded and reset steps).
        seconds: Wall time of the recording loop, s.
    """

    out_dir: Path
    requested: int
    existing: int
    written: int
    successes: int
    recorded_steps: int
    env_steps: int
    seconds: float

    @property
    def total(self) -> int:
        """Finished episodes in the dataset after this call."""
        return self.existing + self.written


def build_meta(
    cfg: SimConfig, policy_name: str, seed: int, only_success: bool, command: str
) -> dict[str, Any]:
    """The ``meta.json`` content for a new dataset (counts and runs are filled in later)."""
    return {
        "format": fmt.FORMAT_NAME,
        "version": fmt.FORMAT_VERSION,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": command,
        "policy": policy_name,
        "seed": seed,
        "only_success": only_success,
        "sim_config": config_to_dict(cfg),
        "embodiments": {n: get_embodiment(n).to_dict() for n in cfg.embodiments},
        "descriptor_fields": list(DESCRIPTOR_FIELDS),
        "image_size": [cfg.image_height, cfg.image_width],
        "render": {"rgb": cfg.render_rgb, "depth": cfg.render_depth},
        "route_mode": cfg.route_mode,
        "route_points": cfg.route_points,
        "route_spacing": cfg.route_spacing,
        "control_hz": cfg.control_hz,
        "counts": {},
        "runs": [],
    }


def _check_compatible(root: Path, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    """Raise DataError listing what differs between a dataset's meta and this run's."""
    diffs = []
    old_cfg = dict(old.get("sim_config", {}))
    new_cfg = dict(new["sim_config"])
    for key in sorted(set(old_cfg) | set(new_cfg)):
        if key in _RESUMABLE_FIELDS:
            continue
        if old_cfg.get(key) != new_cfg.get(key):
            diffs.append(
                f"sim_config.{key}: dataset has {old_cfg.get(key)!r}, "
                f"this run {new_cfg.get(key)!r}"
            )
    for key in ("policy", "only_success", "embodiments", "descriptor_fields"):
        if old.get(key) != new[key]:
            what = (
                "specs differ"
                if key == "embodiments"
                else (f"dataset has {old.get(key)!r}, this run {new[key]!r}")
            )
            diffs.append(f"{key}: {what}")
    if diffs:
        raise DataError(
            f"{root} holds demonstrations recorded with other settings; use another --out "
            "folder or the same settings to resume:\n  " + "\n  ".join(diffs)
        )


def _policy_name(policy: str | Policy) -> str:
    return policy if isinstance(policy, str) else getattr(policy, "name", type(policy).__name__)


class _EpisodeBuffer:
    """Per-step lists for one env slot."""

    def __init__(self) -> None:
        self.steps: dict[str, list[np.ndarray]] = {}
        self.start_pose: np.ndarray | None = None
        self.goal_pose: np.ndarray | None = None

    def append(self, key: str, value: np.ndarray) -> None:
        self.steps.setdefault(key, []).append(value)

    def __len__(self) -> int:
        return len(self.steps.get("action", ()))

    def stacked(self) -> dict[str, np.ndarray]:
        return {k: np.stack(v) for k, v in self.steps.items()}


def _prepare_folder(root: Path, meta: dict[str, Any]) -> dict[str, Any]:
    """Create or validate the dataset folder; return the meta to keep updating."""
    if (root / fmt.META_FILE).exists():
        old = fmt.read_meta(root)
        _check_compatible(root, old, meta)
        return old
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise DataError(
            f"{root} exists and is not a demonstrations dataset (no "
            f"{fmt.META_FILE}); choose an empty or new folder"
        )
    fmt.episodes_dir(root).mkdir(parents=True, exist_ok=True)
    fmt.write_meta(root, meta)
    return meta


def _counts(root: Path) -> dict[str, Any]:
    return summarize_attrs(fmt.read_episode_attrs(p) for _, p in fmt.list_episode_files(root))


@dataclasses.dataclass(frozen=True)
class _LoopArgs:
    """What one recording loop (in this process or a worker) needs; picklable."""

    policy: str | Policy
    policy_name: str
    root: Path
    sim_config: SimConfig
    seed: int
    first_index: int
    slot_offset: int  # global slot number of this loop's env slot 0
    extra_fn: ExtraFn | None
    only_success: bool
    compress: bool
    writer_threads: int


def _slot_config(cfg: SimConfig, offset: int, num_envs: int) -> SimConfig:
    """Config of a worker env whose slot e plays global slot ``offset + e``.

    Rotating the family order makes local slot e drive family ``families[(offset + e) % F]``,
    exactly as global slot ``offset + e`` of one big env would; the embodiment order is
    rotated by whole family blocks (exact when ``offset`` is a multiple of F).
    """
    F, E = len(cfg.families), len(cfg.embodiments)
    rf, re = offset % F, (offset // F) % E
    return dataclasses.replace(
        cfg,
        num_envs=num_envs,
        families=cfg.families[rf:] + cfg.families[:rf],
        embodiments=cfg.embodiments[re:] + cfg.embodiments[:re],
    )


def _record_loop(
    a: _LoopArgs,
    claim: Callable[[], int | None],
    report: Callable[[bool, int], None],
    should_stop: Callable[[], bool],
) -> int:
    """Step one env with the policy, writing each finished episode under a claimed index.

    Args:
        a: Settings of this loop.
        claim: Returns the file index for the next episode to write, or None once the
            dataset's quota is full (then the loop ends).
        report: Called with (success, length) after each episode is handed to the writer.
        should_stop: Polled every step; True ends the loop (quota full elsewhere, Ctrl-C).

    Returns:
        Env-steps simulated (all slots).
    """
    from compass_nav.sim.env import NavVectorEnv

    env = NavVectorEnv(a.sim_config)
    pol = make_policy(a.policy) if isinstance(a.policy, str) else a.policy
    pol.bind(env)
    n, cfg = env.num_envs, env.cfg
    low, high = env.action_space.low, env.action_space.high
    bufs = [_EpisodeBuffer() for _ in range(n)]
    writer = ThreadPoolExecutor(a.writer_threads) if a.writer_threads > 0 else None
    futures: list[Future] = []
    raw_action: list[np.ndarray] = []  # the policy's raw output of the current step

    def reap(wait: bool) -> None:
        for fut in [f for f in futures if wait or f.done()]:
            futures.remove(fut)
            fut.result()  # re-raises a failed write (disk full...)

    def act(obs, episode_start) -> np.ndarray:
        raw = np.asarray(pol.act(obs, episode_start))
        raw_action[:] = [raw]
        action = np.where(np.isfinite(raw), raw, 0.0)
        return np.clip(action, low, high).astype(np.float32)

    class Store(EpisodeHook):
        """Buffers every live step and writes each finished episode under a claimed index."""

        def before_step(self, runner, obs, action):
            raw = raw_action[0]
            extras = dict(a.extra_fn(pol, obs, raw)) if a.extra_fn is not None else {}
            clash = set(extras) & (set(fmt.STEP_KEYS) | set(fmt.EPISODE_ARRAY_KEYS))
            if clash:
                raise ConfigError(f"extra_fn returned reserved array names {sorted(clash)}")
            mapless = mapless_route(obs["goal"], cfg.route_points, cfg.route_spacing)
            pose = env.pose.astype(np.float32)
            for e in np.flatnonzero(runner.live):
                buf = bufs[e]
                if len(buf) == 0:
                    buf.start_pose = env.pose[e].copy()
                    buf.goal_pose = env.goal[e].copy()
                for key in _OBS_STEP_KEYS:
                    if key in obs:
                        value = obs[key][e]
                        buf.append(
                            key, value.astype(np.float16) if key == "depth" else value.copy()
                        )
                buf.append("route_mapless", mapless[e])
                buf.append("pose", pose[e])
                prev = buf.steps["action"][-1] if len(buf) else np.zeros(3, np.float32)
                buf.append("prev_action", prev)
                buf.append("action", action[e])
                for key, value in extras.items():
                    buf.append(key, np.array(value[e]))

        def after_step(self, runner, obs, reward, terminated, truncated, info):
            for e in np.flatnonzero(runner.live):
                bufs[e].append("reward", np.float32(reward[e]))
                bufs[e].append("terminated", np.bool_(terminated[e]))
                bufs[e].append("truncated", np.bool_(truncated[e]))
            self.obs = obs
            self.final_pose = env.pose.astype(np.float32)
            self.final_mapless = mapless_route(obs["goal"], cfg.route_points, cfg.route_spacing)
            reap(wait=False)

        def on_episode(self, runner, episode):
            e, obs = episode.slot, self.obs
            buf, bufs[e] = bufs[e], _EpisodeBuffer()
            if a.only_success and not episode.success:
                return False
            if episode.steps != len(buf):  # alignment invariant of NEXT_STEP autoreset
                raise RuntimeError(
                    f"slot {e}: env says {episode.steps} steps, recorder holds {len(buf)}"
                )
            index = claim()
            if index is None:
                return True  # the dataset's quota is full
            finals = {
                f"final_{k}": (obs[k][e].astype(np.float16) if k == "depth" else obs[k][e].copy())
                for k in _OBS_STEP_KEYS
                if k in obs
            }
            finals["final_route_mapless"] = self.final_mapless[e]
            finals["final_pose"] = self.final_pose[e]
            finals["embodiment"] = obs["embodiment"][e].copy()
            attrs = {
                "index": index,
                "embodiment_name": episode.body,
                "family": episode.family,
                "scene_seed": episode.scene_seed,
                "policy": a.policy_name,
                "length": len(buf),
                "success": episode.success,
                "collision": episode.collision,
                "timeout": episode.timeout,
                "spl": episode.spl,
                "ref_length": episode.ref_length,
                "path_length": episode.path_length,
                "return": episode.episode_return,
                "env_slot": a.slot_offset + e,
                "seed_key": [a.seed, a.first_index, a.slot_offset + e],
                "start_pose": buf.start_pose,
                "goal_pose": buf.goal_pose,
            }
            args = (fmt.episode_path(a.root, index), buf.stacked(), finals, attrs, a.compress)
            if writer is None:
                fmt.write_episode(*args)
            else:
                futures.append(writer.submit(fmt.write_episode, *args))
            report(episode.success, len(buf))
            return False

    seeds = [[a.seed, a.first_index, a.slot_offset + e] for e in range(n)]
    runner = EpisodeRunner(env, act, OpenQuota(n, seeds), [Store()], should_stop=should_stop)
    try:
        runner.run()
    finally:
        # Episodes handed to the writer are finished: write them out even on Ctrl-C.
        if writer is not None:
            try:
                reap(wait=True)
            finally:
                writer.shutdown(wait=True)
        env.close()
    return runner.env_steps


def _die_with_parent(parent: int) -> None:
    """End this process when ``parent`` dies, even by ``kill -9`` (which runs no cleanup).

    Linux delivers SIGKILL on the parent's death (``PR_SET_PDEATHSIG``); elsewhere a daemon
    thread polls the parent's pid. Either way a worker never records on for a dead parent.
    """
    import signal
    import threading

    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        armed = libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0) == 0
    except (OSError, AttributeError):
        armed = False
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)
    if armed:
        return

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def _worker_main(a: _LoopArgs, counter, needed: int, stop, events, parent: int, registry) -> None:
    """Entry point of a recorder worker process (spawned): one env, one numba thread.

    ``registry`` is the parent's policy :func:`registry_snapshot`, installed first.

    Index claims go through the shared ``counter`` (under its lock); progress and the final
    env-step count go back through ``events``; the parent sets ``stop`` on Ctrl-C (workers
    ignore SIGINT themselves so that they finish the current step and flush their writes).
    A worker dies with its parent process ``parent`` (:func:`_die_with_parent`).
    """
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent(parent)
    install_registry(registry)
    import numba

    numba.set_num_threads(1)  # two processes x one thread beat one x two on 2 cores
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass

    def claim() -> int | None:
        with counter.get_lock():
            if counter.value - a.first_index >= needed:
                return None
            counter.value += 1
            return counter.value - 1

    def should_stop() -> bool:
        return stop.is_set() or counter.value - a.first_index >= needed

    try:
        steps = _record_loop(
            a, claim, lambda ok, length: events.put(("ep", ok, length)), should_stop
        )
        events.put(("done", steps, None))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which re-raises
        import traceback

        events.put(
            ("error", exc if isinstance(exc, CompassNavError) else None, traceback.format_exc())
        )


def _split(num_envs: int, workers: int) -> list[tuple[int, int]]:
    """(slot offset, slots) per worker, as even as possible."""
    sizes = [num_envs // workers + (w < num_envs % workers) for w in range(workers)]
    offsets = [sum(sizes[:w]) for w in range(workers)]
    return list(zip(offsets, sizes, strict=True))


def _pair_counts(cfg: SimConfig, parts: list[tuple[int, int]]) -> dict[tuple[str, str], int]:
    counts: dict[tuple[str, str], int] = {(f, b): 0 for f in cfg.families for b in cfg.embodiments}
    for offset, size in parts:
        c = _slot_config(cfg, offset, size)
        F, E = len(c.families), len(c.embodiments)
        for e in range(size):
            counts[(c.families[e % F], c.embodiments[(e // F) % E])] += 1
    return counts


def record_episodes(
    policy: str | Policy,
    out_dir: str | Path,
    sim_config: SimConfig,
    num_episodes: int,
    seed: int = 0,
    extra_fn: ExtraFn | None = None,
    only_success: bool = False,
    compress: bool = True,
    writer_threads: int = 1,
    workers: int = 1,
    progress: bool = True,
    command: str | None = None,
) -> RecordResult:
    """Record finished episodes of ``policy`` until ``out_dir`` holds ``num_episodes``.

    Args:
        policy: A spec for :func:`compass_nav.policies.make_policy` (``"teacher"``, a
            checkpoint path...) or a :class:`Policy`; it is bound to the recorder's env.
        out_dir: Dataset folder; created if new, resumed if it holds a dataset recorded with
            the same settings (``num_envs`` may differ).
        sim_config: Simulator settings (embodiments, families, split, image size, route mode).
            Its ``num_envs`` slots are shared among the workers.
        num_episodes: Finished episodes the dataset should hold at the end.
        seed: Base seed; global env slot ``g`` of the run is seeded ``[seed, next_index, g]``.
        extra_fn: Optional per-step extras (see :data:`ExtraFn`); each returned array has the
            batch axis first and is stored per step under its name.
        only_success: Drop (do not write) episodes that did not succeed.
        compress: Deflate episode files (about half the size of raw, see docs/DATASET.md).
        writer_threads: Threads compressing and writing episodes, per process (0: inline).
        workers: Processes, each with its own env of about ``num_envs / workers`` slots and
            one numba thread. 1 records in this process and is fully deterministic; with more,
            the slots' episodes are the same but which ones finish within the quota, and their
            file numbers, depend on timing. ``policy`` and ``extra_fn`` must then be picklable.
        progress: Show a progress bar.
        command: Command line stored in ``meta.json`` (default: this process's argv).

    Returns:
        A :class:`RecordResult`. On Ctrl-C the episodes already finished are written out
        before ``KeyboardInterrupt`` propagates; unfinished ones are lost and re-recorded by
        the next run.

    Raises:
        ConfigError: For a bad ``num_episodes``/``seed``/``writer_threads``/``workers``, or an
            unknown scene family, body or policy spec (checked before anything is written).
        DataError: When ``out_dir`` holds something else or a dataset with other settings.
    """
    if num_episodes < 1:
        raise ConfigError(f"num_episodes={num_episodes!r}: must be >= 1")
    if seed < 0:
        raise ConfigError(f"seed={seed!r}: must be >= 0")
    if writer_threads < 0:
        raise ConfigError(f"writer_threads={writer_threads!r}: must be >= 0")
    if not 1 <= workers <= sim_config.num_envs:
        raise ConfigError(
            f"workers={workers!r}: must be within [1, num_envs={sim_config.num_envs}]"
        )
    check_names(  # before the folder and its meta.json are written
        [policy] if isinstance(policy, str) else [], sim_config.families, sim_config.embodiments
    )
    built = make_policy(policy) if isinstance(policy, str) else policy
    root = Path(out_dir)
    name = _policy_name(policy)
    command = command if command is not None else " ".join(sys.argv)
    meta = _prepare_folder(root, build_meta(sim_config, name, seed, only_success, command))
    for tmp in fmt.list_temp_files(root):
        tmp.unlink(missing_ok=True)  # a write that a kill interrupted
    finished = fmt.list_episode_files(root)
    existing = len(finished)
    first_index = finished[-1][0] + 1 if finished else 0
    if existing >= num_episodes:
        # Nothing to record; a run killed before its end left no counts, so refresh them.
        meta["counts"] = _counts(root)
        fmt.write_meta(root, meta)
        return RecordResult(root, num_episodes, existing, 0, 0, 0, 0, 0.0)
    needed = num_episodes - existing
    parts = _split(sim_config.num_envs, workers)
    counts = _pair_counts(sim_config, parts)
    if len(set(counts.values())) > 1:
        _log.warning(
            "env slots per (family, embodiment) are uneven, so are the episodes: %s "
            "(give each worker a multiple of families x embodiments = %d slots)",
            ", ".join(f"{f}/{b}={k}" for (f, b), k in counts.items()),
            len(counts),
        )
    args = [
        _LoopArgs(
            built if workers == 1 else policy,
            name,
            root,
            _slot_config(sim_config, off, size),
            seed,
            first_index,
            off,
            extra_fn,
            only_success,
            compress,
            writer_threads,
        )
        for off, size in parts
    ]
    bar = progress_bar(num_episodes, "demos", "ep", progress, initial=existing)
    stats = {"written": 0, "successes": 0, "recorded": 0, "env_steps": 0}
    t0 = time.perf_counter()
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")

    def report(ok: bool, length: int) -> None:
        stats["written"] += 1
        stats["successes"] += ok
        stats["recorded"] += length
        bar.update(1)
        bar.set_postfix(sr=f"{stats['successes'] / stats['written']:.3f}")

    try:
        if workers == 1:

            def claim() -> int | None:
                if stats["written"] >= needed:
                    return None
                return first_index + stats["written"]

            stats["env_steps"] = _record_loop(
                args[0], claim, report, lambda: stats["written"] >= needed
            )
        else:
            stats["env_steps"] = _run_workers(args, first_index, needed, report)
    finally:
        bar.close()
        meta["counts"] = _counts(root)
        meta.setdefault("runs", []).append(
            {
                "started": started,
                "command": command,
                "seed": seed,
                "first_index": first_index,
                "num_envs": sim_config.num_envs,
                "workers": workers,
                "written": stats["written"],
                "seconds": round(time.perf_counter() - t0, 3),
            }
        )
        fmt.write_meta(root, meta)
    return RecordResult(
        root,
        num_episodes,
        existing,
        stats["written"],
        stats["successes"],
        stats["recorded"],
        stats["env_steps"],
        time.perf_counter() - t0,
    )


def _run_workers(
    args: list[_LoopArgs], first_index: int, needed: int, report: Callable[[bool, int], None]
) -> int:
    """Run one spawned worker per entry of ``args``; return the total env-steps."""
    import multiprocessing as mp
    import queue

    ctx = mp.get_context("spawn")  # no fork: the parent may hold torch/numba thread pools
    counter = ctx.Value("q", first_index)
    stop = ctx.Event()
    events = ctx.Queue()
    procs = [
        ctx.Process(
            target=_worker_main,
            args=(a, counter, needed, stop, events, os.getpid(), registry_snapshot()),
            daemon=True,
        )
        for a in args
    ]
    state = {"env_steps": 0, "running": len(procs), "failure": None}

    def handle(kind: str, x: Any, y: Any) -> None:
        if kind == "ep":
            report(x, y)
            return
        state["running"] -= 1
        if kind == "done":
            state["env_steps"] += x
        else:
            stop.set()
            state["failure"] = (
                state["failure"] or x or RuntimeError(f"recorder worker failed:\n{y}")
            )

    def pump(timeout: float) -> bool:
        try:
            handle(*events.get(timeout=timeout))
            return True
        except queue.Empty:
            return False

    # One numba/OpenMP thread per worker, fixed before numba loads in the child: a pool that
    # set_num_threads(1) merely caps still costs time on a busy 2-core machine.
    saved = {k: os.environ.get(k) for k in _ONE_THREAD_ENV}
    os.environ.update(_ONE_THREAD_ENV)
    try:
        for p in procs:
            p.start()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    try:
        while state["running"]:
            if not pump(1.0) and not any(p.is_alive() for p in procs):
                codes = [p.exitcode for p in procs]
                state["failure"] = state["failure"] or RuntimeError(
                    f"recorder workers exited without a report (exit codes {codes}); a "
                    "script calling record_episodes(workers>1) must guard its top level "
                    "with `if __name__ == '__main__':`"
                )
                break
    finally:
        # On Ctrl-C or an error: workers finish their step and flush finished episodes.
        # Keep reading their reports meanwhile: a process with unread queue data cannot exit.
        stop.set()
        deadline = time.monotonic() + 120
        while any(p.is_alive() for p in procs) and time.monotonic() < deadline:
            pump(0.2)
        while pump(0.0):
            pass
        for p in procs:
            if p.is_alive():
                p.terminate()
            p.join()
    if state["failure"] is not None:
        raise state["failure"]
    return state["env_steps"]
