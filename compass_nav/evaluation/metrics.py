"""Episode metrics and their confidence intervals: pure functions over per-episode arrays.

The harness (:mod:`compass_nav.evaluation.harness`) calls :func:`summarize` once per
embodiment x family cell and once per pooled group; nothing here touches the simulator, so
the numbers can be recomputed from a ``results.json`` alone.

Definitions (COMPASS / Anderson et al. 2018):
    SR      success rate, successes / episodes; 95% Wilson score interval.
    CR      collision rate, collisions / episodes; Wilson interval.
    SPL     success weighted by path length, mean over episodes of
            S_i * l_i / max(p_i, l_i) (l = planned reference length, p = length travelled);
            95% percentile bootstrap interval.
    TT      mean travel time of the successful episodes, s.
    WTT     success-weighted travel time, COMPASS's figure: TT / SR. It grows both when the
            policy is slow and when it fails often (at SR = 0.5 it is twice the travel time);
            undefined (NaN) when nothing succeeds. Percentile bootstrap interval over episodes
            (resamples with no success give +inf, so the upper bound can be +inf).

Strata (:func:`line_strata`): the same SR and Wilson interval over the episodes whose straight
line start -> goal is blocked for the body (``line_blocked``, computed by the simulator at
reset) and over those where it is clear; the blocked ones are the hard episodes, where
driving straight at the goal is not enough.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

#: Two-sided 95% standard-normal quantile.
Z95 = 1.959963984540054


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion.

    Preferred over the normal (Wald) interval because it stays inside [0, 1] and keeps its
    coverage at 0 or n successes, which is where navigation policies often sit.

    Args:
        successes: Number of positive outcomes, 0 <= successes <= n.
        n: Number of trials; 0 gives the uninformative (0, 1).
        z: Normal quantile (1.96 for 95%).

    Returns:
        (low, high).
    """
    if not 0 <= successes <= n:
        raise ValueError(f"successes={successes} must be within [0, n={n}]")
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    # Exact bounds at the extremes (the formula gives them up to rounding).
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


def spl(success: np.ndarray, path_length: np.ndarray, ref_length: np.ndarray) -> np.ndarray:
    """Per-episode SPL term ``S_i * l_i / max(p_i, l_i)``.

    Args:
        success: (n,) bool.
        path_length: (n,) metres travelled.
        ref_length: (n,) metres of the planned reference path (> 0).

    Returns:
        (n,) float in [0, 1].
    """
    s = np.asarray(success, bool)
    p = np.asarray(path_length, float)
    ref = np.asarray(ref_length, float)
    return np.where(s, ref / np.maximum(np.maximum(p, ref), 1e-9), 0.0)


def success_weighted_travel_time(success: np.ndarray, time: np.ndarray) -> float:
    """COMPASS's WTT: mean travel time of the successful episodes divided by the SR.

    Returns:
        Seconds; NaN when no episode succeeded.
    """
    s = np.asarray(success, bool)
    if s.size == 0 or not s.any():
        return math.nan
    return float(np.asarray(time, float)[s].mean() / s.mean())


