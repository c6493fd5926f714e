"""Drift signals: tiers per statistic, significance with Benjamini-Hochberg, sample sizes, scopes, weights."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import false_discovery_control

from monitor.observations import Scope
from monitor.risk import Assessment, NotRaised, judge
from monitor.risk.multiple import benjamini_hochberg
from tests.monitor.judge_support import drift, model, profile, window


def found(a: Assessment) -> list[tuple[str, str, str]]:
    return [(f.signal, f.column, f.tier) for f in a.findings]


def drift_not_raised(a: Assessment) -> list[NotRaised]:
    return [n for n in a.not_raised if n.signal.endswith("_drift")]


@pytest.mark.parametrize(("signal", "column", "value", "tier"), [
    ("prediction_drift", "prediction", 0.09, None),
    ("prediction_drift", "prediction", 0.10, "low"),
    ("prediction_drift", "prediction", 0.15, "medium"),
    ("prediction_drift", "prediction", 0.2, "high"),
    ("prediction_drift", "prediction", 0.4, "critical"),
    ("feature_drift", "age", 0.19, "low"),
    ("feature_drift", "age", 0.2, "medium"),
    ("feature_drift", "age", 0.3, "high"),
    ("feature_drift", "age", 0.5, "critical"),
    ("label_drift", "label", 0.2, "medium"),
    ("label_drift", "label", 0.31, "high"),
])
def test_default_js_tiers_per_signal(signal: str, column: str, value: float, tier: str | None) -> None:
    a = judge(model(), window(drift(column, js_distance=value)))
    assert found(a) == ([] if tier is None else [(signal, column, tier)])


@pytest.mark.parametrize(("statistic", "value", "tier"), [
    ("population_stability_index", 0.09, None),
    ("population_stability_index", 0.1, "low"),
    ("population_stability_index", 0.2, "medium"),
    ("population_stability_index", 0.25, "high"),
    ("ks_statistic", 0.3, "high"),
    ("wasserstein_distance", 0.3, "high"),
    ("chi_squared_statistic", 0.3, "high"),
    ("tv_distance", 0.3, "high"),
    ("l_infinity_distance", 0.05, None),
])
def test_any_effect_size_of_the_drift_table_can_carry_the_tiers(statistic: str, value: float,
                                                                tier: str | None) -> None:
    m = model(feature_drift={"statistic": statistic, "thresholds": {"low": 0.1, "medium": 0.2, "high": 0.25}})
    a = judge(m, window(drift("age", **{statistic: value, "js_distance": 0.0})))
    assert found(a) == ([] if tier is None else [("feature_drift", "age", tier)])


def test_a_statistic_missing_from_the_table_is_skipped_with_the_reason() -> None:
    m = model(feature_drift={"statistic": "population_stability_index", "thresholds": {"low": 0.1}})
    a = judge(m, window(drift("age", js_distance=0.9)))
    assert a.findings == ()
    assert [s.reason for s in drift_not_raised(a)] == ["population_stability_index is not in the drift metrics table"]


def test_large_window_tiny_shift_is_significant_but_below_the_effect_size_tiers() -> None:
    """p-values flag tiny shifts at scale; the effect size decides."""
    a = judge(model(), window(drift("age", js_distance=0.03, ks_pvalue=1e-12), rows_in_window=5_000_000))
    assert a.findings == ()
    assert [n.kind for n in drift_not_raised(a)] == ["below"]


@pytest.mark.parametrize(("pvalue", "shown"), [(0.0, "p < 1e-300"), (5e-324, "p < 1e-300"), (2e-300, "p 2.0e-300"),
                                              (3e-5, "p 3.0e-05"), (0.012, "p 0.012")])
def test_a_p_value_that_underflowed_reads_below_1e_300_never_0(pvalue: float, shown: str) -> None:
    (finding,) = judge(model(), window(drift("age", js_distance=0.35, ks_pvalue=pvalue))).findings
    assert f"({shown})" in finding.describe()


def test_small_window_large_noisy_shift_is_not_significant() -> None:
    a = judge(model(), window(drift("age", js_distance=0.35, ks_pvalue=0.3), rows_in_window=150))
    assert a.findings == ()
    [why] = drift_not_raised(a)
    assert why.kind == "not_significant" and "p 0.3 > alpha 0.05" in why.reason


def test_benjamini_hochberg_corrects_across_the_features_of_a_window() -> None:
    """Alone, p = 0.03 passes alpha 0.05; as the weakest of five tests it does not."""
    rows = [drift("age", js_distance=0.35, ks_pvalue=0.03)] + [
        drift(f"f{i}", js_distance=0.01, ks_pvalue=0.5 + i / 10) for i in range(4)]
    alone = judge(model(), window(rows[0]))
    together = judge(model(), window(*rows))
    assert found(alone) == [("feature_drift", "age", "high")]
    assert "p 0.03" in alone.findings[0].describe()
    assert found(together) == []
    assert any(n.kind == "not_significant" and n.column == "age" for n in together.not_raised)


def test_without_a_test_p_values_are_ignored() -> None:
    m = model(feature_drift={"test": "none", "thresholds": {"high": 0.3}})
    a = judge(m, window(drift("age", js_distance=0.35, ks_pvalue=0.9)))
    assert found(a) == [("feature_drift", "age", "high")]


def test_categorical_columns_use_the_chi_square_p_value() -> None:
    a = judge(model(), window(drift("contract", js_distance=0.35, chi_squared_pvalue=0.4)))
    assert a.findings == () and drift_not_raised(a)[0].kind == "not_significant"


def test_a_row_without_p_values_is_judged_on_its_effect_size_and_says_so() -> None:
    a = judge(model(), window(drift("age", js_distance=0.35)))
    assert "effect size alone" in a.findings[0].describe()


@given(st.lists(st.floats(0, 1), min_size=1, max_size=30))
def test_benjamini_hochberg_matches_scipy(pvalues: list[float]) -> None:
    ours = benjamini_hochberg(pvalues)
    theirs = false_discovery_control(pvalues, method="bh")
    assert ours == pytest.approx(list(theirs), abs=1e-12)


def test_min_count_is_the_rows_of_the_column_in_its_scope() -> None:
    slice_ = Scope("region", "eu")
    m = model(lakehouse={"slices": ["region"]})
    a = judge(m, window(drift("age", js_distance=0.35), drift("age", slice_, js_distance=0.35),
                        profile("age", 1000), profile("age", 40, scope=slice_)))
    assert [(f.scope, f.tier) for f in a.findings] == [(Scope(), "high")]
    assert any("40 rows, below min_count 100" in s.reason and s.scope == slice_ for s in a.skipped)


@pytest.mark.parametrize(("mode", "types"), [
    ("auto", ["BASELINE"]), ("BASELINE", ["BASELINE"]), ("CONSECUTIVE", ["CONSECUTIVE"]),
    ("both", ["BASELINE", "CONSECUTIVE"]),
])
def test_drift_types(mode: str, types: list[str]) -> None:
    w = window(drift("age", js_distance=0.35), drift("age", drift_type="CONSECUTIVE", js_distance=0.6))
    a = judge(model(lakehouse={"drift_type": mode}), w)
    assert sorted(f.drift_type or "" for f in a.findings) == types


def test_auto_uses_consecutive_drift_where_a_scope_has_no_baseline() -> None:
    a = judge(model(), window(drift("age", drift_type="CONSECUTIVE", js_distance=0.35)))
    assert [f.drift_type for f in a.findings] == ["CONSECUTIVE"]
    assert "(consecutive)" in a.findings[0].describe()


def test_slices_and_model_ids_are_scopes_of_their_own() -> None:
    eu, v2 = Scope("region", "eu"), Scope(model_id="v2")
    m = model(lakehouse={"slices": ["region"], "model_id_column": "model_id", "per_model_id": True})
    a = judge(m, window(drift("age", Scope(model_id="*"), js_distance=0.05), drift("age", eu, js_distance=0.55),
                        drift("tenure", v2, js_distance=0.35)))
    assert {(f.column, f.scope, f.tier) for f in a.findings} == {("age", eu, "critical"), ("tenure", v2, "high")}
    assert "[slice region='eu']" in a.findings[0].describe()
    assert any("[model v2]" in f.describe() for f in a.findings)


def test_slices_not_configured_are_not_judged() -> None:
    a = judge(model(), window(drift("age", Scope("region", "eu"), js_distance=0.55)))
    assert a.findings == ()


def test_feature_weights_scale_feature_drift_only() -> None:
    m = model(feature_weights={"weights": {"age": 0.25}})
    a = judge(m, window(drift("age", js_distance=0.35), drift("prediction", js_distance=0.05)),
              feature_weights={"age": 0.25})
    assert a.findings[0].weight == pytest.approx(0.8 * 0.25)
    assert a.risk == pytest.approx(100 * 0.75 * 0.8 * 0.25)


def test_model_id_and_timestamp_columns_are_not_features() -> None:
    m = model(lakehouse={"model_id_column": "model_id", "timestamp_column": "ts"})
    a = judge(m, window(drift("model_id", js_distance=0.9), drift("ts", js_distance=0.9)))
    assert a.findings == ()


def test_prediction_probability_column_is_prediction_drift() -> None:
    m = model(lakehouse={"prediction_proba_column": "probability"})
    a = judge(m, window(drift("probability", js_distance=0.25)))
    assert found(a) == [("prediction_drift", "probability", "high")]
