"""The pure statistics of monitor/profile/stats.py and quality.py, checked against scipy and sklearn."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats
from scipy.spatial.distance import jensenshannon
from sklearn import metrics

from monitor.profile import stats
from monitor.profile.partials import Moments, RegressionStats
from monitor.profile.quality import classification_quality, regression_quality, roc_auc
from monitor.profile.sketch import Histogram

counts = st.lists(st.integers(min_value=0, max_value=10_000), min_size=2, max_size=12)


def _pairs(draw_counts: list[int], other: list[int]) -> tuple[np.ndarray, np.ndarray]:
    n = min(len(draw_counts), len(other))
    return np.array(draw_counts[:n], dtype=float), np.array(other[:n], dtype=float)


# -- reference values (docs/external/statistics.md, "Reference values") ------------------------------


def test_js_distance_contract_values() -> None:
    assert stats.js_distance([0.5, 0.5, 0], [0.48, 0.5, 0.02]) == pytest.approx(0.10073, abs=1e-5)
    assert stats.js_distance([1, 0], [0, 1]) == pytest.approx(1.0)


def test_chi_square_contract_value_keeps_the_unseen_category_finite() -> None:
    result = stats.chi_square([500, 500, 0], [480, 500, 20])
    assert result.statistic == pytest.approx(20.408, abs=1e-3)
    assert result.pvalue == pytest.approx(3.70e-5, rel=1e-2)
    assert result.unseen_categories == 1
    assert math.isfinite(result.statistic)


def test_psi_no_drift_mean_matches_the_contract() -> None:
    rng = np.random.default_rng(0)
    edges = np.quantile(rng.normal(size=200_000), np.arange(1, 10) / 10)
    values = [stats.psi(stats.bin_counts(rng.normal(size=10_000), edges),
                        stats.bin_counts(rng.normal(size=10_000), edges)) for _ in range(200)]
    assert float(np.mean(values)) == pytest.approx(0.0018, rel=0.25)


# -- against scipy ------------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(counts, counts)
def test_js_distance_equals_scipy_base_2(a: list[int], b: list[int]) -> None:
    p, q = _pairs(a, b)
    if p.sum() == 0 or q.sum() == 0:
        return
    assert stats.js_distance(p, q) == pytest.approx(float(jensenshannon(p, q, base=2)), abs=1e-9)
    assert 0.0 <= stats.js_distance(p, q) <= 1.0


@settings(max_examples=100, deadline=None)
@given(counts, counts)
def test_chi_square_equals_scipy_contingency_on_seen_categories(a: list[int], b: list[int]) -> None:
    p, q = _pairs(a, b)
    keep = (p + q) > 0
    if p.sum() == 0 or q.sum() == 0 or keep.sum() < 2:
        return
    expected = scipy_stats.chi2_contingency(np.vstack([p[keep], q[keep]]))
    result = stats.chi_square(p, q)
    assert result.statistic == pytest.approx(float(expected.statistic), rel=1e-9, abs=1e-9)
    assert result.pvalue == pytest.approx(float(expected.pvalue), rel=1e-9, abs=1e-12)


@settings(max_examples=100, deadline=None)
@given(counts, counts)
def test_distances_are_bounded_and_symmetric_where_defined(a: list[int], b: list[int]) -> None:
    p, q = _pairs(a, b)
    if p.sum() == 0 or q.sum() == 0:
        return
    assert 0.0 <= stats.tv_distance(p, q) <= 1.0 + 1e-12
    assert stats.l_infinity_distance(p, q) <= stats.tv_distance(p, q) + 1e-12
    assert stats.tv_distance(p, q) == pytest.approx(stats.tv_distance(q, p))
    assert stats.psi(p, q) >= 0.0
    assert 0.0 <= stats.hellinger_distance(p, q) <= 1.0


def test_ks_from_bins_equals_ks_2samp_for_data_on_the_bin_edges() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.integers(0, 6, 3_000), rng.integers(0, 7, 2_000)
    edges = [0, 1, 2, 3, 4, 5]
    result = stats.ks_from_bins(stats.bin_counts(a, edges), stats.bin_counts(b, edges))
    expected = scipy_stats.ks_2samp(a, b, method="asymp")
    assert result.statistic == pytest.approx(float(expected.statistic))
    assert result.pvalue == pytest.approx(float(expected.pvalue), rel=1e-6)


def test_ks_error_bound_is_the_largest_bin_mass() -> None:
    result = stats.ks_from_bins([10, 30, 60], [20, 20, 60])
    assert result.statistic == pytest.approx(0.1)
    assert result.error_bound == pytest.approx(0.6)


def test_psi_uses_epsilon_for_empty_bins() -> None:
    value = stats.psi([50, 50, 0], [50, 40, 10])
    p, q = np.array([0.5, 0.5, 1e-4]), np.array([0.5, 0.4, 0.1])
    assert value == pytest.approx(float(np.sum((q - p) * np.log(q / p))))
    assert math.isfinite(value)


def test_wasserstein_from_quantiles_of_a_shift_is_the_shift() -> None:
    grid = np.linspace(0, 1, 101)
    quantiles = scipy_stats.norm.ppf(np.clip(grid, 0.001, 0.999))
    assert stats.wasserstein_from_quantiles(quantiles, quantiles + 2.5) == pytest.approx(2.5)


def test_bin_counts_follow_the_sql_rule_value_equal_to_an_edge_goes_left() -> None:
    assert stats.bin_counts([0, 1, 1.5, 2, 3, float("nan")], [1, 2]).tolist() == [2, 2, 1]


def test_mismatched_or_empty_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="equal length"):
        stats.js_distance([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="empty"):
        stats.psi([0, 0], [1, 1])


# -- model quality ------------------------------------------------------------------------------------


def test_classification_quality_equals_sklearn() -> None:
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 3, 500)
    preds = np.where(rng.random(500) < 0.7, labels, rng.integers(0, 3, 500))
    confusion: dict[tuple[str, str], int] = {}
    for pred, label in zip(preds, labels, strict=True):
        confusion[(str(pred), str(label))] = confusion.get((str(pred), str(label)), 0) + 1
    quality = classification_quality(confusion)
    assert quality is not None
    assert quality.accuracy == pytest.approx(metrics.accuracy_score(labels, preds))
    for average in ("macro", "weighted"):
        assert getattr(quality.f1, average) == pytest.approx(metrics.f1_score(labels, preds, average=average))
        assert getattr(quality.precision, average) == pytest.approx(
            metrics.precision_score(labels, preds, average=average, zero_division=0))
        assert getattr(quality.recall, average) == pytest.approx(
            metrics.recall_score(labels, preds, average=average, zero_division=0))


def test_classification_quality_without_labels_is_none() -> None:
    assert classification_quality({}) is None


def test_roc_auc_from_score_histograms_equals_sklearn() -> None:
    rng = np.random.default_rng(9)
    labels = rng.integers(0, 2, 20_000)
    scores = np.clip(rng.normal(0.35 + 0.3 * labels, 0.2), 0, 1)
    hists = {str(k): Histogram.of(scores[labels == k]) for k in (0, 1)}
    assert roc_auc(hists) == pytest.approx(metrics.roc_auc_score(labels, scores), abs=2e-3)
    assert roc_auc(hists, positive="0") == pytest.approx(1 - metrics.roc_auc_score(labels, scores), abs=2e-3)
    discrete = np.round(scores, 1)  # ties: counted as half a win, as sklearn does
    hists = {str(k): Histogram.of(discrete[labels == k]) for k in (0, 1)}
    assert roc_auc(hists) == pytest.approx(metrics.roc_auc_score(labels, discrete), abs=1e-9)
    assert roc_auc({"1": Histogram.of(scores)}) is None


def test_regression_quality_equals_sklearn() -> None:
    rng = np.random.default_rng(10)
    y = rng.normal(50, 10, 5_000)
    y[:5] = 0.0  # MAPE skips zero labels
    pred = y + rng.normal(0, 3, 5_000)
    e = pred - y
    nonzero = y != 0
    sums = RegressionStats(y.size, float(e @ e), float(np.abs(e).sum()), float(np.abs(e[nonzero] / y[nonzero]).sum()),
                           int(nonzero.sum()), Moments(y.size, float(y.mean()), float(((y - y.mean()) ** 2).sum())))
    quality = regression_quality(sums)
    assert quality is not None
    assert quality.mean_squared_error == pytest.approx(metrics.mean_squared_error(y, pred))
    assert quality.root_mean_squared_error == pytest.approx(np.sqrt(metrics.mean_squared_error(y, pred)))
    assert quality.mean_average_error == pytest.approx(metrics.mean_absolute_error(y, pred))
    assert quality.r2_score == pytest.approx(metrics.r2_score(y, pred))
    assert quality.mean_absolute_percentage_error == pytest.approx(
        metrics.mean_absolute_percentage_error(y[nonzero], pred[nonzero]))
    assert regression_quality(RegressionStats()) is None


def test_hellinger_matches_its_definition() -> None:
    p, q = np.array([0.5, 0.5, 0.0]), np.array([0.48, 0.5, 0.02])
    assert stats.hellinger_distance(p, q) == pytest.approx(np.sqrt(1 - np.sum(np.sqrt(p * q))))
    assert stats.hellinger_distance([1, 0], [0, 1]) == pytest.approx(1.0)
