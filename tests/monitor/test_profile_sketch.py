"""The fixed-grid histogram sketch, HyperLogLog, and the statistics computed on them, against scipy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats

from monitor.profile import codec, hll, stats
from monitor.profile.kernel import numeric_stats
from monitor.profile.partials import GroupStats
from monitor.profile.sketch import Histogram, binned, bucket_keys, decile_cuts, key_bounds

finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12)


@settings(max_examples=100, deadline=None)
@given(st.lists(finite, min_size=1, max_size=200))
def test_every_value_lies_in_its_bucket_and_keys_keep_the_order(values: list[float]) -> None:
    x = np.array(values)
    keys = bucket_keys(x)
    lower, upper = key_bounds(keys)
    assert np.all(lower <= x) and np.all(x <= upper)
    order = np.argsort(x, kind="stable")
    assert np.all(np.diff(keys[order]) >= 0)


def test_buckets_are_at_most_one_128th_of_the_value_wide() -> None:
    x = np.geomspace(1e-6, 1e9, 10_000)
    lower, upper = key_bounds(bucket_keys(np.concatenate([x, -x])))
    assert np.max((upper - lower) / np.maximum(np.abs(lower), np.abs(upper))) <= 1 / 128 + 1e-12


def test_minus_zero_and_zero_share_a_bucket() -> None:
    assert bucket_keys(np.array([0.0]))[0] == bucket_keys(np.array([-0.0]))[0]


@settings(max_examples=50, deadline=None)
@given(st.lists(finite, min_size=1, max_size=300), st.integers(1, 5))
def test_merging_histograms_equals_the_histogram_of_all_values(values: list[float], parts: int) -> None:
    x = np.array(values)
    merged = Histogram.empty()
    for chunk in np.array_split(x, parts):
        merged = merged.merge(Histogram.of(chunk))
    whole = Histogram.of(x)
    assert merged.keys.tolist() == whole.keys.tolist() and merged.counts.tolist() == whole.counts.tolist()
    assert merged.total == x.size


def test_quantiles_are_within_a_bucket_of_numpy() -> None:
    rng = np.random.default_rng(3)
    for x in (rng.normal(5, 2, 200_000), rng.lognormal(0, 2, 200_000), rng.uniform(-1, 1, 200_000)):
        probs = np.linspace(0, 1, 101)
        ours = Histogram.of(x).quantiles(probs, float(x.min()), float(x.max()))
        exact = np.quantile(x, probs)
        assert np.all(np.abs(ours - exact) <= np.abs(exact) / 64 + 1e-3 * np.std(x))


def test_decile_bins_of_the_reference_hold_about_a_tenth_each_and_exact_counts() -> None:
    rng = np.random.default_rng(4)
    ref, cur = rng.normal(size=100_000), rng.normal(0.3, 1, 50_000)
    hist = Histogram.of(ref)
    cuts = decile_cuts(hist)
    p = binned(hist, cuts)
    assert len(p) == 10 and np.all(np.abs(p / p.sum() - 0.1) < 0.01)
    edges = key_bounds(cuts)[1]
    assert binned(Histogram.of(cur), cuts).tolist() == stats.bin_counts(cur, edges).tolist()


def test_a_constant_reference_has_one_bin() -> None:
    hist = Histogram.of(np.full(1000, 7.0))
    assert decile_cuts(hist).size == 0 and binned(hist, decile_cuts(hist)).tolist() == [1000.0]


@pytest.mark.parametrize("shift", [0.0, 0.05, 0.5])
def test_ks_from_histograms_is_within_its_bound_of_ks_2samp(shift: float) -> None:
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=20_000), rng.normal(shift, 1.2, 15_000)
    result = stats.ks_from_histograms(Histogram.of(a), Histogram.of(b))
    exact = scipy_stats.ks_2samp(a, b)
    assert abs(result.statistic - exact.statistic) <= result.error_bound
    assert result.error_bound < 0.01
    assert result.pvalue == pytest.approx(float(exact.pvalue), rel=0.5, abs=0.05)


@pytest.mark.parametrize("kind", ["normal", "lognormal", "mixed"])
def test_wasserstein_from_histograms_is_within_one_percent_of_scipy(kind: str) -> None:
    rng = np.random.default_rng(6)
    if kind == "normal":
        a, b = rng.normal(size=30_000), rng.normal(0.4, 1.3, 20_000)
    elif kind == "lognormal":
        a, b = rng.lognormal(0, 1, 30_000), rng.lognormal(0.2, 1, 20_000)
    else:
        a, b = np.concatenate([rng.normal(-3, 1, 10_000), rng.exponential(2, 10_000)]), rng.normal(0, 2, 20_000)
    ours = stats.wasserstein_from_histograms(Histogram.of(a), Histogram.of(b))
    assert ours == pytest.approx(scipy_stats.wasserstein_distance(a, b), rel=0.01)
    normed = stats.normed(ours, float(np.std(a, ddof=1)))
    assert normed == pytest.approx(ours / np.std(a, ddof=1))
    assert stats.normed(ours, 0.0) is None and stats.normed(ours, None) is None


def test_wasserstein_of_identical_sketches_is_zero() -> None:
    hist = Histogram.of(np.random.default_rng(7).normal(size=1000))
    assert stats.wasserstein_from_histograms(hist, hist) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("distinct", [1, 5, 300, 20_000, 200_000])
def test_hyperloglog_estimates_distinct_counts_within_five_percent(distinct: int) -> None:
    rng = np.random.default_rng(distinct)
    values = rng.integers(0, distinct, size=distinct * 3).astype(float)
    truth = np.unique(values).size
    halves = np.array_split(values, 2)
    merged = hll.merge(hll.registers(halves[0]), hll.registers(halves[1]))
    assert hll.estimate(merged) == pytest.approx(truth, rel=0.05, abs=1)
    assert hll.estimate(hll.empty()) == 0


def test_statistics_survive_the_codec() -> None:
    x = np.random.default_rng(8).normal(size=5000)
    x[:10] = np.nan
    group = GroupStats(rows=5000, columns={"x": numeric_stats(x, None)})
    back = codec.decode(codec.encode(group))
    assert back.rows == 5000
    a, b = group.columns["x"], back.columns["x"]
    assert a.moments == b.moments and (a.nan, a.min, a.max) == (b.nan, b.min, b.max)
    assert a.hist.keys.tolist() == b.hist.keys.tolist() and np.array_equal(a.registers, b.registers)
