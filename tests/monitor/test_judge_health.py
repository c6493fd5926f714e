"""Data quality, volume and operational health: table-driven, each signal against its tiers."""

from __future__ import annotations

from datetime import timedelta

import pytest

from monitor.risk import Assessment, judge
from tests.monitor.judge_support import T0, drift, model, ops, prior, profile, table, window


def found(a: Assessment, signal: str) -> list[tuple[str, str, str]]:
    return [(f.statistic, f.column, f.tier) for f in a.findings if f.signal == signal]


@pytest.mark.parametrize(("nulls", "baseline_nulls", "statistic", "tier"), [
    (40, None, "null_share", None),
    (60, None, "null_share", "low"),
    (300, None, "null_share", "high"),
    (300, 280, "null_share increase", None),  # always about 30% NULL: not a finding
    (350, 20, "null_share increase", "high"),  # 2% -> 35%
])
def test_null_share_against_the_baseline_share(nulls: int, baseline_nulls: int | None, statistic: str,
                                               tier: str | None) -> None:
    base = () if baseline_nulls is None else (profile("age", 1000, log_type="BASELINE", nulls=baseline_nulls),)
    a = judge(model(), window(profile("age", 1000, nulls=nulls), baseline=base))
    assert found(a, "data_quality") == ([] if tier is None else [(statistic, "age", tier)])


@pytest.mark.parametrize(("field", "statistic", "count", "tier"), [
    ("num_nan", "nan_share", 120, "medium"),
    ("num_zeros", "zero_share", 300, "medium"),
    ("num_zeros", "zero_share", 600, "high"),
])
def test_nan_and_zero_shares(field: str, statistic: str, count: int, tier: str) -> None:
    a = judge(model(), window(profile("monthly_charges", 1000, **{field: count})))
    assert found(a, "data_quality") == [(statistic, "monthly_charges", tier)]


def test_the_label_column_may_be_null_labels_arrive_late() -> None:
    a = judge(model(), window(profile("label", 1000, nulls=1000)))
    assert found(a, "data_quality") == []


def test_unseen_categories_against_a_complete_baseline() -> None:
    base = profile("contract", 5000, log_type="BASELINE", distinct_count=2,
                   frequent_items=(("one-year", 3000), ("two-year", 2000)))
    now = profile("contract", 1000, distinct_count=3,
                  frequent_items=(("one-year", 600), ("two-year", 280), ("monthly", 120)))
    a = judge(model(), window(now, baseline=(base,)))
    assert found(a, "data_quality") == [("unseen_share", "contract", "medium")]
    assert "'monthly' x 120" in a.findings[0].describe()


def test_unseen_categories_are_not_judged_against_a_truncated_baseline() -> None:
    base = profile("city", 5000, log_type="BASELINE", distinct_count=500, frequent_items=(("a", 10),))
    a = judge(model(), window(profile("city", 1000, frequent_items=(("b", 900),)), baseline=(base,)))
    assert found(a, "data_quality") == []
    assert any("truncated" in n.reason for n in a.skipped)


def test_missing_and_new_columns_from_the_table_rows() -> None:
    base = table(5000, log_type="BASELINE")
    base = type(base)(**{**base.__dict__, "non_null_columns": ("age", "tenure", "contract")})
    now = table(1000)
    now = type(now)(**{**now.__dict__, "non_null_columns": ("age", "contract", "coupon")})
    a = judge(model(), window(now, baseline=(base,)))
    assert sorted(found(a, "data_quality")) == [("missing_columns", ":table", "high"),
                                                ("new_columns", ":table", "low")]


def test_missing_columns_from_the_drift_rows_when_the_profile_has_no_names() -> None:
    d = drift(":table")
    d = type(d)(**{**d.__dict__, "columns_missing": 2})
    a = judge(model(), window(d, table(1000)))
    assert found(a, "data_quality") == [("missing_columns", ":table", "high")]


def test_data_quality_needs_min_count_rows() -> None:
    a = judge(model(), window(profile("age", 50, nulls=50)))
    assert found(a, "data_quality") == []
    assert any("50 rows, below min_count 100" in n.reason for n in a.skipped)


def _rows_history(counts: list[int]) -> list:  # type: ignore[type-arg]
    return [prior(i, rows=float(c)) for i, c in enumerate(counts)]


