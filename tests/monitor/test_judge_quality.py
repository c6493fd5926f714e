"""Model quality against the baseline and absolute limits, custom business metrics, fairness, and trend."""

from __future__ import annotations

import math

import pytest

from monitor.observations import Scope
from monitor.risk import Assessment, judge
from monitor.risk.trend import fit
from tests.monitor.judge_support import model, prior, profile, table, window


def found(a: Assessment, signal: str | None = None) -> list[tuple[str, str, str]]:
    return [(f.signal, f.statistic, f.tier) for f in a.findings if signal is None or f.signal == signal]


def base(**metrics: float) -> tuple:  # type: ignore[type-arg]
    return (table(5000, log_type="BASELINE", **metrics),)


@pytest.mark.parametrize(("window_f1", "tier"), [
    (0.80, None), (0.78, "low"), (0.75, "medium"), (0.70, "high"), (0.60, "critical"),
])
def test_classification_defaults_to_macro_f1_drop_from_the_baseline(window_f1: float, tier: str | None) -> None:
    w = window(table(1000, **{"f1_score.macro": window_f1, "accuracy_score": 0.9}),
               baseline=base(**{"f1_score.macro": 0.80, "accuracy_score": 0.9}))
    assert found(judge(model(), w)) == ([] if tier is None else [("model_quality", "f1_score.macro drop", tier)])


@pytest.mark.parametrize(("r2", "tier"), [(0.7, None), (0.64, "low"), (0.55, "medium"), (0.45, "high"),
                                          (0.2, "critical")])
def test_regression_defaults_to_r2_drop(r2: float, tier: str | None) -> None:
    w = window(table(1000, r2_score=r2, root_mean_squared_error=3.0), baseline=base(r2_score=0.7))
    assert found(judge(model(), w)) == ([] if tier is None else [("model_quality", "r2_score drop", tier)])


def test_floors_for_greater_is_better_and_ceilings_for_smaller_is_better() -> None:
    m = model(model_quality={"metrics": [
        {"metric": "accuracy_score", "floor": {"medium": 0.85, "high": 0.8}},
        {"metric": "root_mean_squared_error", "ceiling": {"high": 5.0}},
    ]})
    a = judge(m, window(table(1000, accuracy_score=0.82, root_mean_squared_error=6.0)))
    assert sorted(found(a)) == [("model_quality", "accuracy_score", "medium"),
                                ("model_quality", "root_mean_squared_error", "high")]
    assert "<= medium 0.85" in next(f.describe() for f in a.findings if f.statistic == "accuracy_score")


def test_relative_drop_is_a_share_of_the_baseline() -> None:
    m = model(model_quality={"metrics": [{"metric": "root_mean_squared_error", "relative": True,
                                          "drop": {"medium": 0.25, "high": 0.5}}]})
    a = judge(m, window(table(1000, root_mean_squared_error=6.3), baseline=base(root_mean_squared_error=4.0)))
    assert found(a) == [("model_quality", "root_mean_squared_error relative drop", "high")]
    assert a.findings[0].value == pytest.approx(0.575)


def test_quality_without_baseline_or_labels_or_rows_is_skipped_with_reasons() -> None:
    no_base = judge(model(), window(table(1000, **{"f1_score.macro": 0.5})))
    f1 = base(**{"f1_score.macro": 0.8})
    no_labels = judge(model(), window(table(1000, **{"f1_score.macro": None}), baseline=f1))
    small = judge(model(), window(table(50, **{"f1_score.macro": 0.1}), baseline=f1))
    reasons = [[n.reason for n in a.skipped if n.signal == "model_quality"] for a in (no_base, no_labels, small)]
    assert reasons == [["no baseline value of f1_score.macro to compare with"],
                       ["f1_score.macro is NULL (no labelled rows yet?)"],
                       ["window has 50 rows, below min_count 200"]]


def test_a_configured_metric_the_table_lacks_is_skipped() -> None:
    m = model(model_quality={"metrics": [{"metric": "roc_auc", "drop": {"high": 0.1}}]})
    a = judge(m, window(table(1000, accuracy_score=0.9)))
    reasons = [n.reason for n in a.skipped if n.signal == "model_quality"]
    assert reasons == ["roc_auc is not in the profile metrics table"]


@pytest.mark.parametrize(("value", "tier"), [(900.0, None), (1000.0, "medium"), (5000.0, "critical")])
def test_custom_business_metric_with_thresholds(value: float, tier: str | None) -> None:
    m = model(custom_metrics=[{"name": "expected_loss", "thresholds": {"medium": 1000, "critical": 5000}}])
    a = judge(m, window(table(1000, expected_loss=value)))
    assert found(a, "custom_metric") == ([] if tier is None else [("custom_metric", "expected_loss", tier)])


