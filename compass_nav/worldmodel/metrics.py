"""Pure metric functions of offline evaluation: rank agreement, bootstrap, video quality.

Everything here takes numpy arrays and returns floats/arrays, with no model or simulator in
sight, so that each function is tested against hand-computed cases
(``test/worldmodel/test_metrics.py``). :mod:`compass_nav.worldmodel.evaluate` applies them to
per-policy success rates (real vs predicted) and to predicted frames.

Definitions:
    * Pearson, Spearman (Pearson of average ranks), Kendall's tau-b (tie-corrected).
    * MMRV (mean maximum rank violation, from SIMPLER): for each policy ``i``, the largest
      ``|real_i - real_j|`` over the policies ``j`` that the prediction orders differently
      from reality (``(pred_i < pred_j) != (real_i < real_j)``), averaged over ``i``. 0 is
      perfect; its unit is success rate.
    * Pairwise ranking accuracy: over pairs with different real values, the fraction the
      prediction orders the same way (a prediction tie counts one half).
    * PSNR on images scaled to [0, 1]; SSIM with an 11x11 Gaussian window (sigma 1.5) on each
      channel, averaged (Wang et al. 2004 constants, data range 1).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = [
    "bootstrap_ci",
    "kendall",
    "mae",
    "mmrv",
    "pairwise_accuracy",
    "pearson",
    "psnr",
    "rankdata",
    "spearman",
    "ssim",
]


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation; NaN when either input is constant or has < 2 values."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if x.shape != y.shape:
        raise ValueError(f"pearson: shapes differ {x.shape} vs {y.shape}")
    if x.size < 2:
        return float("nan")
    dx, dy = x - x.mean(), y - y.mean()
    den = np.sqrt((dx * dx).sum() * (dy * dy).sum())
    if den <= 1e-15:
        return float("nan")
    return float((dx * dy).sum() / den)


def rankdata(x: np.ndarray) -> np.ndarray:
    """Ranks starting at 1, ties get the average of their ranks (like ``scipy``'s default)."""
    x = np.asarray(x, np.float64)
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x), np.float64)
    sx = x[order]
    i = 0
    while i < len(x):
        j = i
        while j + 1 < len(x) and sx[j + 1] == sx[i]:
            j += 1
        ranks[order[i : j + 1]] = 0.5 * (i + j) + 1.0
        i = j + 1
    return ranks


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rank correlation (Pearson of average ranks)."""
    return pearson(rankdata(x), rankdata(y))


def kendall(x: np.ndarray, y: np.ndarray) -> float:
    """Kendall's tau-b; NaN when either input is constant."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    i, j = np.triu_indices(len(x), 1)
    sx, sy = np.sign(x[i] - x[j]), np.sign(y[i] - y[j])
    n0 = len(i)
    tx, ty = (sx == 0).sum(), (sy == 0).sum()
    den = np.sqrt(float(n0 - tx) * float(n0 - ty))
    if den <= 0:
        return float("nan")
    return float((sx * sy).sum() / den)


def mmrv(real: np.ndarray, pred: np.ndarray) -> float:
    """Mean maximum rank violation (SIMPLER's definition; see the module docstring)."""
    real, pred = np.asarray(real, np.float64), np.asarray(pred, np.float64)
    n = len(real)
    if n < 2:
        return float("nan")
    violated = (pred[:, None] < pred[None, :]) != (real[:, None] < real[None, :])
    gap = np.abs(real[:, None] - real[None, :]) * violated
    return float(gap.max(axis=1).mean())


def pairwise_accuracy(real: np.ndarray, pred: np.ndarray) -> float:
    """Fraction of pairs with different real values that ``pred`` orders the same way."""
    real, pred = np.asarray(real, np.float64), np.asarray(pred, np.float64)
    i, j = np.triu_indices(len(real), 1)
    dr, dp = np.sign(real[i] - real[j]), np.sign(pred[i] - pred[j])
    keep = dr != 0
    if not keep.any():
        return float("nan")
    score = np.where(dp[keep] == 0, 0.5, (dr[keep] == dp[keep]).astype(np.float64))
    return float(score.mean())


