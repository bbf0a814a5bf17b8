"""Metric functions of compass_nav.evaluation.metrics against hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from compass_nav.evaluation import metrics as M


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [
        # Wilson 95% intervals (z = 1.96) as tabulated in textbooks.
        (8, 10, 0.4902, 0.9433),
        (5, 10, 0.2366, 0.7634),
        (0, 10, 0.0, 0.2775),
        (10, 10, 0.7225, 1.0),
        (50, 100, 0.4038, 0.5962),
        (1, 200, 0.0009, 0.0277),
    ],
)
def test_wilson_known_values(k, n, low, high):
    lo, hi = M.wilson_interval(k, n)
    assert lo == pytest.approx(low, abs=1e-4)
    assert hi == pytest.approx(high, abs=1e-4)


def test_wilson_matches_scipy():
    stats = pytest.importorskip("scipy.stats")
    for n in (1, 7, 40, 333):
        for k in sorted({0, 1, n // 3, n - 1, n}):
            ref = stats.binomtest(k, n).proportion_ci(0.95, method="wilson")
            lo, hi = M.wilson_interval(k, n)
            assert lo == pytest.approx(ref.low, abs=1e-9)
            assert hi == pytest.approx(ref.high, abs=1e-9)


def test_wilson_by_hand():
    # k=3, n=4, z=2: p=.75, centre=(.75+4/8)/(1+1)=.625, half=2*sqrt(.75*.25/4+4/64)/2=.3536.
    lo, hi = M.wilson_interval(3, 4, z=2.0)
    assert lo == pytest.approx(0.625 - math.sqrt(0.046875 + 0.0625), abs=1e-12)
    assert hi == pytest.approx(0.625 + math.sqrt(0.046875 + 0.0625), abs=1e-12)
    assert M.wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError):
        M.wilson_interval(5, 4)


def test_spl_by_hand():
    success = np.array([True, True, False, True])
    travelled = np.array([5.0, 4.0, 3.0, 2.9])
    ref = np.array([4.0, 4.0, 3.0, 3.0])
    # 4/5, 4/4, failure 0, shorter-than-reference path counts as 1.
    np.testing.assert_allclose(M.spl(success, travelled, ref), [0.8, 1.0, 0.0, 1.0])


def test_wtt_by_hand():
    s = np.array([1, 1, 0, 0], bool)
    t = np.array([10.0, 20.0, 30.0, 30.0])
    # mean successful travel time 15 s, SR 0.5 -> 30 s.
    assert M.success_weighted_travel_time(s, t) == pytest.approx(30.0)
    assert M.success_weighted_travel_time(np.ones(3, bool), np.array([3.0, 6.0, 9.0])) == 6.0
    assert math.isnan(M.success_weighted_travel_time(np.zeros(4, bool), t))


def test_bootstrap_deterministic_and_contains_mean():
    x = np.random.default_rng(3).normal(5.0, 2.0, 120)
    a = M.bootstrap_ci(x, lambda b: b.mean(1), n_boot=1000, seed=7)
    b = M.bootstrap_ci(x, lambda b: b.mean(1), n_boot=1000, seed=7)
    c = M.bootstrap_ci(x, lambda b: b.mean(1), n_boot=1000, seed=8)
    assert a == b
    assert a != c
    assert a[0] < x.mean() < a[1]
    # About the normal-theory width: 2 * 1.96 * s / sqrt(n).
    width = 2 * 1.96 * x.std(ddof=1) / math.sqrt(x.size)
    assert a[1] - a[0] == pytest.approx(width, rel=0.2)
    assert all(math.isnan(v) for v in M.bootstrap_ci(np.zeros(0), lambda b: b.mean(1)))


def test_summarize_by_hand():
    s = np.array([1, 1, 1, 0, 0], bool)
    c = np.array([0, 0, 0, 1, 0], bool)
    to = np.array([0, 0, 0, 0, 1], bool)
    t = np.array([4.0, 6.0, 8.0, 2.0, 30.0])
    spl = np.array([1.0, 0.5, 0.9, 0.0, 0.0])
    m = M.summarize(s, c, to, t, spl, n_boot=500, seed=1)
    assert (m["n"], m["successes"], m["collisions"], m["timeouts"]) == (5, 3, 1, 1)
    assert m["sr"] == pytest.approx(0.6)
    assert m["collision_rate"] == pytest.approx(0.2)
    assert m["timeout_rate"] == pytest.approx(0.2)
    assert m["spl"] == pytest.approx(0.48)
    assert m["travel_time"] == pytest.approx(6.0)
    assert m["wtt"] == pytest.approx(10.0)
    assert m["sr_ci"] == pytest.approx(list(M.wilson_interval(3, 5)))
    assert m["spl_ci"][0] <= m["spl"] <= m["spl_ci"][1]
    assert m["travel_time_ci"][0] <= 6.0 <= m["travel_time_ci"][1]
    lo, hi = m["wtt_ci"]
    assert lo <= 10.0 <= hi  # hi may be inf: some resamples hold no success


def test_summarize_without_success():
    z = np.zeros(4, bool)
    m = M.summarize(z, z, ~z, np.full(4, 30.0), np.zeros(4), n_boot=200)
    assert m["sr"] == 0.0 and m["timeout_rate"] == 1.0
    assert math.isnan(m["wtt"]) and math.isnan(m["travel_time"])
    assert all(math.isnan(v) for v in m["wtt_ci"])


def test_line_strata_counts_and_intervals():
    success = np.array([1, 0, 1, 1, 0, 1], bool)
    blocked = np.array([1, 1, 0, 0, 0, 1], bool)
    m = M.line_strata(success, blocked)
    assert (m["blocked_n"], m["blocked_successes"], m["clear_n"], m["clear_successes"]) == (
        3,
        2,
        3,
        2,
    )
    assert m["blocked_sr"] == pytest.approx(2 / 3)
    assert m["blocked_sr_ci"] == list(M.wilson_interval(2, 3))
    # An empty stratum: NaN SR, the uninformative interval.
    none = M.line_strata(success, np.zeros(6, bool))
    assert none["blocked_n"] == 0 and math.isnan(none["blocked_sr"])
    assert none["blocked_sr_ci"] == [0.0, 1.0] and none["clear_n"] == 6
    with pytest.raises(ValueError, match="shape"):
        M.line_strata(success, blocked[:3])
