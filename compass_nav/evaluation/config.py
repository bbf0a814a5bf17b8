"""Configuration of the closed-loop evaluation harness (a frozen, self-validating dataclass).

:func:`compass_nav.evaluation.harness.evaluate` reads it; the CLI in
:mod:`compass_nav.evaluation.cli` builds it from flags; it is written into every
``results.json`` so a table can always be traced back to what produced it.
"""

from __future__ import annotations

import dataclasses
import math

from compass_nav.contract.body import get_embodiment
from compass_nav.sim.config import MOVED_TO_EPISODE, EpisodeSpec
from compass_nav.utils.config import check, check_at_least, check_names, check_within


@dataclasses.dataclass(frozen=True)
class EvalConfig:
    """What to evaluate on and how many episodes.

    Attributes:
        embodiments: Bodies to evaluate (registered names or YAML paths); one row group each.
        episode: The episodes: ``families`` (every embodiment is evaluated in every family,
            a *cell*), ``route_mode`` (``planned``, the route from the map, or ``mapless``, a
            straight line to the goal; the start/goal set does not depend on it, so the two
            modes are paired), ``split`` (``heldout``: never used in training, the reported
            figures; ``validation``: never used in training either, for choosing settings;
            or ``train``), the camera size the policy sees and the time limit.
        episodes: Episodes per embodiment x family cell (exact; extra ones are discarded).
        seed: Seeds the episode set: episode ``i`` of a cell is the same start, goal and scene
            for every policy, every ``num_envs`` and every route mode.
        num_envs: Parallel env slots; 0 picks a size automatically. Must be a multiple of
            ``len(embodiments) * len(families)`` so that every cell gets the same slots.
        workers: Processes, each running a share of the cells (split by embodiment, or by
            family when there are fewer embodiments than workers) with one compute thread;
            1 runs in this process, 0 picks ``min(cores, max(E, F))`` for spec-string
            policies (one process for a policy object). Measured on the 2-core machine,
            two single-threaded workers beat one two-threaded process (BENCHMARKS.md).
        gifs: How many of the worst failures to keep as GIFs (0 records no frames).
        clip_memory_mb: Memory budget for the per-env frame ring buffers behind the GIFs.
        bootstrap: Bootstrap resamples for the SPL and travel-time confidence intervals.
    """

    __moved_keys__ = MOVED_TO_EPISODE

    embodiments: tuple[str, ...] = ("carter",)
    episode: EpisodeSpec = dataclasses.field(
        default_factory=lambda: EpisodeSpec(split="heldout", route_mode="planned")
    )
    episodes: int = 200
    seed: int = 0
    num_envs: int = 0
    workers: int = 0
    gifs: int = 3
    clip_memory_mb: int = 256
    bootstrap: int = 2000

    def __post_init__(self) -> None:
        # Accept lists (YAML, JSON) but store tuples so the config stays hashable.
        object.__setattr__(self, "embodiments", check_names("embodiments", self.embodiments))
        for name in self.embodiments:
            get_embodiment(name)  # raises ConfigError naming the known bodies
        check_at_least("episodes", self.episodes, 1)
        check_at_least("seed", self.seed, 0)
        cells = len(self.embodiments) * len(self.episode.families)
        check(
            self.num_envs >= 0 and self.num_envs % cells == 0,
            "num_envs",
            self.num_envs,
            f"must be 0 (automatic) or a multiple of embodiments x families = {cells}",
        )
        for f in ("image_height", "image_width"):
            v = getattr(self.episode, f)
            check(v != 0, f"episode.{f}", v, "must be set: the evaluation has no model size")
        most = max(len(self.embodiments), len(self.episode.families))
        check_within("workers", self.workers, 0, most, "(the larger of embodiments, families)")
        check_at_least("gifs", self.gifs, 0)
        check_at_least("clip_memory_mb", self.clip_memory_mb, 1)
        check_at_least("bootstrap", self.bootstrap, 100)

    @property
    def cells(self) -> list[tuple[str, str]]:
        """(embodiment, family) pairs in env-slot order: cell ``c = body * F + family``."""
        return [(b, f) for b in self.embodiments for f in self.episode.families]

    def resolved_workers(self, policy_is_spec: bool = True) -> int:
        """Processes actually used (see ``workers``)."""
        import os

        if self.workers:
            return self.workers
        if not policy_is_spec:
            return 1
        return max(
            1, min(os.cpu_count() or 1, max(len(self.embodiments), len(self.episode.families)))
        )

    def shares(self, workers: int) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
        """(embodiments, families) of each worker: a product of subsets, so one env each."""
        if workers <= len(self.embodiments):
            return [(self.embodiments[i::workers], self.episode.families) for i in range(workers)]
        return [(self.embodiments, self.episode.families[i::workers]) for i in range(workers)]

    def resolved_num_envs(self, target: int = 64) -> int:
        """Env slots actually used: ``num_envs``, or about ``target`` spread over the cells.

        The automatic size gives every cell the same number of slots, never more slots than
        it has episodes (idle slots would render for nothing).
        """
        cells = len(self.cells)
        if self.num_envs:
            return self.num_envs
        per_cell = max(1, min(self.episodes, math.ceil(target / cells)))
        return per_cell * cells
