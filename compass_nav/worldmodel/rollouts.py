"""Recorded simulator rollouts of pool policies: ground truth and world-model training data.

:func:`record_rollouts` drives one policy in :class:`~compass_nav.sim.env.NavVectorEnv` and
keeps only the *first* episode of every env slot (the episode runner with a
:class:`~compass_nav.episodes.SlotQuota` of one episode per slot): the first reset of slot
``e`` under seed ``s`` is the same scene, start and goal whatever the policy, so episode ``i``
of every policy in the pool is paired (later episodes would depend on how long earlier ones
took, because the simulator's per-slot generator also draws tracking noise). ``block`` slots
run side by side; more episodes use further seeds.

:class:`Rollouts` stores all steps of all episodes concatenated (frames ``T + 1`` per episode,
actions ``T``), with per-episode outcomes and the global plan at the start expressed in the
start frame (what a robot's global planner would hand over). Files are one ``.npz`` per
policy and split, written atomically; :func:`load_rollouts` reads them back.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np

from compass_nav.episodes import EpisodeHook, EpisodeRunner, SlotQuota
from compass_nav.planner import grid
from compass_nav.policies import make_policy
from compass_nav.utils.atomic import atomic_open
from compass_nav.utils.errors import DataError

__all__ = ["Rollouts", "load_rollouts", "record_rollouts", "rollout_path", "slug"]

#: Per-step arrays (one row per frame; ``action``/``collision`` rows belong to the transition
#: that leaves the frame, and are zero/False on an episode's last frame).
STEP_FIELDS = ("rgb", "depth", "speed", "goal", "route", "pose", "action", "collision")
#: Per-episode arrays.
EPISODE_FIELDS = (
    "start",
    "length",
    "success",
    "collision_end",
    "timeout",
    "family",
    "scene_seed",
    "plan",
    "plan_len",
)
MAX_PLAN = 256


def slug(spec: str) -> str:
    """File-system-safe name of a policy spec."""
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", spec).strip("_")[:120]


def rollout_path(root: str | Path, split: str, spec: str) -> Path:
    """Where the rollouts of ``spec`` on ``split`` live under a data folder."""
    return Path(root) / split / f"{slug(spec)}.npz"


@dataclasses.dataclass
class Rollouts:
    """Episodes of one policy (all arrays numpy; shapes in the field comments).

    ``S`` is the total number of frames, ``E`` the number of episodes, ``T_i`` the number of
    transitions of episode ``i`` (it has ``T_i + 1`` frames starting at ``start[i]``).
    """

    spec: str
    descriptor: np.ndarray  # (15,) embodiment descriptor
    rgb: np.ndarray  # (S, H, W, 3) uint8
    depth: np.ndarray  # (S, H, W) float16, m
    speed: np.ndarray  # (S, 3) float32 body (vx, vy, wz)
    goal: np.ndarray  # (S, 3) float32 robot frame
    route: np.ndarray  # (S, K, 2) float32 robot frame
    pose: np.ndarray  # (S, 3) float32 world (privileged; analysis and tests only)
    action: np.ndarray  # (S, 3) float32 executed (clipped) command
    collision: np.ndarray  # (S,) bool, the transition leaving this frame collided
    start: np.ndarray  # (E,) int64 first frame index
    length: np.ndarray  # (E,) int64 transitions
    success: np.ndarray  # (E,) bool
    collision_end: np.ndarray  # (E,) bool
    timeout: np.ndarray  # (E,) bool
    family: np.ndarray  # (E,) str
    scene_seed: np.ndarray  # (E,) int64
    plan: np.ndarray  # (E, MAX_PLAN, 2) float32 global plan at the start, start frame
    plan_len: np.ndarray  # (E,) int64 valid plan points

    @property
    def num_episodes(self) -> int:
        """Number of episodes ``E``."""
        return int(self.start.shape[0])

    @property
    def time(self) -> np.ndarray:
        """Travel time per episode, s (10 Hz control)."""
        return self.length.astype(np.float64) * 0.1

    def frames(self, i: int) -> slice:
        """Frame rows of episode ``i``."""
        return slice(int(self.start[i]), int(self.start[i] + self.length[i] + 1))

    def start_frame_poses(self) -> tuple[np.ndarray, np.ndarray]:
        """(E, T+1, 3) recorded poses in each episode's start frame, and (E, T+1) validity.

        ``T`` is the longest episode; rows past an episode's end are zero and invalid. The
        poses are privileged (analysis and tests: where the body really was).
        """
        E, T = self.num_episodes, int(self.length.max())
        rel, valid = np.zeros((E, T + 1, 3)), np.zeros((E, T + 1), bool)
        for e in range(E):
            pose = self.pose[self.frames(e)].astype(np.float64)
            c, s = np.cos(pose[0, 2]), np.sin(pose[0, 2])
            d = pose[:, :2] - pose[0, :2]
            rel[e, : len(pose)] = np.stack(
                [c * d[:, 0] + s * d[:, 1], -s * d[:, 0] + c * d[:, 1], pose[:, 2] - pose[0, 2]], 1
            )
            valid[e, : len(pose)] = True
        return rel, valid

    def first_obs(self, idx: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """The first observation of episodes ``idx`` (all by default), batched."""
        idx = np.arange(self.num_episodes) if idx is None else np.asarray(idx)
        rows = self.start[idx]
        return {
            "rgb": self.rgb[rows],
            "depth": self.depth[rows].astype(np.float32),
            "speed": self.speed[rows],
            "route": self.route[rows],
            "goal": self.goal[rows],
            "embodiment": np.repeat(self.descriptor[None], len(rows), 0),
        }

    def save(self, path: str | Path) -> None:
        """Write atomically as an uncompressed ``.npz``."""
        arrays = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        arrays["spec"] = np.array(self.spec)
        arrays["family"] = self.family.astype("U16")
        with atomic_open(path, "wb") as fh:
            np.savez(fh, **arrays)

    @staticmethod
    def concat(parts: list[Rollouts]) -> Rollouts:
        """Join rollouts of the same policy (episode order kept)."""
        if not parts:
            raise DataError("no rollouts to concatenate")
        out = {}
        offset = 0
        starts = []
        for p in parts:
            starts.append(p.start + offset)
            offset += p.rgb.shape[0]
        for f in dataclasses.fields(Rollouts):
            if f.name in ("spec", "descriptor"):
                continue
            if f.name == "start":
                out["start"] = np.concatenate(starts)
            else:
                out[f.name] = np.concatenate([getattr(p, f.name) for p in parts])
        return Rollouts(spec=parts[0].spec, descriptor=parts[0].descriptor, **out)

    def subset(self, idx: np.ndarray) -> Rollouts:
        """Episodes ``idx`` as new rollouts (frames copied, order kept)."""
        idx = np.asarray(idx, np.int64)
        rows = (
            np.concatenate(
                [np.arange(self.start[i], self.start[i] + self.length[i] + 1) for i in idx]
            )
            if len(idx)
            else np.zeros(0, np.int64)
        )
        step = {f: getattr(self, f)[rows] for f in STEP_FIELDS}
        ep = {f: getattr(self, f)[idx] for f in EPISODE_FIELDS}
        ep["start"] = (
            np.concatenate([[0], np.cumsum(self.length[idx] + 1)[:-1]]).astype(np.int64)
            if len(idx)
            else np.zeros(0, np.int64)
        )
        return Rollouts(spec=self.spec, descriptor=self.descriptor, **step, **ep)


def load_rollouts(path: str | Path) -> Rollouts:
    """Read rollouts written by :meth:`Rollouts.save`.

    Raises:
        DataError: missing file or missing/unknown arrays (the file is named).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(
            f"rollouts file not found: {path} (run `compass-nav worldmodel collect` first)"
        )
    try:
        with np.load(path, allow_pickle=False) as npz:
            data = {k: npz[k] for k in npz.files}
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable rollouts file ({exc})") from None
    names = {f.name for f in dataclasses.fields(Rollouts)}
    missing = sorted(names - set(data))
    if missing:
        raise DataError(f"{path}: missing arrays {missing}")
    data["spec"] = str(data["spec"])
    return Rollouts(**{k: data[k] for k in names})


