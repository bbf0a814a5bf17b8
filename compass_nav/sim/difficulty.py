"""How hard a scenario suite is: ``compass-nav sim difficulty``.

For every body x scene family it runs the blind route follower (the ``goal_seeker`` policy,
which reads no pixels and drives the route it is given) on ``episodes`` episodes and reads
the evaluation metadata the simulator reports when an episode ends (never observed by a
policy): whether the straight line start -> goal is clear for the body (``line_blocked``),
whether the route planned on the stale static map is clear (``route_blocked``), the route's
length and tortuosity, and whether a moving obstacle came close (``moving_encounter``, where
the simulator reports it). An easy suite is one the follower solves: the targets of the
stale-map suite are a clear straight line in at most 30% of the episodes, a clear stale
route in at most 40%, and the follower's success at most 0.40.

Every env slot runs a fixed number of episodes, so long episodes count as often as short
ones; a cell keeps its first ``episodes`` in slot order.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from compass_nav.utils.config import check, check_at_least, check_names

#: Targets of the stale-map suite on held-out scenes (upper bounds on shares).
TARGETS = {"line_clear": 0.30, "route_clear": 0.40, "follower_success": 0.40}
#: The follower whose success measures how far a blind robot gets.
FOLLOWER = "goal_seeker"


@dataclasses.dataclass(frozen=True)
class DifficultyConfig:
    """What to measure.

    Attributes:
        embodiments: Bodies (registered names or YAML paths).
        families: Scene families.
        split: Scene seeds (``heldout``, ``validation`` or ``train``).
        suite: Scenario suite (``v1`` or ``v2``).
        route_mode: The route the follower drives (``stale_map`` by default).
        episodes: Episodes per body x family cell.
        slots: Env slots per cell.
        seed: Reset seed: the same seed gives the same episodes.
        moving_obstacles: People and carts per episode; None takes the suite's.
    """

    embodiments: tuple[str, ...] = ("carter",)
    families: tuple[str, ...] = ("warehouse", "office", "hall", "hospital")
    split: str = "heldout"
    suite: str = "v2"
    route_mode: str = "stale_map"
    episodes: int = 100
    slots: int = 8
    seed: int = 0
    moving_obstacles: int | None = None

    def __post_init__(self) -> None:
        from compass_nav.contract.body import get_embodiment
        from compass_nav.sim.config import ROUTE_MODES
        from compass_nav.sim.scenes import SPLIT_SEED_OFFSETS, list_families
        from compass_nav.sim.suites import SUITES

        object.__setattr__(self, "embodiments", check_names("embodiments", self.embodiments))
        object.__setattr__(self, "families", check_names("families", self.families))
        for name in self.embodiments:
            get_embodiment(name)
        known = list_families()
        for fam in self.families:
            check(fam in known, "families", fam, f"unknown family; known: {', '.join(known)}")
        check(self.split in SPLIT_SEED_OFFSETS, "split", self.split, "unknown split")
        check(self.suite in SUITES, "suite", self.suite, f"must be one of {', '.join(SUITES)}")
        check(self.route_mode in ROUTE_MODES, "route_mode", self.route_mode, "unknown mode")
        check_at_least("episodes", self.episodes, 1)
        check_at_least("slots", self.slots, 1)
        check_at_least("seed", self.seed, 0)
        if self.moving_obstacles is None:
            object.__setattr__(self, "moving_obstacles", SUITES[self.suite].moving_obstacles)
        check_at_least("moving_obstacles", self.moving_obstacles, 0)


def _share(x: np.ndarray) -> float:
    return float(np.mean(x)) if x.size else float("nan")


def summarise(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Shares and medians of a list of episode records (see :func:`measure`)."""
    line = np.array([r["line_blocked"] for r in records], bool)
    route = np.array([r["route_blocked"] for r in records], bool)
    moving = [r["moving_encounter"] for r in records]
    has_moving = bool(records) and all(m is not None for m in moving)
    return {
        "n": len(records),
        "line_clear": _share(~line),
        "route_clear": _share(~route),
        "route_length_median": float(np.median([r["route_length"] for r in records])),
        "tortuosity_median": float(np.median([r["tortuosity"] for r in records])),
        "moving_encounter": _share(np.array(moving, bool)) if has_moving else None,
        "follower_success": _share(np.array([r["success"] for r in records], bool)),
    }