def bootstrap_ci(
    data: np.ndarray,
    statistic: Callable[[np.ndarray], np.ndarray],
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic`` over the rows of ``data``.

    Deterministic for a given ``seed``. Order statistics are taken without interpolation so
    that infinite statistics (e.g. WTT of a resample with no success) stay meaningful.

    Args:
        data: (n, ...) rows resampled with replacement (columns stay together).
        statistic: Vectorised statistic: maps resamples (B, n, ...) to (B,) values.
        n_boot: Number of resamples B.
        seed: Seed of the resampling generator.
        level: Coverage, e.g. 0.95.

    Returns:
        (low, high); (NaN, NaN) for empty ``data``.
    """
    data = np.asarray(data)
    n = data.shape[0]
    if n == 0:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_boot, n))
    values = np.sort(np.asarray(statistic(data[idx]), float))
    values = values[~np.isnan(values)]
    if values.size == 0:
        return math.nan, math.nan
    alpha = (1.0 - level) / 2.0
    lo = values[int(math.floor(alpha * values.size))]
    hi = values[int(math.ceil((1.0 - alpha) * values.size)) - 1]
    return float(lo), float(hi)


def _mean_rows(samples: np.ndarray) -> np.ndarray:
    return samples.mean(axis=1)


def _success_time(samples: np.ndarray) -> np.ndarray:
    # samples (B, n, 2): column 0 success (0/1), column 1 travel time.
    s, t = samples[..., 0], samples[..., 1]
    k = s.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(k > 0, (s * t).sum(axis=1) / k, np.nan)


def _wtt(samples: np.ndarray) -> np.ndarray:
    s, t = samples[..., 0], samples[..., 1]
    k = s.sum(axis=1)
    n = s.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        # mean(t | success) / (k / n) = sum(s * t) * n / k^2; +inf when nothing succeeded.
        return np.where(k > 0, (s * t).sum(axis=1) * n / np.maximum(k, 1) ** 2, np.inf)


def summarize(
    success: np.ndarray,
    collision: np.ndarray,
    timeout: np.ndarray,
    time: np.ndarray,
    spl_values: np.ndarray,
    *,
    n_boot: int = 2000,
    seed: int = 0,
) -> dict[str, float | int | list[float]]:
    """All metrics of one group of episodes (a cell or a pooled set).

    Args:
        success: (n,) bool, episode reached the goal.
        collision: (n,) bool, episode ended in a collision.
        timeout: (n,) bool, episode ran out of time.
        time: (n,) episode duration, s.
        spl_values: (n,) per-episode SPL terms (see :func:`spl`).
        n_boot: Bootstrap resamples.
        seed: Bootstrap seed (the harness derives one per group, so tables are reproducible).

    Returns:
        Plain dict (JSON-ready; NaN where undefined): ``n``, ``successes``, ``sr``,
        ``sr_ci``, ``collisions``, ``collision_rate``, ``collision_ci``, ``timeouts``,
        ``timeout_rate``, ``timeout_ci``, ``spl``, ``spl_ci``, ``travel_time``,
        ``travel_time_ci``, ``wtt``, ``wtt_ci``.
    """
    s = np.asarray(success, bool)
    c = np.asarray(collision, bool)
    to = np.asarray(timeout, bool)
    t = np.asarray(time, float)
    v = np.asarray(spl_values, float)
    n = int(s.size)
    k, kc, kt = int(s.sum()), int(c.sum()), int(to.sum())
    pairs = np.stack([s.astype(float), t], axis=1)
    out: dict[str, float | int | list[float]] = {
        "n": n,
        "successes": k,
        "sr": k / n if n else math.nan,
        "sr_ci": list(wilson_interval(k, n)),
        "collisions": kc,
        "collision_rate": kc / n if n else math.nan,
        "collision_ci": list(wilson_interval(kc, n)),
        "timeouts": kt,
        "timeout_rate": kt / n if n else math.nan,
        "timeout_ci": list(wilson_interval(kt, n)),
        "spl": float(v.mean()) if n else math.nan,
        "spl_ci": list(bootstrap_ci(v, _mean_rows, n_boot, seed)),
        "travel_time": float(t[s].mean()) if k else math.nan,
        "travel_time_ci": (
            list(bootstrap_ci(pairs, _success_time, n_boot, seed + 1))
            if k
            else [math.nan, math.nan]
        ),
        "wtt": success_weighted_travel_time(s, t),
        "wtt_ci": (
            list(bootstrap_ci(pairs, _wtt, n_boot, seed + 2)) if k else [math.nan, math.nan]
        ),
    }
    return out


def line_strata(success: np.ndarray, line_blocked: np.ndarray) -> dict[str, int | float | list]:
    """Success on the episodes whose straight line to the goal is blocked, and on the rest.

    Args:
        success: (n,) bool, episode reached the goal.
        line_blocked: (n,) bool, the body could not drive the straight segment start -> goal
            without touching an obstacle.

    Returns:
        Plain dict (JSON-ready; NaN SR for an empty stratum): ``blocked_n``,
        ``blocked_successes``, ``blocked_sr``, ``blocked_sr_ci`` and the same four keys with
        ``clear_``. ``blocked_n + clear_n`` is the number of episodes.
    """
    s = np.asarray(success, bool)
    b = np.asarray(line_blocked, bool)
    if s.shape != b.shape:
        raise ValueError(f"success {s.shape} and line_blocked {b.shape} differ in shape")
    out: dict[str, int | float | list] = {}
    for name, mask in (("blocked", b), ("clear", ~b)):
        n, k = int(mask.sum()), int(s[mask].sum())
        out[f"{name}_n"] = n
        out[f"{name}_successes"] = k
        out[f"{name}_sr"] = k / n if n else math.nan
        out[f"{name}_sr_ci"] = list(wilson_interval(k, n))
    return out
