"""Parity of two runtimes: open-loop on recorded episodes, closed-loop on success rate.

Used by ``compass-nav export`` after every ONNX export (open loop) and, on request, for the
closed-loop check (:func:`closed_loop`), and by test/export. Open loop: :func:`record`
drives the embedded simulator with a policy (by default the torch runtime of the model
itself, so the recurrent state sees the observations it would really see) and keeps every
observation and episode-start flag; :func:`replay` feeds the same sequence to two runtimes,
each keeping its own recurrent state (reset exactly where episodes start), and reports the
largest action and path differences over every step. Closed loop: both policies are
evaluated on the same paired episode set by :func:`compass_nav.evaluation.evaluate` and the
success rates are compared with their Wilson intervals.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from compass_nav.contract.policy import PolicyRuntime
from compass_nav.evaluation import EvalConfig, evaluate
from compass_nav.policies import Policy
from compass_nav.sim.config import EpisodeSpec
from compass_nav.utils.errors import ModelError

__all__ = ["ClosedLoopReport", "ParityReport", "Recording", "closed_loop", "record", "replay"]


@dataclasses.dataclass
class Recording:
    """Observations of ``T`` consecutive steps of ``N`` envs.

    Attributes:
        obs: One observation dict per step (arrays with leading N).
        starts: (T, N) bool, True where that step's observation starts an episode.
    """

    obs: list[dict[str, np.ndarray]]
    starts: np.ndarray

    @property
    def longest_run(self) -> int:
        """Most consecutive steps any env ran without a state reset."""
        best = 0
        for e in range(self.starts.shape[1]):
            idx = np.flatnonzero(self.starts[:, e]).tolist() + [self.starts.shape[0]]
            best = max(best, max(b - a for a, b in zip([0] + idx[:-1], idx, strict=True)))
        return best


def record(
    driver: Policy,
    steps: int = 128,
    num_envs: int = 4,
    embodiments: tuple[str, ...] = ("carter",),
    families: tuple[str, ...] = ("warehouse", "office", "hall"),
    image_hw: tuple[int, int] = (64, 64),
    split: str = "heldout",
    seed: int = 0,
) -> Recording:
    """Roll ``driver`` out in the simulator and keep every observation.

    Args:
        driver: The policy that picks the actions.
        steps: Steps recorded (every env runs all of them; episodes autoreset).
        num_envs: Parallel envs.
        embodiments: Bodies of the env slots (see :class:`NavVectorEnv`).
        families: Scene families of the env slots.
        image_hw: Camera size.
        split: Scene seeds.
        seed: Reset seed.
    """
    from compass_nav.sim.env import NavVectorEnv

    env = NavVectorEnv(
        num_envs=num_envs,
        embodiments=embodiments,
        families=families,
        split=split,
        image_height=image_hw[0],
        image_width=image_hw[1],
    )
    try:
        driver.bind(env)
        obs, _ = env.reset(seed=seed)
        start = np.ones(num_envs, bool)
        kept, starts = [], []
        for _ in range(steps):
            kept.append({k: np.array(v) for k, v in obs.items()})
            starts.append(start.copy())
            obs, _, term, trunc, _ = env.step(driver.act(obs, start))
            start = np.asarray(term | trunc, bool)
    finally:
        env.close()
    return Recording(kept, np.stack(starts))


@dataclasses.dataclass
class ParityReport:
    """Largest differences between two runtimes over a recording.

    Attributes:
        max_abs_action: max |a - b| of ``action`` (SI units) over every env and step.
        max_abs_path: Same for ``path`` (metres); nan when a runtime predicts none.
        steps: Steps replayed. envs: Envs per step. longest_run: Longest recurrent stretch.
    """

    max_abs_action: float
    max_abs_path: float
    steps: int
    envs: int
    longest_run: int

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for JSON reports."""
        return dataclasses.asdict(self)


