"""DAgger: roll the current policy out in the simulator and label every state with the teacher.

Behaviour cloning only ever sees states the teacher visits, so small errors compound into
states it never learnt to recover from. DAgger (Ross et al., 2011) fixes that by driving with
the learner (mixed with the teacher with probability ``beta``), asking the privileged teacher
(:class:`compass_nav.teacher.Teacher`) what it would do in every visited state, and adding
those labelled states to the training set. :class:`compass_nav.il.runner.ILRunner` calls
:func:`collect_round` a few times during training; episodes come back in the buffer format of
:mod:`compass_nav.learning.sequences` and are saved per round so ``--resume`` reuses them.

Rollouts run on *train*-split scene seeds; the policy sees the mapless route in a fraction
``mapless_prob`` of episodes (the hard case the round is for) and the episode's own route
(``planned``, or ``stale_map`` in the v2 suite) otherwise. The path head's target is the
planned route, or in ``stale_map`` rollouts the path driven next
(:func:`~compass_nav.data.routes.driven_path`), as for the demonstrations.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from compass_nav.data.routes import driven_path, mapless_route
from compass_nav.episodes import EpisodeHook, EpisodeRunner, SlotQuota
from compass_nav.learning.sequences import FIELDS, TRAINABLE_ROUTE_MODES
from compass_nav.models.xmobility import XMobility
from compass_nav.models.xmobility.processing import obs_to_tensors
from compass_nav.sim.config import MOVED_TO_EPISODE, EpisodeSpec, SimConfig
from compass_nav.sim.scenes import check_training_families
from compass_nav.utils.atomic import atomic_open
from compass_nav.utils.config import check, check_at_least, check_within
from compass_nav.utils.errors import DataError
from compass_nav.utils.progress import progress_bar

__all__ = ["DaggerConfig", "collect_round", "dagger_sim_config", "load_round", "save_round"]


@dataclasses.dataclass(frozen=True)
class DaggerConfig:
    """On-policy data aggregation schedule and rollout settings.

    Attributes:
        rounds: Aggregation rounds (0 = plain behaviour cloning).
        start: Fraction of the training steps done before the first round; the rounds are
            spread evenly over the rest.
        episodes: Episodes collected per round.
        num_envs: Parallel simulator envs for the rollouts.
        beta: Probability, per step, of executing the teacher's action instead of the
            learner's in the first round (the label is always the teacher's).
        beta_decay: ``beta`` is multiplied by this after every round.
        mapless_prob: Fraction of rollout episodes in which the policy sees the mapless route.
        episode: The rollouts' episodes: families, suite, route mode (``planned`` or
            ``stale_map``, as the demonstrations), moving obstacles and time limit
            (train-split seeds; the camera size is the demonstrations', so ``image_*`` stay
            0).
    """

    __moved_keys__ = MOVED_TO_EPISODE

    rounds: int = 3
    start: float = 0.4
    episodes: int = 48
    num_envs: int = 24
    beta: float = 0.3
    beta_decay: float = 0.5
    mapless_prob: float = 0.75
    episode: EpisodeSpec = EpisodeSpec(image_height=0, image_width=0)

    def __post_init__(self) -> None:
        check_at_least("dagger.rounds", self.rounds, 0)
        check_within("dagger.start", self.start, 0, 1, high_open=True)
        check_at_least("dagger.episodes", self.episodes, 1)
        check_at_least("dagger.num_envs", self.num_envs, 1)
        check_within("dagger.beta", self.beta, 0, 1)
        check_within("dagger.beta_decay", self.beta_decay, 0, 1)
        check_within("dagger.mapless_prob", self.mapless_prob, 0, 1)
        ep = self.episode
        check_at_least("dagger.episode.max_episode_steps", ep.max_episode_steps, 2)
        check(ep.split == "train", "dagger.episode.split", ep.split, "must be 'train'")
        check_training_families("dagger.episode.families", ep.families)
        check(
            ep.route_mode in TRAINABLE_ROUTE_MODES,
            "dagger.episode.route_mode",
            ep.route_mode,
            f"must be one of {', '.join(TRAINABLE_ROUTE_MODES)} (mapless_prob picks the "
            "share of episodes that see the mapless route instead)",
        )
        check(
            ep.image_height == 0 and ep.image_width == 0,
            "dagger.episode.image_height",
            (ep.image_height, ep.image_width),
            "must be 0: the rollouts use the demonstrations' camera size",
        )

    def schedule(self, total_steps: int) -> list[int]:
        """Training steps at which each round is collected."""
        first = int(self.start * total_steps)
        span = total_steps - first
        return [first + (span * r) // max(self.rounds, 1) for r in range(self.rounds)]


def dagger_sim_config(
    cfg: DaggerConfig,
    embodiments: Sequence[str],
    image_hw: tuple[int, int],
    route_points: int,
    route_spacing: float,
) -> SimConfig:
    """The rollouts' simulator: ``cfg.episode`` with the demonstrations' camera and route."""
    return cfg.episode.sim_config(
        cfg.num_envs,
        embodiments,
        image_height=image_hw[0],
        image_width=image_hw[1],
        route_points=route_points,
        route_spacing=route_spacing,
    )


@torch.inference_mode()
def collect_round(
    model: XMobility | None,
    cfg: DaggerConfig,
    embodiments: tuple[str, ...],
    round_index: int,
    seed: int,
    image_hw: tuple[int, int],
    route_points: int,
    route_spacing: float,
    progress: bool = True,
) -> tuple[list[dict[str, np.ndarray]], dict[str, float]]:
    """Drive ``model`` (mixed with the teacher) and label every visited state.

    Args:
        model: The learner; ``None`` drives with the teacher alone (demonstrations).
        cfg: Rollout settings; ``beta`` is decayed by ``beta_decay ** round_index``.
        embodiments: Bodies to drive (the IL base: ``("carter",)``).
        round_index: Which round (sets beta and, with ``seed``, the env seeds).
        seed: Run seed.
        image_hw: Camera size (that of the demonstrations, so the buffer stays uniform).
        route_points: Route waypoints (K) of the demonstrations.
        route_spacing: Metres between route waypoints of the demonstrations.
        progress: Show a progress bar.

    Returns:
        ``(episodes, stats)``: buffer episodes (see :data:`sequences.FIELDS`; ``action`` is
        the teacher's label, ``prev_action`` the command executed before) and rollout stats
        (success rate of the mixed policy per route mode, steps, beta).
    """
    from compass_nav.sim.env import NavVectorEnv
    from compass_nav.teacher import Teacher

    beta = 1.0 if model is None else cfg.beta * cfg.beta_decay**round_index
    sim = dagger_sim_config(cfg, embodiments, image_hw, route_points, route_spacing)
    env = NavVectorEnv(sim)
    teacher = Teacher(env)
    n = env.num_envs
    rng = np.random.default_rng([seed, 7919, round_index])
    quota = SlotQuota.spread(
        cfg.episodes, n, seed=[[seed, 7919, round_index, e] for e in range(n)]
    )
    low, high = env.action_space.low, env.action_space.high
    # The learner's recurrent state, the command executed before, which slots drive on the
    # mapless route this episode, and the teacher's labels of the current step.
    s = {
        "state": model.initial(n) if model is not None else None,
        "prev": np.zeros((n, 3), np.float32),
        "mapless_slot": rng.random(n) < cfg.mapless_prob,
    }
    stale = sim.route_mode == "stale_map"
    keys = [*FIELDS, "pose"]
    bufs: list[dict[str, list]] = [{k: [] for k in keys} for _ in range(n)]
    episodes: list[dict[str, np.ndarray]] = []
    outcome = {True: [], False: []}
    bar = progress_bar(
        int(quota.counts.sum()), f"dagger round {round_index}", "ep", progress, leave=False
    )

    def act(obs, first) -> np.ndarray:
        s["label"] = label = teacher.act()
        s["mapless"] = mapless = mapless_route(obs["goal"], route_points, route_spacing)
        route_in = np.where(s["mapless_slot"][:, None, None], mapless, obs["route"])
        if model is not None:
            t = obs_to_tensors({**obs, "route": route_in})
            s["state"], out = model.observe(
                t, torch.from_numpy(s["prev"]), s["state"], torch.from_numpy(first)
            )
            learner = out["action"].numpy()
            take_teacher = rng.random(n) < beta
            action = np.where(take_teacher[:, None], label, learner)
        else:
            action = label
        return np.clip(action, low, high).astype(np.float32)

    class Label(EpisodeHook):
        """Stores every live state with the teacher's label."""

        def before_step(self, runner, obs, action):
            for e in np.flatnonzero(runner.live):
                b = bufs[e]
                for key in ("rgb", "speed", "goal", "embodiment"):
                    b[key].append(obs[key][e])
                b["depth"].append(obs["depth"][e].astype(np.float16))
                b["route"].append(obs["route"][e])
                b["path"].append(obs["route"][e])  # replaced by the driven path if stale
                b["pose"].append(runner.env.pose[e].copy())
                b["route_mapless"].append(s["mapless"][e])
                b["action"].append(s["label"][e])
                b["prev_action"].append(s["prev"][e].copy())
            self.steps += int((~runner.pending).sum())
            s["prev"] = action

        def after_step(self, runner, obs, reward, terminated, truncated, info):
            # A slot whose episode ended now steps once more to reset (its action is
            # ignored); the observation after that is the first of the next episode.
            first = runner.pending
            s["prev"] = np.where(first[:, None], 0.0, s["prev"]).astype(np.float32)
            s["mapless_slot"] = np.where(
                first, rng.random(n) < cfg.mapless_prob, s["mapless_slot"]
            )

        def on_episode(self, runner, episode):
            e = episode.slot
            if bufs[e]["action"]:
                ep = {k: np.stack(v) for k, v in bufs[e].items()}
                pose = ep.pop("pose")
                if stale:
                    ep["path"] = driven_path(pose, None, route_points, route_spacing)
                episodes.append(ep)
                outcome[bool(s["mapless_slot"][e])].append(episode.success)
                bar.update(1)
            bufs[e] = {k: [] for k in keys}

    label_hook = Label()
    label_hook.steps = 0
    EpisodeRunner(env, act, quota, [label_hook]).run()
    steps = label_hook.steps
    bar.close()
    env.close()
    stats = {
        "beta": beta,
        "episodes": float(len(episodes)),
        "steps": float(steps),
        "labelled_steps": float(sum(len(ep["action"]) for ep in episodes)),
    }
    for mode, key in ((True, "success_mapless"), (False, f"success_{sim.route_mode}")):
        if outcome[mode]:
            stats[key] = float(np.mean(outcome[mode]))
    return episodes, stats


def save_round(path: str | Path, episodes: list[dict[str, np.ndarray]]) -> None:
    """Write one round's episodes to one ``.npz`` (concatenated fields + lengths), atomically."""
    lengths = np.array([len(ep["action"]) for ep in episodes], np.int64)
    arrays = {k: np.concatenate([ep[k] for ep in episodes]) for k in FIELDS}
    with atomic_open(path, "wb") as fh:
        np.savez(fh, lengths=lengths, **arrays)


def load_round(path: str | Path) -> list[dict[str, np.ndarray]]:
    """Read a round written by :func:`save_round`.

    Raises:
        DataError: Missing or malformed file, named.
    """
    try:
        with np.load(path, allow_pickle=False) as z:
            lengths = z["lengths"]
            arrays = {k: z[k] for k in FIELDS}
    except (OSError, KeyError, ValueError) as exc:
        raise DataError(f"DAgger round file {path} is missing or corrupt ({exc})") from None
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    return [
        {k: v[a:b] for k, v in arrays.items()}
        for a, b in zip(bounds[:-1], bounds[1:], strict=True)
    ]
