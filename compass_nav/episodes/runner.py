"""One episode loop over the batched simulator: autoreset, seeding, quotas, episode records.

Every stage that drives a policy through whole episodes -- evaluation
(:mod:`compass_nav.evaluation.harness`), demonstration recording
(:mod:`compass_nav.data.recorder`), DAgger rounds (:mod:`compass_nav.il.dagger`),
world-model rollouts (:mod:`compass_nav.worldmodel.rollouts`) and the demo
(:mod:`compass_nav.demo`) -- runs :class:`EpisodeRunner`. It sits above the simulator and the
policy interface and below those stages (it imports none of them).

Autoreset (gymnasium ``NEXT_STEP``, see :mod:`compass_nav.sim.env`): the step on which an
episode ends returns its final observation; on the next step the env ignores that slot's
action and resets it. The runner tracks this once for everyone:

* ``start[e]`` -- the observation handed to the policy is the first of an episode (the
  ``episode_start`` argument of :meth:`compass_nav.contract.policy.Policy.act`);
* ``pending[e]`` -- the observation is the final one of an ended episode; the coming step
  resets the slot and its action is ignored;
* ``live[e]`` -- the observation belongs to an episode that the quota counts (not pending,
  and the slot still has episodes to run): what recorders store.

Quotas (:class:`SlotQuota`, :class:`CellQueue`, :class:`OpenQuota`) say which episodes count,
how they are numbered and seeded, and when the run is over. Hooks (:class:`EpisodeHook`) see
every reset, every step and every counted episode, for per-step extras (recorders store frames,
DAgger labels states with the teacher, the evaluation keeps failure ring buffers).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np

__all__ = [
    "EPISODE_INFO_KEYS",
    "CellQueue",
    "Episode",
    "EpisodeHook",
    "EpisodeRunner",
    "OpenQuota",
    "Quota",
    "SlotQuota",
]

#: Optional per-episode facts a simulator may state in ``info`` (an (N,) array) on the step an
#: episode ends, copied into :attr:`Episode.extras` when present: whether the route planned
#: on the stale map is blocked, the route's length (m) and tortuosity, whether a moving
#: obstacle came near, whether the collision was with a moving obstacle. The evaluation's
#: strata (:mod:`compass_nav.evaluation.strata`) read them; no policy sees them.
EPISODE_INFO_KEYS: tuple[str, ...] = (
    "route_blocked",
    "route_length",
    "tortuosity",
    "moving_encounter",
    "moving_collision",
)

#: ``act(obs, episode_start) -> (N, 3) action`` (a :class:`Policy`'s ``act`` fits).
ActFn = Callable[[Mapping[str, np.ndarray], np.ndarray], np.ndarray]


@dataclasses.dataclass(frozen=True)
class Episode:
    """One finished, counted episode.

    Attributes:
        slot: Env slot that ran it.
        index: Its number within the quota's group (cell queue position, slot's n-th episode).
        body: Embodiment name.
        family: Scene family.
        scene_seed: Scene seed (scene id) it ran in.
        success, collision, timeout: Outcome (exactly one is True).
        steps: Control steps.
        time: Simulated seconds.
        spl: Success weighted by path length.
        path_length: Metres travelled.
        ref_length: Planned path length at the start, m.
        final_distance: Distance to the goal at the end, m.
        episode_return: Sum of rewards.
        line_blocked: The body's circumscribed disc swept along the straight segment from
            the start to the goal would touch an obstacle (simulator metadata, see
            :func:`compass_nav.sim.env.line_blocked`; no policy sees it).
        extras: The :data:`EPISODE_INFO_KEYS` the simulator stated for this episode (plain
            Python bool / float values); keys it does not state are absent.
        arrays: Per-step observation arrays when the runner was asked to keep them
            (``keep``): ``key`` (T, ...) for the observations the actions were computed from,
            ``final_<key>`` the observation the episode ended on; ``None`` otherwise.
    """

    slot: int
    index: int
    body: str
    family: str
    scene_seed: int
    success: bool
    collision: bool
    timeout: bool
    steps: int
    time: float
    spl: float
    path_length: float
    ref_length: float
    final_distance: float
    episode_return: float
    line_blocked: bool = False
    extras: dict[str, Any] = dataclasses.field(default_factory=dict)
    arrays: dict[str, np.ndarray] | None = None

    @property
    def outcome(self) -> str:
        """``success``, ``collision`` or ``timeout``."""
        if self.success:
            return "success"
        return "collision" if self.collision else "timeout"


class Quota(Protocol):
    """Which episodes count, how they are numbered and seeded, and when a run is over."""

    def reset_seed(self, num_envs: int) -> Any:
        """The ``seed`` argument of the env's first ``reset``."""

    def running(self) -> np.ndarray:
        """(N,) bool: the slot's current episode counts."""

    def index(self, slot: int) -> int | None:
        """Number of the episode that just ended in ``slot`` (and count it), or None."""

    def next_seed(self, slot: int) -> Sequence[int] | None:
        """Seed key of the slot's next episode, or None to let the slot's generator run on."""

    def finished(self) -> bool:
        """Every counted episode has ended."""


