"""Simulator rollouts -> log dataset: only what a robot would have logged, outcomes labelled.

Any policy drives :class:`~compass_nav.sim.env.NavVectorEnv` through
:class:`~compass_nav.episodes.EpisodeRunner`; a hook keeps, per step, the camera frames, the
odometry (the simulator's world frame plays the odometry frame, as in the sim bridge), the
executed command, the goal, and the route the robot was given: the global plan at the
episode's start, computed exactly as the sim bridge publishes it on ``route``. The scene map,
cost-to-go fields, the planner's re-plans and the actuator model stay behind. Outcome labels
come from the simulator (``outcome_source`` says so). Wired in as ``compass-nav logs
import-sim`` (:mod:`compass_nav.logs.cli`).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import numpy as np

from compass_nav.contract.body import get_embodiment
from compass_nav.episodes import EpisodeHook, EpisodeRunner, SlotQuota, check_names
from compass_nav.logs.format import SPLITS, LogEpisode, LogWriter
from compass_nav.utils.errors import ConfigError
from compass_nav.utils.progress import progress_bar

__all__ = ["import_sim", "start_plan"]

_log = logging.getLogger(__name__)

#: Simulator splits a log may be labelled with.
_SIM_SPLITS = ("train", "validation", "heldout")


def start_plan(env, e: int) -> np.ndarray:
    """(M, 2) world-frame route of slot ``e`` now: robot -> global plan -> goal.

    The same polyline the sim bridge publishes on ``route`` at an episode's start (the
    planner's descent on the episode's cost-to-go, skipping the cell under the robot).
    """
    from compass_nav.planner import grid
    from compass_nav.sim.scenes import GRID_CELLS

    pose, g = env.pose[e], env.goal[e]
    plan = grid.descend_path(env.cost_to_go[e], pose[0], pose[1], 4 * GRID_CELLS)
    return np.vstack([pose[None, :2], plan[1:], g[None, :2]]).astype(np.float64)


class _Buffer:
    def __init__(self) -> None:
        self.steps: dict[str, list] = {}
        self.goal: np.ndarray | None = None
        self.route: np.ndarray | None = None

    def add(self, key: str, value: np.ndarray) -> None:
        self.steps.setdefault(key, []).append(np.array(value))

    def __len__(self) -> int:
        return len(self.steps.get("stamp", []))


def import_sim(
    policy: str,
    out: str | Path,
    embodiments: tuple[str, ...] = ("carter",),
    families: tuple[str, ...] = ("warehouse", "office", "hall"),
    episodes: int = 8,
    split: str = "train",
    seed: int = 0,
    image_size: tuple[int, int] = (64, 64),
    num_envs: int = 0,
    max_episode_steps: int = 300,
    depth: bool = True,
    progress: bool = True,
    command: str = "",
) -> dict[str, Any]:
    """Run ``episodes`` episodes of ``policy`` and append them to log dataset ``out``.

    Args:
        policy: A policy spec for :func:`compass_nav.policies.make_policy`.
        out: Log dataset folder (created, or appended to).
        embodiments: Bodies (slots cycle through them).
        families: Scene families (slots cycle through them).
        episodes: Episodes to write.
        split: Simulator scene split (``train``, ``validation``, ``heldout``); also the
            episodes' split label.
        seed: Seed of the episode sequence.
        image_size: (H, W) camera frames.
        num_envs: Simulator slots (0: one per family x body pair, at most ``episodes``).
            Slot e drives family ``e % F`` and body ``(e // F) % E``; a count that is not a
            multiple of F x E over-represents some pairs (a warning says which).
        max_episode_steps: Steps before a timeout.
        depth: Log depth frames (False: an RGB-only robot).
        progress: Show a progress bar.
        command: Command line stored with the import record.

    Returns:
        The import summary (also appended to ``meta.json``'s ``imports``).
    """
    from compass_nav.policies import make_policy
    from compass_nav.sim.config import SimConfig
    from compass_nav.sim.env import NavVectorEnv

    if episodes < 1:
        raise ConfigError(f"episodes={episodes!r}: must be >= 1")
    if split not in _SIM_SPLITS or split not in SPLITS:
        raise ConfigError(f"split={split!r}: must be one of {', '.join(_SIM_SPLITS)}")
    check_names([policy], families, embodiments)
    pairs = len(families) * len(embodiments)
    if num_envs < 0:
        raise ConfigError(f"num_envs={num_envs!r}: must be >= 0 (0: one slot per pair)")
    num_envs = max(1, min(num_envs or pairs, episodes))
    cfg = SimConfig(
        num_envs=num_envs,
        embodiments=tuple(embodiments),
        families=tuple(families),
        split=split,
        image_height=int(image_size[0]),
        image_width=int(image_size[1]),
        render_depth=depth,
        route_mode="planned",
        max_episode_steps=max_episode_steps,
    )
    env = NavVectorEnv(cfg)
    counts = SlotQuota.spread(episodes, env.num_envs).counts  # episodes per slot
    per_pair: dict[str, int] = {}
    for e in range(env.num_envs):
        key = f"{env.env_family[e]}/{env.env_bodies[e].name}"
        per_pair[key] = per_pair.get(key, 0) + int(counts[e])
    if len(set(per_pair.values())) > 1 or len(per_pair) < pairs:
        _log.warning(
            "episodes per family/body are uneven: %s (give --episodes and --num-envs as "
            "multiples of families x bodies = %d)",
            ", ".join(f"{k}={v}" for k, v in sorted(per_pair.items())),
            pairs,
        )
    pol = make_policy(policy)
    pol.bind(env)
    dt = 1.0 / cfg.control_hz
    writer = LogWriter(out, cfg.control_hz)
    low, high = env.action_space.low, env.action_space.high
    bufs = [_Buffer() for _ in range(env.num_envs)]
    bar = progress_bar(episodes, "sim episodes", "ep", progress)
    written: list[int] = []

    def act(obs, episode_start) -> np.ndarray:
        raw = np.asarray(pol.act(obs, episode_start))
        return np.clip(np.where(np.isfinite(raw), raw, 0.0), low, high).astype(np.float32)

    class Keep(EpisodeHook):
        def before_step(self, runner, obs, action):
            for e in np.flatnonzero(runner.live):
                b = bufs[e]
                if len(b) == 0:
                    b.goal = env.goal[e].astype(np.float64).copy()
                    b.route = start_plan(env, e)
                b.add("stamp", len(b) * dt)
                b.add("rgb", obs["rgb"][e])
                if depth:
                    b.add("depth", obs["depth"][e].astype(np.float32))
                b.add("odom_pose", env.pose[e].astype(np.float64))
                b.add("odom_twist", obs["speed"][e].astype(np.float32))
                b.add("action", action[e].astype(np.float32))

        def on_episode(self, runner, ep):
            b, bufs[ep.slot] = bufs[ep.slot], _Buffer()
            if len(b) != ep.steps:  # the runner's NEXT_STEP alignment, as the recorder checks
                raise RuntimeError(f"slot {ep.slot}: env says {ep.steps} steps, kept {len(b)}")
            st = {k: np.stack(v) for k, v in b.steps.items()}
            log = LogEpisode(
                stamp=st["stamp"].astype(np.float64),
                rgb=st["rgb"],
                depth=st.get("depth"),
                odom_pose=st["odom_pose"],
                odom_twist=st["odom_twist"],
                action=st["action"],
                goal=b.goal,
                routes=[b.route],
                route_stamps=np.zeros(1),
                route_index=np.zeros(len(b), np.int32),
                body=get_embodiment(ep.body),
                attrs={
                    "source": "sim",
                    "robot": ep.body,
                    "split": split,
                    "control_hz": cfg.control_hz,
                    "outcome": ep.outcome,
                    "outcome_source": "simulator (goal reached and stopped / contact / "
                    f"{cfg.max_episode_steps}-step limit)",
                    "origin": {
                        "policy": policy,
                        "family": ep.family,
                        "scene_seed": int(ep.scene_seed),
                        "seed": seed,
                        "slot": int(ep.slot),
                        "spl": float(ep.spl),
                    },
                    "import_counts": {"steps": len(b)},
                },
            )
            written.append(writer.write(log))
            bar.update(1)
            return None

    # slot e's stream is [seed, first file index, e]: another import into the folder (a higher
    # first index) never replays the episodes already in it
    quota = SlotQuota(counts, seed=[[seed, writer.next_index, e] for e in range(env.num_envs)])
    runner = EpisodeRunner(env, act, quota, [Keep()])
    try:
        eps = runner.run()
    finally:
        env.close()
        bar.close()
    outcomes: dict[str, int] = {}
    for ep in eps:
        outcomes[ep.outcome] = outcomes.get(ep.outcome, 0) + 1
    summary = {
        "policy": policy,
        "embodiments": list(embodiments),
        "families": list(families),
        "split": split,
        "seed": seed,
        "image_size": list(image_size),
        "depth": depth,
        "episodes": len(written),
        "steps": int(sum(ep.steps for ep in eps)),
        "outcomes": outcomes,
        "success_rate": round(outcomes.get("success", 0) / max(len(eps), 1), 4),
        "written": written,
        "episodes_per_pair": per_pair,
    }
    if not math.isfinite(summary["success_rate"]):
        summary["success_rate"] = 0.0
    writer.finish({"source": "sim", "command": command, **summary})
    return summary