def mae(real: np.ndarray, pred: np.ndarray) -> float:
    """Mean absolute error."""
    return float(np.mean(np.abs(np.asarray(real, np.float64) - np.asarray(pred, np.float64))))


def bootstrap_ci(
    metric: Callable[[np.ndarray, np.ndarray], float],
    real: np.ndarray,
    pred: np.ndarray,
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
    unit: str = "both",
) -> tuple[float, float, float]:
    """Metric on per-policy success rates with a percentile bootstrap interval.

    Args:
        metric: ``metric(real_rates, pred_rates) -> float``.
        real: (P, E) per-episode real outcomes (1 = success), episodes paired with ``pred``.
        pred: (P, E) per-episode predicted outcomes (probabilities allowed).
        n_boot: Bootstrap resamples.
        seed: Resampling seed.
        level: Interval coverage.
        unit: ``policies`` (resample policies), ``episodes`` (resample each policy's episodes,
            the same indices for real and predicted, i.e. paired) or ``both`` (policies, then
            episodes within them: both sources of uncertainty).

    Returns:
        (point estimate on all data, low, high). Resamples where the metric is undefined
        (NaN, e.g. a correlation on constant rates) are left out; (nan, nan) if all are.
    """
    if unit not in ("policies", "episodes", "both"):
        raise ValueError(f"unit={unit!r}: must be 'policies', 'episodes' or 'both'")
    real, pred = np.asarray(real, np.float64), np.asarray(pred, np.float64)
    if real.shape != pred.shape or real.ndim != 2:
        raise ValueError(
            f"real and pred must be (P, E) of one shape, got {real.shape} and {pred.shape}"
        )
    point = metric(real.mean(1), pred.mean(1))
    rng = np.random.default_rng(seed)
    p, e = real.shape
    values = []
    for _ in range(n_boot):
        pol = rng.integers(0, p, p) if unit in ("policies", "both") else np.arange(p)
        if unit in ("episodes", "both"):
            eps = rng.integers(0, e, (p, e))
            r = np.take_along_axis(real[pol], eps, 1).mean(1)
            q = np.take_along_axis(pred[pol], eps, 1).mean(1)
        else:
            r, q = real[pol].mean(1), pred[pol].mean(1)
        v = metric(r, q)
        if np.isfinite(v):
            values.append(v)
    if not values:
        return float(point), float("nan"), float("nan")
    alpha = 0.5 * (1.0 - level)
    lo, hi = np.quantile(values, [alpha, 1.0 - alpha])
    return float(point), float(lo), float(hi)


def psnr(pred: np.ndarray, target: np.ndarray, data_range: float = 1.0) -> np.ndarray:
    """PSNR (dB) per image over the last three axes (H, W, C); ``inf`` for identical images."""
    pred, target = np.asarray(pred, np.float64), np.asarray(target, np.float64)
    mse = ((pred - target) ** 2).mean(axis=(-3, -2, -1))
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(data_range**2 / mse)


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def _filter_valid(img: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Separable 'valid' filtering over axes (-3, -2) of (..., H, W, C)."""
    k = len(g)
    h, w = img.shape[-3], img.shape[-2]
    rows = sum(g[i] * img[..., i : h - k + 1 + i, :, :] for i in range(k))
    return sum(g[i] * rows[..., :, i : w - k + 1 + i, :] for i in range(k))


def ssim(
    pred: np.ndarray,
    target: np.ndarray,
    data_range: float = 1.0,
    win: int = 11,
    sigma: float = 1.5,
) -> np.ndarray:
    """Mean SSIM per image over (..., H, W, C) images (window shrinks for images < 11 px)."""
    x, y = np.asarray(pred, np.float64), np.asarray(target, np.float64)
    win = min(win, x.shape[-3], x.shape[-2])
    g = _gaussian_window(win, sigma)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mx, my = _filter_valid(x, g), _filter_valid(y, g)
    sxx = _filter_valid(x * x, g) - mx * mx
    syy = _filter_valid(y * y, g) - my * my
    sxy = _filter_valid(x * y, g) - mx * my
    s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    return s.mean(axis=(-3, -2, -1))
