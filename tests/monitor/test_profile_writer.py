"""write_profile against real Spark: output contract, incremental runs, statistics against scipy."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from scipy import stats as scipy_stats
from scipy.spatial.distance import jensenshannon
from sklearn import metrics

from monitor.demo.data import DemoScenario, window_frame
from monitor.engines.base import TableNotFound
from monitor.engines.local_spark import LocalSparkEngine
from monitor.profile import ProfileResult, ProfileSpec, write_profile
from monitor.profile.stats import bin_counts, psi

pytestmark = pytest.mark.integration

TABLE = "main.pw.inference"
BASELINE = "main.pw.baseline"
FEATURES = ("tenure_months", "monthly_charges", "support_calls", "age", "contract", "payment_method",
            "probability")
SCENARIO = DemoScenario(windows=8, rows_per_window=1_000, drift_from=4, drift_until=6, baseline_rows=3_000)
WINDOWS = [SCENARIO.window(i) for i in range(SCENARIO.windows)]
DRIFTED = {4, 5}

PROFILE_CONTRACT = [
    ("window", "struct<start:timestamp,end:timestamp>"), ("log_type", "string"),
    ("logging_table_commit_version", "int"), ("monitor_version", "bigint"), ("granularity", "string"),
    ("slice_key", "string"), ("slice_value", "string"), ("column_name", "string"), ("count", "bigint"),
    ("data_type", "string"), ("num_nulls", "bigint"), ("avg", "double"), ("quantiles", "array<double>"),
    ("min", "double"), ("max", "double"), ("stddev", "double"), ("num_zeros", "bigint"), ("num_nan", "bigint"),
    ("min_length", "double"), ("max_length", "double"), ("avg_length", "double"),
    ("non_null_columns", "array<string>"), ("frequent_items", "array<struct<item:string,count:bigint>>"),
    ("median", "double"), ("distinct_count", "bigint"), ("percent_nan", "double"), ("percent_null", "double"),
    ("percent_zeros", "double"), ("percent_distinct", "double"),
]
CLASSIFICATION = [("accuracy_score", "double"), ("precision", "struct<macro:double,weighted:double>"),
                  ("recall", "struct<macro:double,weighted:double>"),
                  ("f1_score", "struct<macro:double,weighted:double>"),
                  ("confusion_matrix", "array<struct<prediction:string,label:string,count:bigint>>"),
                  ("roc_auc_score", "double")]
DRIFT_CONTRACT = [
    ("window", "struct<start:timestamp,end:timestamp>"), ("granularity", "string"), ("monitor_version", "bigint"),
    ("slice_key", "string"), ("slice_value", "string"), ("column_name", "string"), ("data_type", "string"),
    ("window_cmp", "struct<start:timestamp,end:timestamp>"), ("drift_type", "string"), ("count_delta", "double"),
    ("avg_delta", "double"), ("percent_null_delta", "double"), ("percent_zeros_delta", "double"),
    ("percent_distinct_delta", "double"), ("non_null_columns_delta", "struct<added:int,missing:int>"),
    ("js_distance", "double"), ("ks_test", "struct<statistic:double,pvalue:double>"),
    ("wasserstein_distance", "double"), ("population_stability_index", "double"),
    ("chi_squared_test", "struct<statistic:double,pvalue:double>"), ("tv_distance", "double"),
    ("l_infinity_distance", "double"),
]


@dataclass(frozen=True)
class Runs:
    """The results of the runs, with the written tables and the source data read once."""

    engine: LocalSparkEngine
    first: ProfileResult
    second: ProfileResult
    third: ProfileResult
    explicit: ProfileResult
    profile_rows: list[dict[str, Any]]
    drift_rows: list[dict[str, Any]]
    data: pa.Table
    base: pa.Table

    def drift(self, drift_type: str, index: int, column: str, model: str = "*") -> dict[str, Any]:
        start = WINDOWS[index][0]
        found = [r for r in self.drift_rows if r["drift_type"] == drift_type and r["window"]["start"] == start
                 and r["column_name"] == column and r["model_id"] == model]
        assert len(found) == 1
        return found[0]

    def profile(self, log_type: str, index: int | None, column: str, model: str = "*") -> dict[str, Any]:
        window = None if index is None else {"start": WINDOWS[index][0], "end": WINDOWS[index][1]}
        found = [r for r in self.profile_rows if r["log_type"] == log_type and r["window"] == window
                 and r["column_name"] == column and r["model_id"] == model]
        assert len(found) == 1
        return found[0]

    def values(self, column: str, index: int | None) -> np.ndarray:
        if index is None:
            return np.array(self.base.column(column).to_pylist())
        start, end = WINDOWS[index]
        times = self.data.column("timestamp").to_pylist()
        return np.array([v for t, v in zip(times, self.data.column(column).to_pylist(), strict=True)
                         if start <= t < end])


def _frame(index: int) -> pa.Table:
    frame = SCENARIO.frame(index)
    if index >= 6:  # a second model version takes part of the traffic at the end
        start, end = SCENARIO.window(index)
        frame = pa.concat_tables([frame, window_frame(99, index, start, end, 300, 0.0, model_id="churn@2")])
    return frame


@pytest.fixture(scope="module")
def runs(spark_engine: LocalSparkEngine) -> Runs:
    engine = spark_engine
    engine.write(BASELINE, SCENARIO.baseline(), mode="overwrite")
    engine.write(TABLE, pa.concat_tables([_frame(i) for i in range(6)]), mode="overwrite")
    spec = ProfileSpec(table=TABLE, baseline_table=BASELINE, timestamp_col="timestamp", granularity="1 hour",
                       feature_cols=FEATURES, prediction_col="prediction", label_col="label",
                       model_id_col="model_id")
    first = write_profile(engine, spec, now=WINDOWS[4][1] + timedelta(minutes=30))
    engine.write(TABLE, pa.concat_tables([_frame(i) for i in (6, 7)]), mode="append")
    second = write_profile(engine, spec)
    third = write_profile(engine, spec)
    explicit_spec = ProfileSpec(table=TABLE, baseline_table=BASELINE, timestamp_col="timestamp",
                                granularity="1 hour", feature_cols=("contract", "tenure_months"),
                                prediction_col="prediction", label_col="label", output_schema="main.pw_explicit")
    explicit = write_profile(engine, explicit_spec, windows=[WINDOWS[2], WINDOWS[3]])

    def read(table: str) -> pa.Table:
        return engine.query(f"SELECT * FROM {engine.table_ref(table)}")  # noqa: S608

    return Runs(engine, first, second, third, explicit, read(first.profile_table).to_pylist(),
                read(first.drift_table).to_pylist(), read(TABLE), read(BASELINE))


def _key(row: dict[str, Any], kind: str) -> tuple[Any, ...]:
    window = row["window"]
    return (None if window is None else window["start"], row[kind], row["column_name"], row["model_id"])


def test_tables_have_exactly_the_contract_columns_and_types(runs: Runs) -> None:
    profile = runs.engine.columns(runs.first.profile_table)
    assert list(profile.items()) == [*PROFILE_CONTRACT, ("model_id", "string"), *CLASSIFICATION]
    drift = runs.engine.columns(runs.first.drift_table)
    assert list(drift.items()) == [*DRIFT_CONTRACT, ("model_id", "string")]
    assert runs.first.profile_table == "main.pw.inference_profile_metrics"
    assert runs.first.drift_table == "main.pw.inference_drift_metrics"


def test_without_a_model_id_column_the_tables_have_no_model_column(runs: Runs) -> None:
    assert runs.explicit.profile_table == "main.pw_explicit.inference_profile_metrics"
    assert list(runs.engine.columns(runs.explicit.profile_table)) == [n for n, _ in PROFILE_CONTRACT + CLASSIFICATION]
    assert list(runs.engine.columns(runs.explicit.drift_table)) == [n for n, _ in DRIFT_CONTRACT]


def test_runs_are_incremental_and_respect_open_windows(runs: Runs) -> None:
    assert runs.first.windows_written == tuple(WINDOWS[:5])  # window 5 had not ended at `now`
    assert runs.first.baseline_written
    assert runs.second.windows_written == tuple(WINDOWS[5:])
    assert not runs.second.baseline_written


def test_rerun_writes_nothing_and_no_key_is_duplicated(runs: Runs) -> None:
    assert (runs.third.profile_rows, runs.third.drift_rows, runs.third.windows_written) == (0, 0, ())
    profile_keys = Counter(_key(r, "log_type") for r in runs.profile_rows)
    assert max(profile_keys.values()) == 1
    drift_keys = Counter(_key(r, "drift_type") for r in runs.drift_rows)
    assert max(drift_keys.values()) == 1
    starts = sorted({r["window"]["start"] for r in runs.profile_rows if r["log_type"] == "INPUT"})
    assert starts == [w[0] for w in WINDOWS]


def test_consecutive_rows_start_at_the_second_window_and_point_back(runs: Runs) -> None:
    rows = [r for r in runs.drift_rows if r["drift_type"] == "CONSECUTIVE"]
    starts = {r["window"]["start"] for r in rows}
    assert starts == {w[0] for w in WINDOWS[1:]}
    assert all(r["window_cmp"]["end"] == r["window"]["start"] for r in rows)
    assert all(r["window_cmp"]["end"] - r["window_cmp"]["start"] == timedelta(hours=1) for r in rows)


def test_baseline_rows_have_no_window_and_no_window_cmp(runs: Runs) -> None:
    drift = [r for r in runs.drift_rows if r["drift_type"] == "BASELINE"]
    assert len(drift) > 0
    assert all(r["window_cmp"] is None for r in drift)
    profile = [(r["window"], r["count"], r["model_id"]) for r in runs.profile_rows
               if r["log_type"] == "BASELINE" and r["column_name"] == ":table"]
    assert sorted(profile, key=str) == [(None, SCENARIO.baseline_rows, "*"), (None, SCENARIO.baseline_rows, "churn@1")]


def test_drifted_windows_have_larger_js_and_psi(runs: Runs) -> None:
    for column, statistic in [("probability", "js_distance"), ("probability", "population_stability_index"),
                              ("tenure_months", "population_stability_index"), ("prediction", "js_distance"),
                              ("contract", "js_distance")]:
        values = {i: runs.drift("BASELINE", i, column)[statistic] for i in range(len(WINDOWS))}
        calm = max(v for i, v in values.items() if i not in DRIFTED)
        assert min(values[i] for i in DRIFTED) > max(calm, 0.2), (column, statistic, values)
    assert runs.drift("CONSECUTIVE", 4, "probability")["js_distance"] > 0.2  # the switch into drift
    assert runs.drift("CONSECUTIVE", 6, "probability")["js_distance"] > 0.2  # and back out
    assert runs.drift("CONSECUTIVE", 2, "probability")["js_distance"] < 0.2


@pytest.mark.parametrize("column", ["tenure_months", "probability", "support_calls"])
def test_numeric_drift_agrees_with_scipy_on_the_raw_values(runs: Runs, column: str) -> None:
    ref, cur = runs.values(column, None).astype(float), runs.values(column, 1).astype(float)
    row = runs.drift("BASELINE", 1, column)
    exact = scipy_stats.ks_2samp(ref, cur)
    bound = 1.0 / 128  # at most one sketch bucket of mass on either side for these sizes
    assert abs(row["ks_test"]["statistic"] - exact.statistic) <= max(bound, 0.02)
    assert 0.0 <= row["ks_test"]["pvalue"] <= 1.0
    assert row["wasserstein_distance"] == pytest.approx(scipy_stats.wasserstein_distance(ref, cur), rel=0.02,
                                                        abs=1e-3 * float(np.std(ref)))
    edges = np.quantile(ref, np.arange(1, 10) / 10)
    p, q = bin_counts(ref, np.unique(edges)), bin_counts(cur, np.unique(edges))
    assert row["js_distance"] == pytest.approx(float(jensenshannon(p, q, base=2)), abs=0.02)
    assert row["population_stability_index"] == pytest.approx(psi(p, q), abs=0.02)
    assert row["chi_squared_test"] is None and row["tv_distance"] is None

    row = runs.drift("CONSECUTIVE", 2, column)
    before, after = runs.values(column, 1).astype(float), runs.values(column, 2).astype(float)
    assert row["wasserstein_distance"] == pytest.approx(scipy_stats.wasserstein_distance(before, after),
                                                        rel=0.02, abs=1e-3 * float(np.std(before)))


@pytest.mark.parametrize("column", ["contract", "prediction"])
def test_categorical_drift_equals_scipy_on_the_same_counts(runs: Runs, column: str) -> None:
    ref, cur = Counter(runs.values(column, None).tolist()), Counter(runs.values(column, 6).tolist())
    keys = sorted(set(ref) | set(cur))
    p, q = np.array([ref[k] for k in keys], float), np.array([cur[k] for k in keys], float)
    expected = scipy_stats.chi2_contingency(np.vstack([p, q]))
    row = runs.drift("BASELINE", 6, column)
    assert row["chi_squared_test"]["statistic"] == pytest.approx(float(expected.statistic), rel=1e-9)
    assert row["chi_squared_test"]["pvalue"] == pytest.approx(float(expected.pvalue), rel=1e-6, abs=1e-300)
    assert row["js_distance"] == pytest.approx(float(jensenshannon(p, q, base=2)), abs=1e-9)
    assert row["tv_distance"] == pytest.approx(0.5 * float(np.abs(p / p.sum() - q / q.sum()).sum()))
    assert row["ks_test"] is None and row["population_stability_index"] is None


def test_profile_rows_describe_the_window(runs: Runs) -> None:
    tenure = runs.values("tenure_months", 3)
    row = runs.profile("INPUT", 3, "tenure_months")
    assert row["count"] == len(tenure) and row["num_nulls"] == 0 and row["percent_null"] == 0.0
    assert row["avg"] == pytest.approx(float(tenure.mean()))
    assert row["stddev"] == pytest.approx(float(tenure.std(ddof=1)))
    assert (row["min"], row["max"]) == (pytest.approx(tenure.min()), pytest.approx(tenure.max()))
    assert len(row["quantiles"]) == 101 and row["median"] == row["quantiles"][50]
    assert row["data_type"] == "double" and row["frequent_items"] is None
    contract = runs.profile("INPUT", 3, "contract")
    counts = Counter(runs.values("contract", 3).tolist())
    assert contract["frequent_items"] == [{"item": k, "count": n} for k, n in counts.most_common()]
    assert contract["distinct_count"] == 3 and contract["avg"] is None
    assert contract["min_length"] == 8 and contract["max_length"] == 14
    table = runs.profile("INPUT", 3, ":table")
    assert table["non_null_columns"] == sorted([*FEATURES, "prediction", "label"])


def test_table_rows_carry_classification_quality(runs: Runs) -> None:
    preds, labels = runs.values("prediction", 2), runs.values("label", 2)
    row = runs.profile("INPUT", 2, ":table")
    assert row["count"] == len(preds)
    assert row["accuracy_score"] == pytest.approx(metrics.accuracy_score(labels, preds))
    assert row["f1_score"]["macro"] == pytest.approx(metrics.f1_score(labels, preds, average="macro"))
    assert row["precision"]["weighted"] == pytest.approx(
        metrics.precision_score(labels, preds, average="weighted", zero_division=0))
    assert runs.profile("INPUT", 2, "contract")["accuracy_score"] is None


def test_each_model_id_is_a_slice_and_star_is_all_models(runs: Runs) -> None:
    counts = {model: runs.profile("INPUT", 7, ":table", model)["count"] for model in ("*", "churn@1", "churn@2")}
    assert counts == {"*": 1_300, "churn@1": 1_000, "churn@2": 300}
    # churn@2 has no baseline rows of its own: it is compared with the whole baseline
    assert runs.drift("BASELINE", 7, "contract", model="churn@2")["js_distance"] is not None
    assert not [r for r in runs.drift_rows if r["model_id"] == "churn@2" and r["drift_type"] == "CONSECUTIVE"
                and r["window"]["start"] == WINDOWS[6][0]]  # churn@2 had no traffic in window 5


def test_explicit_windows_match_the_discovered_ones(runs: Runs) -> None:
    assert runs.explicit.windows_written == (WINDOWS[2], WINDOWS[3])
    table = runs.engine.table_ref(runs.explicit.drift_table)
    rows = runs.engine.query(f"SELECT `window`.start AS s, drift_type, js_distance FROM {table} "  # noqa: S608
                             "WHERE column_name = 'tenure_months'").to_pylist()
    assert {(r["s"], r["drift_type"]) for r in rows} == {(WINDOWS[i][0], t) for i in (2, 3)
                                                        for t in ("BASELINE", "CONSECUTIVE")}
    for r in rows:
        index = WINDOWS.index(next(w for w in WINDOWS if w[0] == r["s"]))
        assert r["js_distance"] == pytest.approx(runs.drift(r["drift_type"], index, "tenure_months")["js_distance"])


def test_missing_table_and_unknown_columns_are_reported(spark_engine: LocalSparkEngine, runs: Runs) -> None:
    spec = ProfileSpec(table="main.pw.nothing", baseline_table=None, timestamp_col="timestamp",
                       granularity="1 hour", feature_cols=("x",))
    with pytest.raises(TableNotFound, match=r"main\.pw\.nothing"):
        write_profile(spark_engine, spec)
    spec = ProfileSpec(table=TABLE, baseline_table=None, timestamp_col="timestamp", granularity="1 hour",
                       feature_cols=("no_such_feature",))
    with pytest.raises(ValueError, match="no_such_feature"):
        write_profile(spark_engine, spec)


def test_spec_is_validated_on_construction() -> None:
    with pytest.raises(ValueError, match="granularity"):
        ProfileSpec(table=TABLE, baseline_table=None, timestamp_col="t", granularity="hourly", feature_cols=("x",))
    with pytest.raises(ValueError, match="invalid table name"):
        ProfileSpec(table="main.pw.bad-name", baseline_table=None, timestamp_col="t", granularity="1 hour",
                    feature_cols=("x",))
    with pytest.raises(ValueError, match="clashes"):
        ProfileSpec(table=TABLE, baseline_table=None, timestamp_col="t", granularity="1 hour",
                    feature_cols=("x",), model_id_col="count")
