"""Broken metric values are left out of judging and reported: one case per kind of breakage, then the rule's wording."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from monitor.observations import TABLE_COLUMN, InvalidValue, Scope
from monitor.observations_codec import window_from_json, window_to_json
from monitor.risk import judge
from monitor.risk.validity_rules import SIGNAL
from monitor.sources.base import SourceError
from monitor.sources.contract import DRIFT_FIELDS, DRIFT_NOT_STATISTICS, PROFILE_FIELDS
from monitor.sources.lakehouse import missing_statistics, null_windows
from monitor.sources.lakehouse_rows import drift_row, profile_row
from monitor.sources.lakehouse_sql import shape
from monitor.sources.validity import RANGES, Checker, wrong_types
from tests.monitor.judge_support import T0, model, window

DRIFT_TABLE = "main.ml.t_drift_metrics"
PROFILE_TABLE = "main.ml.t_profile_metrics"
START = datetime(2025, 6, 2, 1, tzinfo=UTC)


def drow(column: str = "age", **stats: Any) -> dict[str, Any]:
    return {"window_start": START, "window_end": START + timedelta(hours=1), "column_name": column,
            "drift_type": "BASELINE", "slice_key": None, "slice_value": None, "model_id": "*", "js_distance": 0.05,
            **stats}


def prow(column: str = "age", **values: Any) -> dict[str, Any]:
    return {"window_start": START, "window_end": START + timedelta(hours=1), "column_name": column,
            "log_type": "INPUT", "slice_key": None, "slice_value": None, "model_id": "*", "row_count": 1000,
            "num_nulls": 0, **values}


DRIFT_CASES = [
    # (case, statistic, value read, the rule it breaks)
    ("p-value below 0", "ks_pvalue", -3.0, "a p-value in [0, 1]"),
    ("p-value above 1", "chi_squared_pvalue", 1.5, "a p-value in [0, 1]"),
    ("JS distance above 1", "js_distance", 7.5, "a distance in [0, 1] (base-2 Jensen-Shannon)"),
    ("JS distance below 0", "js_distance", -0.9, "a distance in [0, 1] (base-2 Jensen-Shannon)"),
    ("TV distance above 1", "tv_distance", 1.2, "a distance in [0, 1]"),
    ("L-infinity below 0", "l_infinity_distance", -0.1, "a distance in [0, 1]"),
    ("KS statistic above 1", "ks_statistic", 2.0, "a KS statistic in [0, 1]"),
    ("negative PSI", "population_stability_index", -0.2, "a PSI >= 0"),
    ("negative chi-squared", "chi_squared_statistic", -1.0, "a chi-squared statistic >= 0"),
    ("negative Wasserstein", "wasserstein_distance", -4.0, "a distance >= 0"),
    ("NaN distance", "js_distance", math.nan, "a distance in [0, 1] (base-2 Jensen-Shannon)"),
    ("infinite PSI", "population_stability_index", math.inf, "a PSI >= 0"),
    ("infinite count delta", "count_delta", -math.inf, "a finite number"),
    ("percent delta beyond 100", "percent_null_delta", 250.0, "a difference of percentages in [-100, 100]"),
]


@pytest.mark.parametrize(("case", "statistic", "value", "rule"), DRIFT_CASES, ids=[c[0] for c in DRIFT_CASES])
def test_invalid_drift_values_are_left_out_and_recorded(case: str, statistic: str, value: float, rule: str) -> None:
    checker = Checker(DRIFT_TABLE)
    row = drift_row(drow(**{statistic: value}), {}, checker)
    assert row.statistics[statistic] is None, case  # the judge never sees it
    [found] = checker.found
    assert (found.table, found.column, found.statistic, found.rule, found.window_start) == (
        DRIFT_TABLE, "age", statistic, rule, START)
    assert found.value == value or (math.isnan(value) and found.value is not None and math.isnan(found.value))


PROFILE_CASES = [
    ("negative count", {"row_count": -5}, "row_count", -5.0, "a count >= 0"),
    ("negative NULL count", {"num_nulls": -1}, "num_nulls", -1.0, "a count >= 0"),
    ("NaN NULL count (a double column)", {"num_nulls": math.nan}, "num_nulls", math.nan, "a count >= 0"),
    ("negative NaN count", {"num_nan": -2}, "num_nan", -2.0, "a count >= 0"),
    ("negative distinct count", {"distinct_count": -7}, "distinct_count", -7.0, "a count >= 0"),
    ("percent NULL above 100", {"percent_null": 140.0}, "percent_null", 140.0, "a percentage in [0, 100]"),
    ("negative percent distinct", {"percent_distinct": -1.0}, "percent_distinct", -1.0, "a percentage >= 0"),
    ("negative standard deviation", {"stddev": -0.5}, "stddev", -0.5, "a standard deviation >= 0"),
    ("negative frequent-item count", {"frequent_items": [{"item": "a", "count": -3}, {"item": "b", "count": 4}]},
     "frequent_items.count", -3.0, "a count >= 0"),
]


@pytest.mark.parametrize(("case", "values", "statistic", "value", "rule"), PROFILE_CASES,
                         ids=[c[0] for c in PROFILE_CASES])
def test_invalid_profile_values_are_left_out_and_recorded(case: str, values: dict[str, Any], statistic: str,
                                                          value: float, rule: str) -> None:
    checker = Checker(PROFILE_TABLE)
    row = profile_row(prow(**values), {}, "INPUT", checker)
    [found] = checker.found
    assert (found.table, found.column, found.statistic, found.rule) == (PROFILE_TABLE, "age", statistic, rule), case
    assert found.value == value or math.isnan(value)
    if statistic == "row_count":
        assert row.count is None  # not a window of -5 rows: no "small window"
    if statistic == "frequent_items.count":
        assert row.frequent_items == (("b", 4),)


def test_rounding_at_a_range_end_and_distinct_estimates_over_the_row_count_are_not_invalid() -> None:
    """Disjoint distributions give a TV distance of 1 + 2e-16, and HyperLogLog's distinct estimate of an
    all-distinct column can exceed its rows: neither is a broken table, so neither may raise a finding."""
    checker = Checker(DRIFT_TABLE)
    row = drift_row(drow(tv_distance=1 + 2e-16, ks_statistic=1 + 2e-16, ks_pvalue=-1e-17), {}, checker)
    assert row.statistics["tv_distance"] == 1 + 2e-16 and row.statistics["ks_pvalue"] == -1e-17
    profile = profile_row(prow(percent_distinct=103.0), {}, "INPUT", checker)
    assert profile.metrics["percent_distinct"] == 103.0
    assert checker.found == []
    far = Checker(DRIFT_TABLE)
    drift_row(drow(tv_distance=1.001), {}, far)
    assert [f.statistic for f in far.found] == ["tv_distance"]


def test_valid_values_pass_untouched_and_data_statistics_are_not_checked() -> None:
    checker = Checker(DRIFT_TABLE)
    row = drift_row(drow(ks_pvalue=0.0, js_distance=1.0, count_delta=-500.0, avg_delta=-3.0, percent_null_delta=-40.0,
                         wasserstein_distance=1e6), {"m0": "custom.x"}, checker)
    assert row.statistics["count_delta"] == -500.0 and row.statistics["js_distance"] == 1.0
    profile = profile_row(prow(avg=math.nan, min=-math.inf, m0=-1.0), {"m0": "loss"}, "INPUT", Checker(PROFILE_TABLE))
    assert math.isnan(profile.metrics["avg"] or 0.0) and profile.metrics["loss"] == -1.0  # data, not broken metrics
    assert checker.found == []


def test_every_contract_statistic_of_the_drift_table_has_a_range() -> None:
    assert {a for a in DRIFT_FIELDS.values() if a not in DRIFT_NOT_STATISTICS} - set(RANGES) == {"avg_delta"}
    assert {"row_count", "num_nulls", "num_nan", "num_zeros", "distinct_count", "percent_null"} <= set(RANGES)
    assert set(PROFILE_FIELDS.values()) - set(RANGES) == {
        "data_type", "non_null_columns", "frequent_items", "avg", "min", "max", "median"}


DRIFT_COLUMNS = {"window": "struct<start:timestamp,end:timestamp>", "granularity": "string", "column_name": "string",
                 "js_distance": "double", "ks_test": "struct<statistic:double,pvalue:double>"}
TYPE_CASES = [
    ("string p-value in a struct", {"ks_test": "struct<statistic:double,pvalue:string>"},
     "column ks_test.pvalue (read as ks_pvalue) of main.ml.t_drift_metrics has type string, expected a number"),
    ("string distance", {"js_distance": "string"},
     "column js_distance of main.ml.t_drift_metrics has type string, expected a number"),
    ("boolean count", {"count": "boolean"}, "column count (read as row_count) of main.ml.t_drift_metrics has type "
                                            "boolean, expected a number"),
    ("string frequent-item counts", {"frequent_items": "array<struct<item:string,count:string>>"},
     "column frequent_items's count of main.ml.t_drift_metrics has type string, expected a number"),
]


@pytest.mark.parametrize(("case", "types", "message"), TYPE_CASES, ids=[c[0] for c in TYPE_CASES])
def test_non_numeric_statistic_columns_are_named_with_their_type(case: str, types: dict[str, str],
                                                                 message: str) -> None:
    [found] = wrong_types(DRIFT_TABLE, {**DRIFT_COLUMNS, **types}, {**DRIFT_FIELDS, **PROFILE_FIELDS})
    assert found.startswith(message), case


def test_numeric_types_of_every_kind_are_accepted() -> None:
    columns = {**DRIFT_COLUMNS, "js_distance": "decimal(10,4)", "tv_distance": "FLOAT", "count_delta": "bigint",
               "chi_squared_test": "struct<statistic: double, pvalue: double>", "data_type": "string"}
    assert wrong_types(DRIFT_TABLE, columns, DRIFT_FIELDS) == []


def test_a_dropped_statistic_column_is_recorded_for_the_signals_that_judge_it() -> None:
    cols = {k: v for k, v in DRIFT_COLUMNS.items() if k != "js_distance"}
    drift = shape(DRIFT_TABLE, DRIFT_TABLE, cols, None, {})
    [found] = missing_statistics(model(), drift)
    assert (found.table, found.column, found.statistic, found.value) == (DRIFT_TABLE, TABLE_COLUMN, "js_distance", None)
    assert found.rule == "the statistic signals.feature_drift, signals.prediction_drift, signals.label_drift judge"
    psi = model(feature_drift={"statistic": "population_stability_index", "thresholds": {"high": 0.25}},
                prediction_drift={"enabled": False, "thresholds": {"high": 0.3}},
                label_drift={"enabled": False, "thresholds": {"high": 0.3}})
    assert [r.statistic for r in missing_statistics(psi, drift)] == ["population_stability_index"]
    assert missing_statistics(model(), shape(DRIFT_TABLE, DRIFT_TABLE, DRIFT_COLUMNS, None, {})) == []


def test_null_windows_are_counted_per_table_and_only_null_windows_are_a_source_error() -> None:
    [found] = null_windows(model(), {DRIFT_TABLE: (12, 40), PROFILE_TABLE: (0, 60)}, "1 hour")
    assert (found.table, found.statistic, found.rows, found.value) == (DRIFT_TABLE, "window", 12, None)
    assert null_windows(model(), {DRIFT_TABLE: (0, 0)}, "1 hour") == []  # an empty table is not this check's
    with pytest.raises(SourceError) as raised:
        null_windows(model(), {DRIFT_TABLE: (12, 0), PROFILE_TABLE: (0, 0)}, "1 hour")
    assert str(raised.value).startswith(
        "model churn: every row of granularity '1 hour' in the metric tables has a NULL window "
        "(main.ml.t_drift_metrics: 12 rows): such rows belong to no window and nothing can be judged")


def _bad(statistic: str, value: float, column: str = "age", **kw: Any) -> InvalidValue:
    return InvalidValue(DRIFT_TABLE, column, statistic, value, RANGES[statistic].rule, window_start=T0, **kw)


def _window(*invalid: InvalidValue) -> Any:
    return replace(window(), invalid=invalid)


RULE_CASES = [
    ("a p-value of -3", [_bad("ks_pvalue", -3.0)],
     "ks_pvalue -3 on `age` (must be a p-value in [0, 1])"),
    ("distances out of range, in a slice", [_bad("js_distance", 7.5), _bad("js_distance", -0.9, "income",
                                                                             scope=Scope("region", "eu"))],
     "js_distance 7.5 on `age`, -0.9 on `income` [slice region='eu'] (must be a distance in [0, 1] (base-2 "
     "Jensen-Shannon))"),
    ("a NaN", [_bad("population_stability_index", math.nan)], "population_stability_index nan on `age`"),
    ("a negative count in the baseline", [_bad("row_count", -5.0, ":table", baseline=True)],
     "row_count -5 on the table (baseline) (must be a count >= 0)"),
    ("a dropped column", [InvalidValue(DRIFT_TABLE, ":table", "js_distance", None,
                                       "the statistic signals.feature_drift judges")],
     "column js_distance is missing (the statistic signals.feature_drift judges); refresh the monitor so that "
     "it writes the column, or set the signal's statistic to one the table has"),
    ("NULL windows", [InvalidValue(DRIFT_TABLE, ":table", "window", None, "a window on every row", rows=12)],
     "12 rows of granularity '1 hour' have a NULL window (a window on every row); rows without a window belong "
     "to no window"),
]


@pytest.mark.parametrize(("case", "invalid", "wording"), RULE_CASES, ids=[c[0] for c in RULE_CASES])
def test_invalid_values_are_one_finding_naming_table_window_statistic_and_value(
        case: str, invalid: list[InvalidValue], wording: str) -> None:
    a = judge(model(), _window(*invalid))
    [finding] = [f for f in a.findings if f.signal == SIGNAL]
    assert finding.tier == "medium" and finding.column == TABLE_COLUMN, case
    assert finding.detail.startswith(f"{DRIFT_TABLE}, window 2026-01-01T00:00:00+00:00 to 2026-01-01T01:00:00+00:00")
    assert wording in finding.detail
    assert a.severity == "medium"  # weight 1.0 at medium: risk 50


def test_five_hundred_bad_rows_are_one_finding_with_the_first_few_values() -> None:
    bad = [_bad("ks_pvalue", -float(i), f"c{i}") for i in range(1, 501)]
    a = judge(model(), _window(*bad, _bad("js_distance", 7.5)))
    [finding] = [f for f in a.findings if f.signal == SIGNAL]
    assert ("window 2026-01-01T00:00:00+00:00 to 2026-01-01T01:00:00+00:00: 501 invalid values; "
            "ks_pvalue -1 on `c1`, -2 on `c2`, -3 on `c3` and 497 more "
            "(must be a p-value in [0, 1]); js_distance 7.5 on `age`") in finding.detail
    assert "invalid metrics (medium): main.ml.t_drift_metrics, window" in finding.describe()


def test_tier_weight_and_listing_are_configurable_and_off_is_said_in_explain() -> None:
    bad = [_bad("ks_pvalue", -float(i), f"c{i}") for i in range(1, 6)]
    high = judge(model(invalid_metrics={"tier": "high", "max_listed": 1}), _window(*bad))
    [finding] = high.findings
    assert finding.tier == "high" and high.severity == "high" and "-1 on `c1` and 4 more" in finding.detail
    off = judge(model(invalid_metrics={"enabled": False}), _window(*bad))
    assert off.findings == () and off.severity == "ok"
    [said] = [n for n in off.not_raised if n.signal == SIGNAL]
    assert said.reason.endswith("(signals.invalid_metrics is off)") and said.kind == "skipped"


def test_one_finding_per_table_counted_once() -> None:
    profile = InvalidValue(PROFILE_TABLE, "age", "num_nulls", -1.0, "a count >= 0", window_start=T0)
    a = judge(model(), _window(_bad("ks_pvalue", -3.0), profile))
    assert [f.detail.split(",")[0] for f in a.findings] == [DRIFT_TABLE, PROFILE_TABLE]
    assert a.risk == 50.0  # one problem: the group counts once


def test_a_broken_row_is_judged_neither_as_drift_nor_as_a_small_window() -> None:
    checker = Checker(DRIFT_TABLE)
    drifts = [drift_row(drow("age", js_distance=7.5, ks_pvalue=0.001), {}, checker),
              drift_row(drow("income", js_distance=0.35, ks_pvalue=-3.0), {}, checker)]
    profiles = [profile_row(prow("age", row_count=-5), {}, "INPUT", checker),
                profile_row(prow(":table", row_count=1000), {}, "INPUT", checker)]
    w = replace(window(*drifts, *profiles), invalid=tuple(checker.found))
    a = judge(model(), w)
    drift_findings = [f for f in a.findings if f.signal == "feature_drift"]
    assert [(f.column, f.value, f.detail) for f in drift_findings] == [
        ("income", 0.35, "no p-value in the table: effect size alone")]  # not "p -3": the p-value is left out
    assert not [n for n in a.not_raised if "rows, below min_count" in n.reason]  # -5 rows is not a small window
    assert any(n.column == "age" and n.reason == "js_distance is NULL" for n in a.not_raised)


def test_invalid_values_survive_json_for_explain_and_replay() -> None:
    bad = (_bad("js_distance", math.nan, scope=Scope("region", "eu", "v2")),
           InvalidValue(DRIFT_TABLE, ":table", "window", None, "a row with a window", rows=12),
           _bad("row_count", -5.0, baseline=True))
    w = _window(*bad)
    back = window_from_json(json.loads(json.dumps(window_to_json(w), allow_nan=False)))
    assert back.invalid[1:] == bad[1:] and back.invalid[0].scope == bad[0].scope
    assert back.invalid[0].value is not None and math.isnan(back.invalid[0].value)
    assert judge(model(), back).findings == judge(model(), w).findings
    old = window_to_json(window())
    del old["invalid"]  # stored before this field existed
    assert window_from_json(old).invalid == ()