@pytest.mark.parametrize(("count", "statistic", "tier"), [
    (1000, None, None), (150, "drop_share", "low"), (40, "drop_share", "medium"), (0, "drop_share", "critical"),
    (6000, "spike_ratio", "low"),
])
def test_volume_against_the_median_of_recent_windows(count: int, statistic: str | None, tier: str | None) -> None:
    a = judge(model(), window(rows_in_window=count, index=5), _rows_history([1000, 1100, 900, 1000, 950]))
    assert found(a, "volume") == ([] if tier is None else [(statistic, ":table", tier)])


def test_volume_with_a_season_compares_nights_with_nights() -> None:
    history = [prior(i, rows=1000.0 if (i % 24) not in (2, 3) else 30.0) for i in range(48)]
    night = judge(model(volume={"season": "1d"}), window(rows_in_window=28, index=50), history)
    plain = judge(model(), window(rows_in_window=28, index=50), history)
    assert found(night, "volume") == []
    assert found(plain, "volume") == [("drop_share", ":table", "medium")]


def test_volume_needs_history_or_a_configured_expectation() -> None:
    a = judge(model(), window(rows_in_window=0))
    assert found(a, "volume") == []
    b = judge(model(volume={"expected_rows": 500}), window(rows_in_window=0))
    assert found(b, "volume") == [("drop_share", ":table", "critical")]


def _inference(**operational: object) -> object:
    return model(inference={}, operational=operational)


@pytest.mark.parametrize(("statuses", "statistic", "tier"), [
    ({200: 995, 500: 5}, None, None),
    ({200: 985, 503: 10, 500: 5}, "server_error_rate", "low"),
    ({200: 900, 503: 100}, "server_error_rate", "high"),
    ({200: 700, 500: 300}, "server_error_rate", "critical"),
    ({200: 880, 429: 120}, "client_error_rate", "medium"),
])
def test_error_rate_by_status_code(statuses: dict[int, int], statistic: str | None, tier: str | None) -> None:
    a = judge(_inference(), window(operations=ops(1000, statuses), source="inference"))  # type: ignore[arg-type]
    assert found(a, "operational") == ([] if tier is None else [(statistic, ":table", tier)])


def test_error_findings_name_the_status_codes() -> None:
    a = judge(_inference(), window(operations=ops(1000, {200: 900, 503: 70, 500: 30}), source="inference"))  # type: ignore[arg-type]
    assert "503 x 70, 500 x 30" in a.findings[0].describe()


def test_latency_against_recent_windows_and_in_milliseconds() -> None:
    history = [prior(i, **{"latency:p99": 100.0}) for i in range(5)]
    w = window(operations=ops(p99=350.0), source="inference", index=5)
    ratio = judge(_inference(), w, history)  # type: ignore[arg-type]
    absolute = judge(_inference(latency={"ms": {"high": 300}, "ratio": None}), w)  # type: ignore[arg-type]
    assert found(ratio, "operational") == [("latency_p99_ratio", ":table", "high")]
    assert found(absolute, "operational") == [("latency_p99_ms", ":table", "high")]


def test_logging_errors_share() -> None:
    a = judge(_inference(), window(operations=ops(1000, logging_errors=60), source="inference"))  # type: ignore[arg-type]
    assert found(a, "operational") == [("logging_error_rate", ":table", "medium")]


@pytest.mark.parametrize(("hours", "tier"), [(1.5, None), (2, "medium"), (7, "high"), (30, "critical")])
def test_freshness_in_windows(hours: float, tier: str | None) -> None:
    w = window(operations=ops(0, {}, p99=None, freshness=hours * 3600), source="inference", rows_in_window=0)
    a = judge(_inference(), w)  # type: ignore[arg-type]
    assert found(a, "operational") == ([] if tier is None else [("freshness_windows", ":table", tier)])


def test_freshness_as_durations() -> None:
    w = window(operations=ops(1000, freshness=timedelta(minutes=40).total_seconds()), source="inference")
    a = judge(_inference(freshness={"age": {"high": "30m"}}), w)  # type: ignore[arg-type]
    assert found(a, "operational") == [("freshness_seconds", ":table", "high")]
    assert T0.isoformat() in a.findings[0].describe()


def test_too_few_requests_skip_rates_but_not_freshness() -> None:
    w = window(operations=ops(5, {500: 5}, freshness=10 * 3600), source="inference", rows_in_window=5)
    a = judge(_inference(), w)  # type: ignore[arg-type]
    assert found(a, "operational") == [("freshness_windows", ":table", "high")]
    assert any("5 requests, below min_requests 20" in n.reason for n in a.skipped)
