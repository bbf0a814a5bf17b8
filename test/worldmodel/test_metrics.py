"""The offline-evaluation metrics against hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from compass_nav.worldmodel import metrics as M


def test_pearson_hand_case():
    # x = (1, 2, 3), y = (1, 3, 2): dx = (-1, 0, 1), dy = (-1, 1, 0) -> 1 / sqrt(2 * 2) = 0.5
    assert M.pearson([1, 2, 3], [1, 3, 2]) == pytest.approx(0.5)
    assert M.pearson([0, 1], [5, 7]) == pytest.approx(1.0)
    assert M.pearson([0, 1, 2], [2, 1, 0]) == pytest.approx(-1.0)
    assert math.isnan(M.pearson([1, 1, 1], [0, 1, 2]))


def test_rankdata_ties_get_average_rank():
    np.testing.assert_allclose(M.rankdata([10, 20, 20, 5]), [2.0, 3.5, 3.5, 1.0])


def test_spearman_and_kendall_hand_cases():
    # Monotone but non-linear: rank correlations are exactly 1.
    x, y = [0.1, 0.2, 0.3, 0.9], [0.0, 0.01, 0.5, 0.51]
    assert M.spearman(x, y) == pytest.approx(1.0)
    assert M.kendall(x, y) == pytest.approx(1.0)
    # One swapped adjacent pair out of 4 items: 5 concordant, 1 discordant -> tau = 4/6.
    assert M.kendall([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(4 / 6)
    # Spearman of ranks (1,3,2,4): d = (0,1,-1,0), 1 - 6*2/(4*15) = 0.8
    assert M.spearman([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8)


def test_kendall_tau_b_with_ties():
    # x = (1, 1, 2), y = (1, 2, 3): pairs (0,1) tie in x, (0,2) and (1,2) concordant.
    # tau_b = 2 / sqrt((3 - 1) * (3 - 0)) = 2 / sqrt(6)
    assert M.kendall([1, 1, 2], [1, 2, 3]) == pytest.approx(2 / math.sqrt(6))


def test_mmrv_hand_case():
    real = np.array([0.9, 0.5, 0.1])
    assert M.mmrv(real, real) == 0.0
    # The prediction swaps policies 0 and 1 (gap 0.4); policy 2 is ordered correctly.
    # Violations: i=0 -> max 0.4, i=1 -> 0.4, i=2 -> 0  => mean 0.8 / 3.
    assert M.mmrv(real, [0.5, 0.6, 0.0]) == pytest.approx(0.8 / 3)
    # Fully reversed: i=0 worst partner 2 (0.8), i=1 -> 0.4, i=2 -> 0.8.
    assert M.mmrv(real, [0.1, 0.5, 0.9]) == pytest.approx((0.8 + 0.4 + 0.8) / 3)


def test_pairwise_accuracy_hand_case():
    real = [0.9, 0.5, 0.1, 0.1]
    # Pairs with different real values: (0,1) (0,2) (0,3) (1,2) (1,3) = 5.
    # pred orders (0,1) wrongly, ties (2,?) none; so 4/5 correct.
    assert M.pairwise_accuracy(real, [0.5, 0.6, 0.0, 0.2]) == pytest.approx(4 / 5)
    # A predicted tie on a real difference counts one half: pair (0,1) tied -> 4.5/5.
    assert M.pairwise_accuracy(real, [0.6, 0.6, 0.0, 0.2]) == pytest.approx(4.5 / 5)


def test_mae():
    assert M.mae([0.0, 1.0], [0.5, 0.5]) == pytest.approx(0.5)


def test_bootstrap_point_and_interval():
    rng = np.random.default_rng(0)
    real = (rng.random((6, 40)) < np.linspace(0.1, 0.9, 6)[:, None]).astype(float)
    # A perfect predictor: every resample gives MAE 0 and MMRV 0.
    for unit in ("policies", "episodes", "both"):
        v, lo, hi = M.bootstrap_ci(M.mae, real, real.copy(), n_boot=50, unit=unit)
        assert (v, lo, hi) == (0.0, 0.0, 0.0)
    # A constant offset of 0.1 on every episode: MAE is 0.1 in every resample.
    v, lo, hi = M.bootstrap_ci(M.mae, real, real + 0.1, n_boot=50)
    assert v == pytest.approx(0.1) and lo == pytest.approx(0.1) and hi == pytest.approx(0.1)
    # Pearson of a noisy predictor: the interval contains the point estimate.
    pred = np.clip(real + rng.normal(0, 0.4, real.shape), 0, 1)
    v, lo, hi = M.bootstrap_ci(M.pearson, real, pred, n_boot=200, seed=1)
    assert lo <= v <= hi and hi - lo > 0.0


def test_bootstrap_rejects_bad_input():
    with pytest.raises(ValueError, match="unit"):
        M.bootstrap_ci(M.mae, np.zeros((2, 3)), np.zeros((2, 3)), unit="nope")
    with pytest.raises(ValueError, match="shape"):
        M.bootstrap_ci(M.mae, np.zeros((2, 3)), np.zeros((3, 2)))


def test_psnr_hand_case():
    a = np.zeros((4, 4, 3))
    b = np.full((4, 4, 3), 0.1)  # MSE 0.01 -> 20 dB
    assert M.psnr(b, a) == pytest.approx(20.0)
    assert math.isinf(M.psnr(a, a))
    assert M.psnr(np.stack([b, b]), np.stack([a, a])).shape == (2,)


def test_ssim_properties():
    rng = np.random.default_rng(0)
    x = rng.random((16, 16, 3))
    assert M.ssim(x, x) == pytest.approx(1.0)
    # Constant images with different means: structure/contrast terms are 1, luminance is
    # (2 * 0.2 * 0.4 + c1) / (0.04 + 0.16 + c1).
    c1 = 0.01**2
    expected = (2 * 0.2 * 0.4 + c1) / (0.2**2 + 0.4**2 + c1)
    assert M.ssim(np.full((16, 16, 1), 0.2), np.full((16, 16, 1), 0.4)) == pytest.approx(expected)
    noisy = np.clip(x + rng.normal(0, 0.2, x.shape), 0, 1)
    assert M.ssim(noisy, x) < 0.9
