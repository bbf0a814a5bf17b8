"""Recording episodes of any policy in the embedded simulator into a demonstrations dataset.

:func:`record_episodes` drives one batched :class:`~compass_nav.sim.env.NavVectorEnv` (its
numba kernels already use both cores; a background thread compresses and writes finished
episodes while the simulator steps) with a policy from
:func:`compass_nav.policies.make_policy` -- the planner teacher by default -- and writes each
episode the moment it ends (:func:`compass_nav.data.format.write_episode`). The teacher CLI
(``compass-nav teacher demos``) calls it; later stages call it with their own policies and an
``extra_fn`` to store per-step extras such as ``policy_state``.

Autoreset alignment (gymnasium ``NEXT_STEP``): step ``t`` of an episode stores the
observation the action was computed from and the action that was executed on it; the
observation returned together with the episode's last step is stored as ``final_*``; the
next ``step`` call, whose action the env ignores while it resets that slot, stores nothing.

Resuming: finished episode files are kept; a new run with the same folder records only the
missing ones. Env slot ``e`` of a run is seeded ``[seed, next_index, e]`` where
``next_index`` is one past the highest finished file, which only grows, so a resumed run
never replays the random stream of a run whose episodes were kept.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import sys
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from compass_nav.data import format as fmt
from compass_nav.data.routes import mapless_route
from compass_nav.data.summary import summarize_attrs
from compass_nav.policies import Policy, make_policy
from compass_nav.sim.config import SimConfig
from compass_nav.sim.embodiment import DESCRIPTOR_FIELDS, get_embodiment
from compass_nav.utils.config import config_to_dict
from compass_nav.utils.errors import ConfigError, DataError

__all__ = ["ExtraFn", "RecordResult", "build_meta", "record_episodes"]

_log = logging.getLogger(__name__)

#: ``extra_fn(policy, obs, action) -> {name: (N, ...) array}``, called every step after the
#: policy acted, with the observation the action was computed from and the policy's raw
#: output (before clipping).
ExtraFn = Callable[[Policy, Mapping[str, np.ndarray], np.ndarray], Mapping[str, np.ndarray]]

# Sim-config fields that may change between resumed runs without changing the data.
_RESUMABLE_FIELDS = ("num_envs",)
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


def build_meta(cfg: SimConfig, policy_name: str, seed: int, only_success: bool,
               command: str) -> dict[str, Any]:
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
            diffs.append(f"sim_config.{key}: dataset has {old_cfg.get(key)!r}, "
                         f"this run {new_cfg.get(key)!r}")
    for key in ("policy", "only_success", "embodiments", "descriptor_fields"):
        if old.get(key) != new[key]:
            what = "specs differ" if key == "embodiments" else (
                f"dataset has {old.get(key)!r}, this run {new[key]!r}")
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
        raise DataError(f"{root} exists and is not a demonstrations dataset (no "
                        f"{fmt.META_FILE}); choose an empty or new folder")
    fmt.episodes_dir(root).mkdir(parents=True, exist_ok=True)
    fmt.write_meta(root, meta)
    return meta


def _counts(root: Path) -> dict[str, Any]:
    return summarize_attrs(fmt.read_episode_attrs(p) for _, p in fmt.list_episode_files(root))


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
        num_episodes: Finished episodes the dataset should hold at the end.
        seed: Base seed; the run's env seeds are ``[seed, next_index, slot]``.
        extra_fn: Optional per-step extras (see :data:`ExtraFn`); each returned array has the
            batch axis first and is stored per step under its name.
        only_success: Drop (do not write) episodes that did not succeed.
        compress: Deflate episode files (about half the size of raw, see docs/DATASET.md).
        writer_threads: Threads compressing and writing episodes (0 writes in the loop).
        progress: Show a progress bar.
        command: Command line stored in ``meta.json`` (default: this process's argv).

    Returns:
        A :class:`RecordResult`. On Ctrl-C the episodes already finished are written out
        before ``KeyboardInterrupt`` propagates; unfinished ones are lost and re-recorded by
        the next run.

    Raises:
        ConfigError: For a bad ``num_episodes``/``seed``/``writer_threads``.
        DataError: When ``out_dir`` holds something else or a dataset with other settings.
    """
    if num_episodes < 1:
        raise ConfigError(f"num_episodes={num_episodes!r}: must be >= 1")
    if seed < 0:
        raise ConfigError(f"seed={seed!r}: must be >= 0")
    if writer_threads < 0:
        raise ConfigError(f"writer_threads={writer_threads!r}: must be >= 0")
    root = Path(out_dir)
    name = _policy_name(policy)
    command = command if command is not None else " ".join(sys.argv)
    meta = _prepare_folder(root, build_meta(sim_config, name, seed, only_success, command))
    for tmp in fmt.list_temp_files(root):
        tmp.unlink(missing_ok=True)  # a write that a kill interrupted
    finished = fmt.list_episode_files(root)
    existing = len(finished)
    next_index = finished[-1][0] + 1 if finished else 0
    first_index = next_index
    if existing >= num_episodes:
        return RecordResult(root, num_episodes, existing, 0, 0, 0, 0, 0.0)

    from compass_nav.sim.env import NavVectorEnv

    pairs = len(sim_config.families) * len(sim_config.embodiments)
    if sim_config.num_envs % pairs:
        _log.warning("num_envs=%d is not a multiple of families x embodiments (%d): some "
                     "pairs get more env slots, so more episodes", sim_config.num_envs, pairs)
    env = NavVectorEnv(sim_config)
    pol = make_policy(policy) if isinstance(policy, str) else policy
    pol.bind(env)
    n = env.num_envs
    cfg = env.cfg
    low, high = env.action_space.low, env.action_space.high
    bufs = [_EpisodeBuffer() for _ in range(n)]
    pending = np.zeros(n, bool)  # slot's current obs is the final obs of an ended episode
    writer = ThreadPoolExecutor(writer_threads) if writer_threads > 0 else None
    futures: list[Future] = []
    written = successes = recorded = env_steps = 0
    bar = tqdm(total=num_episodes, initial=existing, unit="ep", desc="demos",
               disable=not progress, dynamic_ncols=True)
    t0 = time.perf_counter()
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")

    def reap(wait: bool) -> None:
        for fut in [f for f in futures if wait or f.done()]:
            futures.remove(fut)
            fut.result()  # re-raises a failed write (disk full...)

    try:
        obs, _ = env.reset(seed=[[seed, next_index, e] for e in range(n)])
        episode_start = np.ones(n, bool)
        while existing + written < num_episodes:
            raw = np.asarray(pol.act(obs, episode_start))
            action = np.where(np.isfinite(raw), raw, 0.0)
            action = np.clip(action, low, high).astype(np.float32)
            extras = dict(extra_fn(pol, obs, raw)) if extra_fn is not None else {}
            clash = set(extras) & (set(fmt.STEP_KEYS) | set(fmt.EPISODE_ARRAY_KEYS))
            if clash:
                raise ConfigError(f"extra_fn returned reserved array names {sorted(clash)}")
            mapless = mapless_route(obs["goal"], cfg.route_points, cfg.route_spacing)
            pose = env.pose.astype(np.float32)
            for e in np.flatnonzero(~pending):
                buf = bufs[e]
                if len(buf) == 0:
                    buf.start_pose = env.pose[e].copy()
                    buf.goal_pose = env.goal[e].copy()
                for key in _OBS_STEP_KEYS:
                    if key in obs:
                        value = obs[key][e]
                        buf.append(key, value.astype(np.float16) if key == "depth"
                                   else value.copy())
                buf.append("route_mapless", mapless[e])
                buf.append("pose", pose[e])
                prev = buf.steps["action"][-1] if len(buf) else np.zeros(3, np.float32)
                buf.append("prev_action", prev)
                buf.append("action", action[e])
                for key, value in extras.items():
                    buf.append(key, np.array(value[e]))
            obs, reward, terminated, truncated, info = env.step(action)
            env_steps += n
            was_pending = pending
            for e in np.flatnonzero(~was_pending):
                bufs[e].append("reward", np.float32(reward[e]))
                bufs[e].append("terminated", np.bool_(terminated[e]))
                bufs[e].append("truncated", np.bool_(truncated[e]))
            ended = info["_episode"] & ~was_pending
            final_pose = env.pose.astype(np.float32)
            final_mapless = mapless_route(obs["goal"], cfg.route_points, cfg.route_spacing)
            for e in np.flatnonzero(ended):
                if existing + written >= num_episodes:
                    break
                buf, bufs[e] = bufs[e], _EpisodeBuffer()
                ok = bool(info["success"][e])
                if only_success and not ok:
                    continue
                ep = info["episode"]
                if int(ep["l"][e]) != len(buf):  # alignment invariant of NEXT_STEP autoreset
                    raise RuntimeError(f"slot {e}: env says {int(ep['l'][e])} steps, "
                                       f"recorder holds {len(buf)}")
                steps = buf.stacked()
                finals = {f"final_{k}": (obs[k][e].astype(np.float16) if k == "depth"
                                         else obs[k][e].copy())
                          for k in _OBS_STEP_KEYS if k in obs}
                finals["final_route_mapless"] = final_mapless[e]
                finals["final_pose"] = final_pose[e]
                finals["embodiment"] = obs["embodiment"][e].copy()
                attrs = {
                    "index": next_index,
                    "embodiment_name": env.env_bodies[e].name,
                    "family": str(info["family"][e]),
                    "scene_seed": int(info["scene_seed"][e]),
                    "policy": name,
                    "length": len(buf),
                    "success": ok,
                    "collision": bool(info["collision"][e]),
                    "timeout": bool(info["timeout"][e]),
                    "spl": float(ep["spl"][e]),
                    "ref_length": float(ep["ref_length"][e]),
                    "path_length": float(ep["path_length"][e]),
                    "return": float(ep["r"][e]),
                    "env_slot": int(e),
                    "seed_key": [seed, first_index, int(e)],
                    "start_pose": buf.start_pose,
                    "goal_pose": buf.goal_pose,
                }
                path = fmt.episode_path(root, next_index)
                args = (path, steps, finals, attrs, compress)
                if writer is None:
                    fmt.write_episode(*args)
                else:
                    futures.append(writer.submit(fmt.write_episode, *args))
                next_index += 1
                written += 1
                successes += ok
                recorded += len(buf)
                bar.update(1)
                elapsed = max(time.perf_counter() - t0, 1e-9)
                bar.set_postfix(sr=f"{successes / written:.3f}",
                                steps_s=f"{env_steps / elapsed:.0f}")
            reap(wait=False)
            episode_start = was_pending.copy()
            pending = ended.copy()
    finally:
        # Finished episodes are written out even on Ctrl-C or an error; then meta is updated.
        if writer is not None:
            try:
                reap(wait=True)
            finally:
                writer.shutdown(wait=True)
        bar.close()
        env.close()
        meta["counts"] = _counts(root)
        meta.setdefault("runs", []).append({
            "started": started,
            "command": command,
            "seed": seed,
            "first_index": first_index,
            "num_envs": n,
            "written": written,
            "seconds": round(time.perf_counter() - t0, 3),
        })
        fmt.write_meta(root, meta)
    return RecordResult(root, num_episodes, existing, written, successes, recorded, env_steps,
                        time.perf_counter() - t0)
