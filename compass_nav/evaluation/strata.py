"""Strata and paired comparisons of evaluation episodes: pure functions over episode records.

Wired in by :func:`compass_nav.evaluation.harness.compute_metrics` (every metrics group gets a
``strata`` entry) and :mod:`compass_nav.evaluation.baselines` (paired differences between a
policy and its baselines on the same episodes). Nothing here touches the simulator: every
number can be recomputed from the ``episodes`` of ``results.json`` files.

Strata. The simulator states, on the step an episode ends, facts about the episode that no
policy sees (``info`` keys, carried into the episode records by
:mod:`compass_nav.episodes.runner`). Each boolean fact splits the episodes in two strata:

================== ================================ =====================================
record key         True stratum                     False stratum
================== ================================ =====================================
``line_blocked``   straight line start-goal blocked straight line clear
``route_blocked``  stale route blocked              stale route clear
``moving_encounter`` met a moving obstacle          no moving obstacle met
================== ================================ =====================================

A stratum table appears only when every record of the group carries the key (an env that
does not state the fact gives no made-up strata). Each stratum gets the full
:func:`compass_nav.evaluation.metrics.summarize` (success / collision / timeout rates with
Wilson intervals, SPL and travel time with bootstrap intervals).

Paired differences (:func:`paired_difference`): the same episode (embodiment, family,
episode index, and the same scene seed) run by two policies; the mean per-episode difference
policy minus baseline of success, collision and SPL, with a paired percentile bootstrap
interval (episodes resampled together, so the scene's difficulty cancels out), and the
discordant pair counts (policy succeeded where the baseline failed, and the reverse).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from compass_nav.episodes.runner import EPISODE_INFO_KEYS
from compass_nav.evaluation.metrics import bootstrap_ci, summarize, wilson_interval
from compass_nav.utils.errors import DataError

__all__ = [
    "EPISODE_FLAGS",
    "describe",
    "STRATA",
    "episode_pairs",
    "paired_difference",
    "stratify",
]

#: (record key, title, True-stratum label, False-stratum label) of every stratum variable.
STRATA: tuple[tuple[str, str, str, str], ...] = (
    ("line_blocked", "straight line start-goal", "blocked", "clear"),
    ("route_blocked", "route (as planned on the stale map)", "blocked", "clear"),
    ("moving_encounter", "moving obstacles", "encounter", "no encounter"),
)

#: Optional per-episode facts the simulator may state (see the episode runner); the harness
#: copies the ones present into the records.
EPISODE_FLAGS: tuple[str, ...] = EPISODE_INFO_KEYS


def _arrays(rows: Sequence[dict[str, Any]]) -> dict[str, np.ndarray]:
    return {
        k: np.array([r[k] for r in rows], float if k in ("time", "spl") else bool)
        for k in ("success", "collision", "timeout", "time", "spl")
    }


def stratify(
    rows: Sequence[dict[str, Any]], *, n_boot: int = 2000, seed: int = 0
) -> dict[str, dict[str, Any]]:
    """Metrics of every stratum of ``rows`` (see the module docstring).

    Args:
        rows: Episode records (``success``, ``collision``, ``timeout``, ``time``, ``spl`` and
            any stratum keys).
        n_boot: Bootstrap resamples of the SPL / travel-time intervals.
        seed: Bootstrap seed (each stratum derives its own from it).

    Returns:
        ``{key: {"title", "labels": [true_label, false_label], "true": summary,
        "false": summary}}`` for every stratum key all rows carry (a record whose value is
        ``None`` counts as not carrying it); ``summary`` is
        :func:`compass_nav.evaluation.metrics.summarize`'s dict. Empty for no rows.
    """
    out: dict[str, dict[str, Any]] = {}
    if not rows:
        return out
    for k, (key, title, yes, no) in enumerate(STRATA):
        if not all(r.get(key) is not None for r in rows):
            continue
        flag = np.array([bool(r[key]) for r in rows])
        entry: dict[str, Any] = {"title": title, "labels": [yes, no]}
        for half, mask in (("true", flag), ("false", ~flag)):
            sub = [r for r, m in zip(rows, mask, strict=True) if m]
            a = _arrays(sub)
            entry[half] = summarize(
                a["success"],
                a["collision"],
                a["timeout"],
                a["time"],
                a["spl"],
                n_boot=n_boot,
                seed=seed + 7 * k + (0 if half == "true" else 3),
            )
        out[key] = entry
    return out


def _key(r: dict[str, Any]) -> tuple[str, str, int]:
    return (str(r["embodiment"]), str(r["family"]), int(r["episode"]))


def episode_pairs(
    a: Sequence[dict[str, Any]], b: Sequence[dict[str, Any]]
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Match the episode records of two runs on (embodiment, family, episode index).

    Raises:
        DataError: when the runs do not hold the same episodes, or a matched pair ran in
            different scenes (the runs were not made with the same episode settings).
    """
    ka = {_key(r): r for r in a}
    kb = {_key(r): r for r in b}
    if set(ka) != set(kb):
        only_a, only_b = sorted(set(ka) - set(kb))[:3], sorted(set(kb) - set(ka))[:3]
        raise DataError(
            f"the runs hold different episodes ({len(ka)} vs {len(kb)}; e.g. only in the "
            f"first: {only_a}, only in the second: {only_b}): evaluate both with the same "
            "--embodiments, --families, --episodes, --seed and --split"
        )
    pairs = []
    for k in sorted(ka):
        ra, rb = ka[k], kb[k]
        if "scene_seed" in ra and "scene_seed" in rb and ra["scene_seed"] != rb["scene_seed"]:
            raise DataError(
                f"episode {k}: scene {ra['scene_seed']} vs {rb['scene_seed']}: the runs are "
                "not paired (different --seed or --split?)"
            )
        pairs.append((ra, rb))
    return pairs