def replay(
    a: PolicyRuntime, b: PolicyRuntime, rec: Recording, reset_at_starts: bool = True
) -> ParityReport:
    """Feed ``rec`` to both runtimes from a fresh state and compare their outputs.

    Args:
        a: The reference runtime (usually torch).
        b: The runtime under test.
        rec: The recording.
        reset_at_starts: Clear a row's state where its episode starts (as a robot would);
            False carries the state through the whole recording, the longest recurrent
            chain the recording allows (errors that grow with recurrence show up there).

    Raises:
        ModelError: Either runtime produced a NaN or infinite action or path (a difference
            with NaN would compare as no difference at all).
    """
    a.reset()
    b.reset()
    worst_a, worst_p = 0.0, 0.0
    for t, obs in enumerate(rec.obs):
        start = rec.starts[t]
        if reset_at_starts and t > 0 and start.any():
            a.reset(start)
            b.reset(start)
        oa, ob = a.step(obs), b.step(obs)
        for who, out in (("reference", oa), ("candidate", ob)):
            for key in ("action", "path"):
                value = getattr(out, key)
                if value is not None and not np.isfinite(value).all():
                    raise ModelError(
                        f"parity: the {who} runtime's {key} at step {t} is not finite "
                        "(NaN or inf); no comparison is meaningful"
                    )
        worst_a = max(worst_a, float(np.max(np.abs(oa.action - ob.action))))
        if oa.path is not None and ob.path is not None:
            worst_p = max(worst_p, float(np.max(np.abs(oa.path - ob.path))))
        else:
            worst_p = float("nan")
    run = rec.longest_run if reset_at_starts else len(rec.obs)
    return ParityReport(worst_a, worst_p, len(rec.obs), rec.starts.shape[1], run)


@dataclasses.dataclass
class ClosedLoopReport:
    """Success of two policies on the same paired episodes.

    Attributes:
        episodes: Episodes per policy.
        sr: Success rates (reference, candidate). sr_ci: Their 95% Wilson intervals.
        agree: Fraction of episodes with the same outcome (success or not) under both.
        overlap: Whether each success rate lies inside the other's interval.
    """

    episodes: int
    sr: tuple[float, float]
    sr_ci: tuple[tuple[float, float], tuple[float, float]]
    agree: float
    overlap: bool

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for JSON reports."""
        return dataclasses.asdict(self)


def closed_loop(
    reference: str | Policy,
    candidate: str | Policy,
    episodes: int = 200,
    embodiments: tuple[str, ...] = ("carter",),
    families: tuple[str, ...] = ("warehouse", "office", "hall"),
    seed: int = 0,
    progress: bool = True,
) -> ClosedLoopReport:
    """Evaluate both policies on the same episodes; compare success rates.

    ``episodes`` is the total per policy, split evenly over the embodiment x family cells
    (rounded up).
    """
    cells = len(embodiments) * len(families)
    per_cell = -(-episodes // cells)
    cfg = EvalConfig(
        embodiments=tuple(embodiments),
        episode=EpisodeSpec(split="heldout", families=tuple(families)),
        episodes=per_cell,
        seed=seed,
        gifs=0,
    )
    ra = evaluate(reference, cfg, progress=progress)
    rb = evaluate(candidate, cfg, progress=progress)
    sa = {(r["cell"], r["episode"]): bool(r["success"]) for r in ra.records}
    sb = {(r["cell"], r["episode"]): bool(r["success"]) for r in rb.records}
    agree = float(np.mean([sa[k] == sb[k] for k in sa]))
    oa, ob = ra.metrics["overall"], rb.metrics["overall"]
    ca, cb = tuple(oa["sr_ci"]), tuple(ob["sr_ci"])
    overlap = ca[0] <= ob["sr"] <= ca[1] and cb[0] <= oa["sr"] <= cb[1]
    return ClosedLoopReport(
        len(ra.records), (float(oa["sr"]), float(ob["sr"])), (ca, cb), agree, bool(overlap)
    )