def test_custom_metric_with_floors_against_the_baseline() -> None:
    m = model(custom_metrics=[{"name": "revenue", "description": "revenue at risk", "against_baseline": True,
                               "floors": {"medium": -100, "high": -500}}])
    a = judge(m, window(table(1000, revenue=1000.0), baseline=base(revenue=1600.0)))
    assert found(a, "custom_metric") == [("custom_metric", "revenue change", "high")]
    assert "revenue at risk: baseline 1.6e+03" in a.findings[0].describe()


def test_custom_drift_metric_from_the_drift_table() -> None:
    from tests.monitor.judge_support import drift

    m = model(custom_metrics=[{"name": "hellinger", "table": "drift", "column": "age", "thresholds": {"high": 0.3}}])
    a = judge(m, window(drift("age", js_distance=0.0, hellinger=0.4)))
    assert found(a, "custom_metric") == [("custom_metric", "hellinger", "high")]


def _slice(value: str, accuracy: float, positive: float, count: int = 500) -> tuple:  # type: ignore[type-arg]
    scope = Scope("age > 60", value)
    return (table(count, scope=scope, accuracy_score=accuracy),
            profile("prediction", count, scope=scope, metrics={"avg": positive}))


def test_fairness_gaps_between_true_and_false_of_a_boolean_slice() -> None:
    m = model(fairness={"slices": ["age > 60"]})
    a = judge(m, window(*_slice("true", 0.70, 0.50), *_slice("false", 0.86, 0.45)))
    assert sorted(found(a, "fairness")) == [("fairness", "accuracy_score gap", "medium")]
    assert "true 0.7 vs false 0.86" in a.findings[0].describe()


def test_fairness_needs_rows_on_both_sides() -> None:
    m = model(fairness={"slices": ["age > 60"]})
    a = judge(m, window(*_slice("true", 0.5, 0.9, count=20), *_slice("false", 0.9, 0.1)))
    assert found(a, "fairness") == []
    assert any("each side of the slice needs 100 rows" in n.reason for n in a.skipped)


def test_fairness_reads_the_monitors_own_columns_when_asked() -> None:
    m = model(fairness={"slices": ["age > 60"], "metrics": ["statistical_parity"]})
    scope_t, scope_f = Scope("age > 60", "true"), Scope("age > 60", "false")
    a = judge(m, window(table(500, scope=scope_t, statistical_parity=-0.25), table(500, scope=scope_f)))
    assert found(a, "fairness") == [("fairness", "statistical_parity", "high")]


def _f1_history(values: list[float]) -> list:  # type: ignore[type-arg]
    name = "quality:f1_score.macro@=@"
    return [prior(i, **{name: v}) for i, v in enumerate(values)]


def test_trend_forecasts_when_a_falling_metric_crosses_its_limit() -> None:
    history = _f1_history([0.80, 0.79, 0.78, 0.77, 0.76])
    w = window(table(1000, **{"f1_score.macro": 0.765}), baseline=base(**{"f1_score.macro": 0.80}), index=5)
    a = judge(model(), w, history)
    [trend] = [f for f in a.findings if f.signal == "trend"]
    # limit: baseline 0.80 minus the medium drop 0.05 = 0.75; about 0.01 per window from ~0.75
    assert trend.statistic == "windows_to_limit" and trend.tier in ("high", "critical")
    assert "falls 0.0" in trend.detail and "reaches 0.75" in trend.detail


def test_a_flat_or_rising_or_noisy_series_is_no_trend() -> None:
    flat = judge(model(), window(table(1000, **{"f1_score.macro": 0.8}), baseline=base(**{"f1_score.macro": 0.8}),
                                 index=5), _f1_history([0.8] * 5))
    noisy = judge(model(), window(table(1000, **{"f1_score.macro": 0.79}), baseline=base(**{"f1_score.macro": 0.8}),
                                  index=5), _f1_history([0.80, 0.80, 0.77, 0.80, 0.76]))
    for a in (flat, noisy):
        assert found(a, "trend") == []
    assert any("no clear trend" in n.reason for n in noisy.not_raised if n.signal == "trend")


def test_trend_needs_enough_windows() -> None:
    a = judge(model(), window(table(1000, **{"f1_score.macro": 0.79}), baseline=base(**{"f1_score.macro": 0.8}),
                              index=2), _f1_history([0.8, 0.795]))
    assert any("3 of the 6 windows" in n.reason for n in a.skipped if n.signal == "trend")


def test_least_squares_fit() -> None:
    slope, intercept, r2 = fit([0, 1, 2, 3], [1.0, 3.0, 5.0, 7.0])
    assert (slope, intercept, r2) == (2.0, 1.0, 1.0)
    assert fit([0, 1, 2], [4.0, 4.0, 4.0])[2] == 0.0
    assert math.isclose(fit([0, 1, 2, 3], [0.0, 1.0, 0.0, 1.0])[2], 0.2)