def _mean_diff(samples: np.ndarray) -> np.ndarray:
    return samples.mean(axis=1)


def paired_difference(
    pairs: Sequence[tuple[dict[str, Any], dict[str, Any]]],
    *,
    n_boot: int = 2000,
    seed: int = 0,
) -> dict[str, Any]:
    """Policy minus baseline on the same episodes, with paired bootstrap 95% intervals.

    Args:
        pairs: (policy record, baseline record) of the same episode
            (:func:`episode_pairs`).
        n_boot: Bootstrap resamples.
        seed: Bootstrap seed.

    Returns:
        Plain dict (NaN where undefined): ``n``; ``d_sr``, ``d_sr_ci``, ``d_collision``,
        ``d_collision_ci``, ``d_spl``, ``d_spl_ci`` (means of the per-episode differences);
        ``d_time`` and ``d_time_ci`` (travel-time difference on the episodes both
        succeeded, s; ``both_successes`` of them); ``policy_only`` (policy succeeded, baseline
        did not) and ``baseline_only`` (the reverse).
    """
    n = len(pairs)
    out: dict[str, Any] = {"n": n}
    if n == 0:
        for k in ("d_sr", "d_collision", "d_spl", "d_time"):
            out[k], out[f"{k}_ci"] = math.nan, [math.nan, math.nan]
        out.update(both_successes=0, policy_only=0, baseline_only=0)
        return out
    p = {k: np.array([float(a[k]) for a, _ in pairs]) for k in ("success", "collision", "spl")}
    q = {k: np.array([float(b[k]) for _, b in pairs]) for k in ("success", "collision", "spl")}
    for j, (name, key) in enumerate(
        (("d_sr", "success"), ("d_collision", "collision"), ("d_spl", "spl"))
    ):
        d = p[key] - q[key]
        out[name] = float(d.mean())
        out[f"{name}_ci"] = list(bootstrap_ci(d, _mean_diff, n_boot, seed + j))
    both = (p["success"] > 0) & (q["success"] > 0)
    out["both_successes"] = int(both.sum())
    if both.any():
        dt = np.array([float(a["time"]) - float(b["time"]) for a, b in pairs])[both]
        out["d_time"] = float(dt.mean())
        out["d_time_ci"] = list(bootstrap_ci(dt, _mean_diff, n_boot, seed + 5))
    else:
        out["d_time"], out["d_time_ci"] = math.nan, [math.nan, math.nan]
    out["policy_only"] = int(((p["success"] > 0) & (q["success"] == 0)).sum())
    out["baseline_only"] = int(((p["success"] == 0) & (q["success"] > 0)).sum())
    return out


def describe(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Difficulty descriptors of a group of episodes, from the facts the simulator stated.

    Returns:
        Plain dict with, where every row carries the key: ``route_length_median`` (m),
        ``tortuosity_median``, ``moving_collisions`` and ``moving_collision_rate`` (share of
        episodes ended by hitting a moving obstacle) with ``moving_collision_ci`` (Wilson).
    """
    out: dict[str, Any] = {}
    if not rows:
        return out
    for key in ("route_length", "tortuosity"):
        if all(r.get(key) is not None for r in rows):
            out[f"{key}_median"] = float(np.median([float(r[key]) for r in rows]))
    if all(r.get("moving_collision") is not None for r in rows):
        k = int(sum(bool(r["moving_collision"]) for r in rows))
        out["moving_collisions"] = k
        out["moving_collision_rate"] = k / len(rows)
        out["moving_collision_ci"] = list(wilson_interval(k, len(rows)))
    return out