def _plan_in_start_frame(env, e: int) -> tuple[np.ndarray, int]:
    p = env.privileged()
    x, y, yaw = p["pose"][e]
    pts = grid.descend_path(p["cost_to_go"][e], float(x), float(y), MAX_PLAN)
    c, s = np.cos(yaw), np.sin(yaw)
    d = pts - np.array([x, y])
    local = np.stack([c * d[:, 0] + s * d[:, 1], -s * d[:, 0] + c * d[:, 1]], 1)
    out = np.zeros((MAX_PLAN, 2), np.float32)
    out[: len(local)] = local
    return out, len(local)


def _record_block(policy, sim_cfg, seed: int, n: int) -> Rollouts:
    from compass_nav.sim.env import NavVectorEnv

    env = NavVectorEnv(sim_cfg)
    policy.bind(env)
    low, high = env._low, env._high  # each slot's own clip, as the env applies it
    keys = ("rgb", "depth", "speed", "goal", "route")

    def act(obs, start) -> np.ndarray:
        a = np.asarray(policy.act(obs, start), np.float32)
        return np.where(np.isfinite(a), a, 0.0)

    class Track(EpisodeHook):
        """Start-frame plans, and per step the pose, executed command and collision flag."""

        def on_reset(self, runner, obs):
            self.scene_seeds = env.scene_seed.copy()  # slots auto-reset into new scenes
            self.plans = [_plan_in_start_frame(env, e) for e in range(n)]
            self.rows = {k: [[] for _ in range(n)] for k in ("pose", "action", "collision")}

        def before_step(self, runner, obs, action):
            clipped = np.clip(action, low, high).astype(np.float32)
            for e in np.flatnonzero(runner.live):
                self.rows["pose"][e].append(env.pose[e].astype(np.float32))
                self.rows["action"][e].append(clipped[e])

        def after_step(self, runner, obs, reward, terminated, truncated, info):
            for e in np.flatnonzero(runner.live):
                self.rows["collision"][e].append(bool(info["collision"][e]))

        def on_episode(self, runner, episode):
            self.rows["pose"][episode.slot].append(env.pose[episode.slot].astype(np.float32))

    track = Track()
    episodes = sorted(
        EpisodeRunner(env, act, SlotQuota(np.ones(n), seed), [track], keep=keys).run(),
        key=lambda ep: ep.slot,
    )
    length = np.array([ep.steps for ep in episodes], np.int64)
    parts: dict[str, list[np.ndarray]] = {k: [] for k in STEP_FIELDS}
    starts = []
    total = 0
    for ep in episodes:
        e, T = ep.slot, ep.steps
        starts.append(total)
        total += T + 1
        for k in keys:
            parts[k].append(np.concatenate([ep.arrays[k], ep.arrays[f"final_{k}"][None]]))
        parts["pose"].append(np.stack(track.rows["pose"][e]))
        a = np.zeros((T + 1, 3), np.float32)
        a[:T] = np.stack(track.rows["action"][e])
        c = np.zeros(T + 1, bool)
        c[:T] = track.rows["collision"][e]
        parts["action"].append(a)
        parts["collision"].append(c)
    step = {k: np.concatenate(v) for k, v in parts.items()}
    step["depth"] = step["depth"].astype(np.float16)
    return Rollouts(
        spec=getattr(policy, "name", "policy"),
        descriptor=env.env_bodies[0].descriptor().astype(np.float32),
        **step,
        start=np.asarray(starts, np.int64),
        length=length,
        success=np.array([ep.success for ep in episodes], bool),
        collision_end=np.array([ep.collision for ep in episodes], bool),
        timeout=np.array([ep.timeout for ep in episodes], bool),
        family=np.array([str(f) for f in env.env_family]),
        scene_seed=track.scene_seeds,
        plan=np.stack([p[0] for p in track.plans]),
        plan_len=np.array([p[1] for p in track.plans], np.int64),
    )


