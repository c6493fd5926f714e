"""Risk: tiers, findings, the score and the severity, against the documented rules."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from config.basics.severity import ALERT_SEVERITIES
from config.models import ModelSettings
from config.signals import Tiers
from monitor.observations import ColumnDrift, ColumnProfile, Scope, WindowMetrics
from monitor.risk import Finding, judge, risk_score, severity_for

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def model(lakehouse_slices: list[str] | None = None, **signals: object) -> ModelSettings:
    return ModelSettings.model_validate({
        "name": "churn", "sources": {"lakehouse": {"table": "main.ml.t", "label_column": "label",
                                                   "slices": lakehouse_slices or []}},
        "signals": signals,
    })


def window(drift: dict[str, float | None], rows: int = 1000, nulls: dict[str, float] | None = None) -> WindowMetrics:
    return WindowMetrics(
        model="churn", source="test", granularity="1 hour", window_start=T0, window_end=T0 + timedelta(hours=1),
        monitor_version=0, row_count=rows,
        drift=tuple(ColumnDrift(c, "BASELINE", {"js_distance": v}) for c, v in drift.items()),
        profile=tuple(ColumnProfile(c, rows, int(p * rows), p) for c, p in (nulls or {}).items()),
    )


@pytest.mark.parametrize(("value", "tier"), [
    (0.05, None), (0.1, "low"), (0.19, "low"), (0.2, "medium"), (0.3, "high"), (0.49, "high"), (0.5, "critical"),
])
def test_tier_is_the_highest_threshold_reached(value: float, tier: str | None) -> None:
    assert Tiers(low=0.1, medium=0.2, high=0.3, critical=0.5).tier_of(value) == tier


def test_tiers_may_skip_levels_but_must_increase() -> None:
    assert Tiers(high=0.3).tier_of(0.9) == "high"
    with pytest.raises(ValueError, match="must increase"):
        Tiers(low=0.3, high=0.2)


def test_quiet_window_is_ok() -> None:
    a = judge(model(), window({"prediction": 0.02, "age": 0.03}))
    assert (a.risk, a.severity, a.findings) == (0.0, "ok", ())


def test_prediction_drift_at_high_makes_a_high_model() -> None:
    a = judge(model(), window({"prediction": 0.25, "age": 0.01}))
    assert a.severity == "high"
    assert a.findings[0].signal == "prediction_drift" and a.findings[0].tier == "high"
    assert "prediction drift: js_distance 0.25 on `prediction` (baseline)" in a.summary()


def test_one_feature_at_high_is_only_medium_because_features_weigh_less() -> None:
    a = judge(model(), window({"prediction": 0.0, "age": 0.35}))
    assert a.severity == "medium"
    assert a.risk == pytest.approx(100 * 0.75 * 0.8)


def test_findings_are_ranked_by_contribution() -> None:
    a = judge(model(), window({"prediction": 0.16, "age": 0.6, "tenure": 0.25}))
    assert [f.column for f in a.findings] == ["age", "prediction", "tenure"]


def test_too_few_rows_skips_with_a_reason() -> None:
    a = judge(model(), window({"prediction": 0.9}, rows=40))
    assert a.severity == "ok"
    assert any("40 rows, below min_count 100" in s.reason for s in a.skipped)


@pytest.mark.parametrize("bad", [None, math.nan, math.inf, -math.inf])
def test_null_nan_and_infinite_metrics_are_skipped_not_judged(bad: float | None) -> None:
    a = judge(model(), window({"prediction": bad, "age": 0.35}))
    assert [f.column for f in a.findings] == ["age"]
    assert [s.column for s in a.skipped if s.signal.endswith("drift")] == ["prediction"]
    assert "not a finite number" in a.skipped[0].reason or "NULL" in a.skipped[0].reason


def test_label_rows_are_label_drift_and_table_rows_are_not_drift() -> None:
    a = judge(model(), window({"label": 0.9, ":table": 0.9}))
    assert [(f.signal, f.column) for f in a.findings] == [("label_drift", "label")]


def test_one_problem_seen_in_several_scopes_counts_once() -> None:
    """The same column drifting in the whole table and in a slice is one problem, not two."""
    rows = (ColumnDrift("age", "BASELINE", {"js_distance": 0.35}),
            ColumnDrift("age", "BASELINE", {"js_distance": 0.35}, Scope("region", "eu")))
    w = WindowMetrics(model="churn", source="test", granularity="1 hour", window_start=T0,
                      window_end=T0 + timedelta(hours=1), monitor_version=0, row_count=1000, drift=rows)
    a = judge(model(lakehouse_slices=["region"]), w)
    assert len(a.findings) == 2
    assert a.risk == pytest.approx(100 * 0.75 * 0.8)


def test_ties_are_ranked_by_how_far_past_the_threshold() -> None:
    a = judge(model(), window({"age": 0.31, "tenure": 0.45}))
    assert [f.column for f in a.findings] == ["tenure", "age"]


def test_excluded_and_disabled_signals_are_not_judged() -> None:
    m = model(feature_drift={"thresholds": {"low": 0.1}, "exclude_columns": ["age"]},
              prediction_drift={"enabled": False, "thresholds": {"low": 0.1}})
    assert judge(m, window({"prediction": 0.9, "age": 0.9, "tenure": 0.2})).findings[0].column == "tenure"


def test_null_share_without_a_baseline_is_a_data_quality_finding() -> None:
    a = judge(model(), window({}, nulls={"age": 0.3}))
    found = [(f.signal, f.column, f.statistic, f.tier) for f in a.findings]
    assert found == [("data_quality", "age", "null_share", "high")]


def test_severity_tiers_on_the_score() -> None:
    tiers = Tiers(low=25, medium=50, high=75, critical=95)
    assert [severity_for(s, tiers) for s in (0, 24.9, 25, 60, 75, 94, 95, 100)] == [
        "ok", "ok", "low", "medium", "high", "high", "critical", "critical"]


def _finding(severity_tier: str, weight: float) -> Finding:
    return Finding("feature_drift", "c", "js_distance", 0.5, severity_tier, 0.1, weight)


tiers_st = st.sampled_from(["low", "medium", "high", "critical"])
findings_st = st.lists(st.tuples(tiers_st, st.floats(0, 1)), max_size=12)


@given(findings_st)
def test_score_is_bounded(items: list[tuple[str, float]]) -> None:
    assert 0 <= risk_score([_finding(t, w) for t, w in items]) <= 100


@given(findings_st, tiers_st, st.floats(0, 1))
def test_score_never_drops_when_a_finding_is_added(items: list[tuple[str, float]], tier: str, w: float) -> None:
    base = [_finding(t, x) for t, x in items]
    assert risk_score([*base, _finding(tier, w)]) >= risk_score(base)


@given(findings_st, st.integers(0, 11))
def test_score_is_monotone_in_each_findings_severity(items: list[tuple[str, float]], pick: int) -> None:
    if not items:
        return
    i = pick % len(items)
    tier, w = items[i]
    stronger = [*items]
    stronger[i] = (ALERT_SEVERITIES[min(ALERT_SEVERITIES.index(tier) + 1, 3)], w)
    assert risk_score([_finding(t, x) for t, x in stronger]) >= risk_score([_finding(t, x) for t, x in items])