def measure(cfg: DifficultyConfig, progress=None) -> dict[str, Any]:
    """Run the follower on every cell and summarise (see the module docstring).

    Args:
        cfg: What to measure.
        progress: Optional callable ``progress(done, total)`` called as episodes finish.

    Returns:
        ``{"config", "targets", "cells": [...], "bodies": [...], "records": [...]}``: one
        summary per body x family cell and per body (all its families), each with
        ``embodiment``, ``family`` (``"all"`` for a body's row), ``n``, ``line_clear``,
        ``route_clear``, ``route_length_median`` (m), ``tortuosity_median``,
        ``moving_encounter`` (share, or None where the simulator does not report it) and
        ``follower_success``; a body's row also has ``meets_targets``.
    """
    from compass_nav.policies import make_policy
    from compass_nav.sim.env import NavVectorEnv

    E, F, k = len(cfg.embodiments), len(cfg.families), cfg.slots
    n = E * F * k
    env = NavVectorEnv(
        num_envs=n,
        embodiments=cfg.embodiments,
        families=cfg.families,
        split=cfg.split,
        suite=cfg.suite,
        route_mode=cfg.route_mode,
        moving_obstacles=cfg.moving_obstacles,
        image_height=16,
        image_width=16,
        render_rgb=False,
    )
    policy = make_policy(FOLLOWER)
    policy.bind(env)
    quota = math.ceil(cfg.episodes / k)
    done = np.zeros(n, np.int64)
    per_slot: list[list[dict[str, Any]]] = [[] for _ in range(n)]
    obs, _ = env.reset(seed=cfg.seed)
    start = np.ones(n, bool)
    total = n * quota
    while (done < quota).any():
        action = policy.act(obs, start)
        obs, _, term, trunc, info = env.step(action)
        ended = np.flatnonzero(info["_episode"])
        start = env.privileged()["needs_reset"].copy()
        moving = info.get("moving_encounter")
        for e in ended:
            if done[e] >= quota:
                continue
            per_slot[e].append(
                {
                    "embodiment": cfg.embodiments[int(env.env_body_index[e])],
                    "family": str(env.env_family[e]),
                    "slot": int(e),
                    "scene_seed": int(info["scene_seed"][e]),
                    "success": bool(info["success"][e]),
                    "collision": bool(info["collision"][e]),
                    "line_blocked": bool(info["line_blocked"][e]),
                    "route_blocked": bool(info["route_blocked"][e]),
                    "route_length": float(info["route_length"][e]),
                    "tortuosity": float(info["tortuosity"][e]),
                    "moving_encounter": None if moving is None else bool(moving[e]),
                }
            )
            done[e] += 1
        if progress is not None and ended.size:
            progress(int(np.minimum(done, quota).sum()), total)
    records: list[dict[str, Any]] = []
    cells, bodies = [], []
    for b in cfg.embodiments:
        body_records = []
        for f in cfg.families:
            cell = [
                r
                for e in range(n)
                for r in per_slot[e]
                if (r["embodiment"], r["family"]) == (b, f)
            ]
            cell = cell[: cfg.episodes]
            records += cell
            body_records += cell
            cells.append({"embodiment": b, "family": f, **summarise(cell)})
        row = {"embodiment": b, "family": "all", **summarise(body_records)}
        row["meets_targets"] = all(row[key] <= bound for key, bound in TARGETS.items())
        bodies.append(row)
    return {
        "config": dataclasses.asdict(cfg),
        "targets": dict(TARGETS),
        "cells": cells,
        "bodies": bodies,
        "records": records,
    }


def format_rows(result: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of the difficulty table: each body's cells, then its pooled row."""
    header = [
        "embodiment",
        "family",
        "n",
        "line clear",
        "stale route clear",
        "route m (median)",
        "tortuosity (median)",
        "moving encounters",
        f"{FOLLOWER} SR",
        "targets",
    ]

    def fmt(row: dict[str, Any]) -> list[str]:
        moving = row["moving_encounter"]
        met = row.get("meets_targets")
        return [
            row["embodiment"],
            row["family"],
            str(row["n"]),
            f"{row['line_clear']:.3f}",
            f"{row['route_clear']:.3f}",
            f"{row['route_length_median']:.1f}",
            f"{row['tortuosity_median']:.2f}",
            "n/a" if moving is None else f"{moving:.3f}",
            f"{row['follower_success']:.3f}",
            "" if met is None else ("met" if met else "NOT met"),
        ]

    rows = []
    for body in result["bodies"]:
        rows += [fmt(c) for c in result["cells"] if c["embodiment"] == body["embodiment"]]
        rows.append(fmt(body))
    return header, rows