def rollout_sim_config(
    num_envs: int,
    embodiment: str,
    families: tuple[str, ...],
    split: str,
    image_size: int,
    max_episode_steps: int,
):
    """The simulator of one block of rollouts: square frames, planned routes, one body."""
    from compass_nav.sim.config import EpisodeSpec

    episode = EpisodeSpec(
        families=tuple(families),
        split=split,
        max_episode_steps=max_episode_steps,
        image_height=image_size,
        image_width=image_size,
    )
    return episode.sim_config(num_envs, (embodiment,))


def record_rollouts(
    spec: str,
    embodiment: str,
    families: tuple[str, ...],
    split: str,
    num_episodes: int,
    seed: int,
    image_size: int,
    max_episode_steps: int = 300,
    block: int = 60,
) -> Rollouts:
    """Run ``spec`` for ``num_episodes`` paired episodes and return them.

    Args:
        spec: Policy spec for :func:`compass_nav.policies.make_policy`.
        embodiment: Body every slot drives.
        families: Scene families; slot ``e`` uses ``families[e % F]``.
        split: ``train`` or ``heldout`` scene seeds.
        num_episodes: Episodes to record (blocks of ``block`` slots, seeds ``seed * 1000 + b``).
        seed: Base seed; the same seed gives every policy the same episodes.
        image_size: Square frame size, px.
        max_episode_steps: Step budget per episode.
        block: Slots per simulator batch.

    Returns:
        The episodes, in slot order (block by block).
    """
    policy = make_policy(spec)
    parts = []
    done = 0
    b = 0
    while done < num_episodes:
        n = min(block, num_episodes - done)
        cfg = rollout_sim_config(n, embodiment, families, split, image_size, max_episode_steps)
        parts.append(_record_block(policy, cfg, seed * 1000 + b, n))
        done += n
        b += 1
    out = Rollouts.concat(parts)
    out.spec = spec
    return out