class SlotQuota:
    """Slot ``e`` runs ``counts[e]`` episodes, numbered 0, 1, ... per slot.

    ``counts`` all ones is the "first episode per slot" mode: the first reset of a slot under
    a seed is the same scene, start and goal whatever the policy, so episodes of different
    policies pair up (later ones depend on how long earlier ones took).
    """

    def __init__(self, counts: Sequence[int] | np.ndarray, seed: Any = None) -> None:
        self.counts = np.asarray(counts, np.int64)
        self.done = np.zeros_like(self.counts)
        self.seed = seed

    @classmethod
    def spread(cls, total: int, num_envs: int, groups: int = 1, seed: Any = None) -> SlotQuota:
        """``total`` episodes per group of slots, spread evenly over the group's slots.

        Slots ``e`` and ``e + groups`` serve the same group; the first slots of each group
        take one more episode when ``total`` does not divide.
        """
        per = num_envs // groups
        counts = np.full(num_envs, total // per)
        counts[: (total % per) * groups] += 1
        return cls(counts, seed)

    def reset_seed(self, num_envs: int) -> Any:
        return self.seed

    def running(self) -> np.ndarray:
        return self.done < self.counts

    def index(self, slot: int) -> int | None:
        if self.done[slot] >= self.counts[slot]:
            return None
        self.done[slot] += 1
        return int(self.done[slot] - 1)

    def next_seed(self, slot: int) -> None:
        return None

    def finished(self) -> bool:
        return bool((self.done >= self.counts).all())


class CellQueue:
    """Episode ``i`` of every cell, seeded by ``key(cell, i)``, whichever slot runs it.

    A cell's episodes are handed to its slots from a queue as slots free up; a slot with
    nothing left keeps stepping an idle episode (seeded ``key(cell, episodes + slot)``) that is
    never counted. So the episode set is exact and deterministic, the same for every policy,
    env count and worker split.
    """

    def __init__(
        self,
        slot_cell: Sequence[int] | np.ndarray,
        episodes: int,
        key: Callable[[int, int], Sequence[int]],
    ) -> None:
        self.slot_cell = np.asarray(slot_cell, np.int64)
        self.episodes = episodes
        self.key = key
        cells = int(self.slot_cell.max()) + 1
        self.next = np.zeros(cells, np.int64)
        self.done = np.zeros(cells, np.int64)
        self.slot_episode = np.full(len(self.slot_cell), -1, np.int64)

    def _assign(self, slot: int) -> Sequence[int]:
        c = int(self.slot_cell[slot])
        i = int(self.next[c])
        if i < self.episodes:
            self.next[c] += 1
            self.slot_episode[slot] = i
            return self.key(c, i)
        self.slot_episode[slot] = -1
        return self.key(c, self.episodes + slot)  # idle: never counted

    def reset_seed(self, num_envs: int) -> list:
        return [self._assign(e) for e in range(num_envs)]

    def running(self) -> np.ndarray:
        return self.slot_episode >= 0

    def index(self, slot: int) -> int | None:
        i = int(self.slot_episode[slot])
        if i < 0:
            return None
        self.done[self.slot_cell[slot]] += 1
        return i

    def next_seed(self, slot: int) -> Sequence[int]:
        return self._assign(slot)

    def finished(self) -> bool:
        return bool((self.done >= self.episodes).all())


class OpenQuota:
    """Every episode counts (numbered per slot); the run ends when a hook or ``stop`` says."""

    def __init__(self, num_envs: int, seed: Any = None) -> None:
        self.done = np.zeros(num_envs, np.int64)
        self.seed = seed

    def reset_seed(self, num_envs: int) -> Any:
        return self.seed

    def running(self) -> np.ndarray:
        return np.ones(len(self.done), bool)

    def index(self, slot: int) -> int:
        self.done[slot] += 1
        return int(self.done[slot] - 1)

    def next_seed(self, slot: int) -> None:
        return None

    def finished(self) -> bool:
        return False


class EpisodeHook:
    """Per-step extras; override what you need (every method does nothing by default).

    The runner's ``start``, ``pending`` and ``live`` masks (module docstring) are current when
    a method is called; ``after_step`` sees them as they were for the step just taken.
    """

    def on_reset(self, runner: EpisodeRunner, obs: Mapping[str, np.ndarray]) -> None:
        """After the env's first reset; ``obs`` is every slot's first observation."""

    def before_step(
        self, runner: EpisodeRunner, obs: Mapping[str, np.ndarray], action: np.ndarray
    ) -> None:
        """``action`` (what ``act`` returned) is about to be applied to ``obs``."""

    def after_step(
        self,
        runner: EpisodeRunner,
        obs: Mapping[str, np.ndarray],
        reward: np.ndarray,
        terminated: np.ndarray,
        truncated: np.ndarray,
        info: Mapping[str, Any],
    ) -> None:
        """The env stepped (``runner.ended`` marks the episodes that ended on it)."""

    def on_episode(self, runner: EpisodeRunner, episode: Episode) -> bool | None:
        """A counted episode ended (after ``after_step``); return True to end the run now."""


class EpisodeRunner:
    """Drive ``act`` in a batched env until the quota is met (see the module docstring).

    Args:
        env: A :class:`~compass_nav.sim.env.NavVectorEnv`.
        act: ``act(obs, episode_start) -> (N, 3)``, e.g. a bound policy's ``act``.
        quota: Which episodes count; see :class:`SlotQuota`, :class:`CellQueue`,
            :class:`OpenQuota`.
        hooks: Per-step extras.
        keep: Observation keys to keep per step of counted episodes (``Episode.arrays``).
        should_stop: Polled before every step; True ends the run (quota full elsewhere).

    Attributes:
        start, pending, live, ended: (N,) bool masks (module docstring).
        env_steps: Env-steps simulated so far (all slots, idle and resetting ones included).
        steps: Calls of ``env.step`` so far.
    """

    def __init__(
        self,
        env,
        act: ActFn,
        quota: Quota,
        hooks: Sequence[EpisodeHook] = (),
        keep: Sequence[str] = (),
        should_stop: Callable[[], bool] | None = None,
    ) -> None:
        self.env = env
        self.act = act
        self.quota = quota
        self.hooks = list(hooks)
        self.keep = tuple(keep)
        self.should_stop = should_stop or (lambda: False)
        n = self.num_envs = env.num_envs
        self.start = np.ones(n, bool)
        self.pending = np.zeros(n, bool)
        self.live = np.zeros(n, bool)
        self.ended = np.zeros(n, bool)
        self.env_steps = 0
        self.steps = 0
        self._bufs: list[dict[str, list[np.ndarray]]] = [{} for _ in range(n)]

    def _reseed(self, slot: int, key: Sequence[int]) -> None:
        # The env draws slot e's next reset (scene, start, goal, noise seed) from _rngs[e];
        # replacing it between steps pins that episode to its key. The env has no public
        # per-slot reseed between autoresets; the evaluation tests check the pairing.
        self.env._rngs[slot] = np.random.default_rng(key)

    def _episode(self, e: int, index: int, obs, info) -> Episode:
        ep = info["episode"]
        arrays = None
        if self.keep:
            buf, self._bufs[e] = self._bufs[e], {}
            arrays = {k: np.stack(v) for k, v in buf.items()}
            for k in self.keep:
                if k in obs:
                    arrays[f"final_{k}"] = obs[k][e].copy()
        return Episode(
            slot=e,
            index=index,
            body=self.env.env_bodies[e].name,
            family=str(info["family"][e]),
            scene_seed=int(info["scene_seed"][e]),
            success=bool(ep["success"][e]),
            collision=bool(ep["collision"][e]),
            timeout=bool(info["timeout"][e]),
            steps=int(ep["l"][e]),
            time=float(ep["time"][e]),
            spl=float(ep["spl"][e]),
            path_length=float(ep["path_length"][e]),
            ref_length=float(ep["ref_length"][e]),
            final_distance=float(np.hypot(*obs["goal"][e, :2])),
            episode_return=float(ep["r"][e]),
            line_blocked=bool(info["line_blocked"][e]),
            extras={k: np.asarray(info[k][e]).item() for k in EPISODE_INFO_KEYS if k in info},
            arrays=arrays,
        )

    def run(self) -> list[Episode]:
        """Reset the env and step it until the quota is met; return the counted episodes.

        Episodes come in the order they ended (slot order within a step).
        """
        env, quota = self.env, self.quota
        episodes: list[Episode] = []
        obs, _ = env.reset(seed=quota.reset_seed(self.num_envs))
        for h in self.hooks:
            h.on_reset(self, obs)
        while not quota.finished() and not self.should_stop():
            self.live = ~self.pending & quota.running()
            action = self.act(obs, self.start)
            for h in self.hooks:
                h.before_step(self, obs, action)
            if self.keep:
                for e in np.flatnonzero(self.live):
                    buf = self._bufs[e]
                    for k in self.keep:
                        if k in obs:
                            buf.setdefault(k, []).append(obs[k][e].copy())
            obs, reward, terminated, truncated, info = env.step(action)
            self.env_steps += self.num_envs
            self.steps += 1
            # A resetting (pending) slot never reports an end, so no mask is needed here.
            self.ended = np.asarray(info["_episode"], bool).copy()
            for h in self.hooks:
                h.after_step(self, obs, reward, terminated, truncated, info)
            stop = False
            for e in np.flatnonzero(self.ended):
                e = int(e)
                index = quota.index(e)
                if index is not None:
                    episode = self._episode(e, index, obs, info)
                    episodes.append(episode)
                    for h in self.hooks:
                        stop = bool(h.on_episode(self, episode)) or stop
                    if stop:
                        break
                else:
                    self._bufs[e] = {}
                key = quota.next_seed(e)
                if key is not None:
                    self._reseed(e, key)
            if stop:
                break
            self.start = self.pending
            self.pending = self.ended
        return episodes
