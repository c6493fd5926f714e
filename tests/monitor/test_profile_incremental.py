"""write_profile with a state store on real Spark: reference reuse, late rows, spec changes, slices,
custom metrics, regression quality, empty windows and bad input."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from sklearn import metrics

from monitor.app import package_migrations
from monitor.engines.base import TableNotFound
from monitor.engines.local_spark import LocalSparkEngine
from monitor.profile import CustomMetricDefinition, ProfileError, ProfileSpec, ProfileStore, write_profile
from monitor.state import open_store

pytestmark = pytest.mark.integration

START = datetime(2026, 3, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


def _frame(seed: int, hours: list[int], rows: int = 200, shift: float = 0.0) -> pa.Table:
    rng = np.random.default_rng(seed)
    n = rows * len(hours)
    stamps = [START + h * HOUR + timedelta(seconds=int(s)) for h in hours for s in rng.integers(0, 3600, rows)]
    label = rng.normal(10 + shift, 2, n)
    return pa.table({
        "ts": pa.array(stamps, pa.timestamp("us", tz="UTC")),
        "x": rng.normal(shift, 1, n), "segment": rng.choice(["a", "b"], n),
        "prediction": label + rng.normal(0, 1, n), "label": label,
        "tags": pa.array([["t"]] * n, pa.list_(pa.string())),
    })


@pytest.fixture
def store(tmp_path: Path) -> ProfileStore:
    state = open_store(f"sqlite:///{tmp_path}/state.db", package_migrations())  # type: ignore[arg-type]
    return ProfileStore(state.engine)


def _spec(schema: str, **changes: Any) -> ProfileSpec:
    spec = ProfileSpec(table=f"main.{schema}.t", baseline_table=f"main.{schema}.base", timestamp_col="ts",
                       granularity="1 hour", feature_cols=("x", "segment"), prediction_col="prediction",
                       label_col="label", problem_type="regression")
    return replace(spec, **changes)


def _rows(engine: LocalSparkEngine, table: str) -> list[dict[str, Any]]:
    return engine.query(f"SELECT * FROM {engine.table_ref(table)}").to_pylist()  # noqa: S608


def test_reference_is_reused_until_the_baseline_changes_and_late_rows_rewrite_their_window(
        spark_engine: LocalSparkEngine, store: ProfileStore) -> None:
    engine = spark_engine
    engine.write("main.inc.base", _frame(1, [0], rows=400), mode="overwrite")
    engine.write("main.inc.t", _frame(2, [1, 2]), mode="overwrite")
    spec = _spec("inc")
    first = write_profile(engine, spec, store=store)
    assert (len(first.windows_written), first.reference_reused, first.baseline_written) == (2, False, True)
    again = write_profile(engine, spec, store=store)
    assert (again.windows_written, again.profile_rows, again.drift_rows) == ((), 0, 0)
    assert again.reference_reused

    engine.write("main.inc.t", _frame(3, [2], rows=50), mode="append")  # late rows for window 2
    late = write_profile(engine, spec, store=store)
    assert late.windows_written == late.windows_rewritten == ((START + 2 * HOUR, START + 3 * HOUR),)
    rows = _rows(engine, first.profile_table)
    table_rows = [r for r in rows if r["column_name"] == ":table" and r["log_type"] == "INPUT"]
    assert sorted(r["count"] for r in table_rows) == [200, 250]  # rewritten in place, not duplicated

    engine.write("main.inc.base", _frame(4, [0], rows=300), mode="overwrite")
    changed = write_profile(engine, spec, store=store)
    assert not changed.reference_reused and changed.baseline_written and changed.windows_written == ()
    base_rows = [r for r in _rows(engine, first.profile_table) if r["log_type"] == "BASELINE"
                 and r["column_name"] == ":table"]
    assert [r["count"] for r in base_rows] == [300]


def test_regression_quality_and_custom_metrics_on_table_rows(spark_engine: LocalSparkEngine,
                                                             store: ProfileStore) -> None:
    engine = spark_engine
    data = _frame(5, [0])
    engine.write("main.reg.base", _frame(6, [0]), mode="overwrite")
    engine.write("main.reg.t", data, mode="overwrite")
    spec = _spec("reg", custom_metrics=(
        CustomMetricDefinition("expected_loss", "avg(abs({{prediction_col}} - {{label_col}}) * 2)"),
        CustomMetricDefinition("p90", "percentile({{input_column}}, 0.9)", input_columns=("x",))))
    result = write_profile(engine, spec, store=store)
    rows = [r for r in _rows(engine, result.profile_table) if r["log_type"] == "INPUT"]
    table = next(r for r in rows if r["column_name"] == ":table")
    y, p = np.array(data.column("label")), np.array(data.column("prediction"))
    assert table["mean_squared_error"] == pytest.approx(metrics.mean_squared_error(y, p))
    assert table["r2_score"] == pytest.approx(metrics.r2_score(y, p))
    assert table["mean_average_error"] == pytest.approx(metrics.mean_absolute_error(y, p))
    assert table["expected_loss"] == pytest.approx(2 * metrics.mean_absolute_error(y, p))
    x_row = next(r for r in rows if r["column_name"] == "x")
    assert x_row["p90"] == pytest.approx(float(np.quantile(np.array(data.column("x")), 0.9)), rel=1e-6)
    assert x_row["expected_loss"] is None and table["p90"] is None


def test_slices_give_rows_per_value_and_a_spec_change_bumps_the_monitor_version(
        spark_engine: LocalSparkEngine, store: ProfileStore) -> None:
    engine = spark_engine
    engine.write("main.sl.base", _frame(7, [0]), mode="overwrite")
    engine.write("main.sl.t", _frame(8, [1, 2]), mode="overwrite")
    first = write_profile(engine, _spec("sl"), store=store)
    assert first.monitor_version == 0
    sliced = write_profile(engine, _spec("sl", slicing_exprs=("segment", "x > 0")), store=store)
    assert sliced.monitor_version == 1 and len(sliced.windows_written) == 2
    profile = _rows(engine, sliced.profile_table)
    assert {r["monitor_version"] for r in profile} == {1}  # the old version's rows were replaced
    keys = {(r["slice_key"], r["slice_value"]) for r in profile if r["column_name"] == ":table"}
    assert keys == {(None, None), ("segment", "a"), ("segment", "b"), ("x > 0", "true"), ("x > 0", "false")}
    drift = _rows(engine, sliced.drift_table)
    consecutive = [r for r in drift if r["drift_type"] == "CONSECUTIVE"]
    assert {r["window"]["start"] for r in consecutive} == {START + 2 * HOUR}
    assert all(r["window_cmp"] is None for r in drift if r["drift_type"] == "BASELINE")
    assert {(r["slice_key"], r["slice_value"]) for r in consecutive} == keys


def test_an_explicit_empty_window_gets_count_zero_and_null_statistics(spark_engine: LocalSparkEngine) -> None:
    engine = spark_engine
    engine.write("main.emp.base", _frame(9, [0]), mode="overwrite")
    engine.write("main.emp.t", _frame(10, [1]), mode="overwrite")
    empty = (START + 5 * HOUR, START + 6 * HOUR)
    result = write_profile(engine, _spec("emp"), windows=[empty])
    assert result.windows_written == (empty,)
    rows = _rows(engine, result.profile_table)
    x = next(r for r in rows if r["column_name"] == "x" and r["log_type"] == "INPUT")
    assert (x["count"], x["avg"], x["quantiles"], x["percent_null"]) == (0, None, None, None)
    drift = next(r for r in _rows(engine, result.drift_table) if r["column_name"] == "x")
    assert drift["js_distance"] is None and drift["ks_test"] is None


def test_bad_input_is_reported_clearly(spark_engine: LocalSparkEngine) -> None:
    engine = spark_engine
    engine.write("main.bad.t", _frame(11, [0]), mode="overwrite")
    engine.write("main.bad.empty", _frame(12, [0]).slice(0, 0), mode="overwrite")
    with pytest.raises(ProfileError, match=r"'tags' of main\.bad\.t has type array<string>"):
        write_profile(engine, _spec("bad", feature_cols=("x", "tags"), baseline_table=None))
    skipped = write_profile(engine, _spec("bad", feature_cols=("x", "tags"), baseline_table=None,
                                          skip_unsupported=True))
    assert [c for c, _ in skipped.skipped_columns] == ["tags"]
    with pytest.raises(TableNotFound, match=r"main\.bad\.nothing"):
        write_profile(engine, _spec("bad", baseline_table="main.bad.nothing", output_schema="main.bad2"))
    with pytest.raises(ProfileError, match=r"baseline table main\.bad\.empty is empty"):
        write_profile(engine, _spec("bad", baseline_table="main.bad.empty", output_schema="main.bad3"))


def test_the_fast_parquet_reader_and_spark_sql_give_the_same_tables(spark_engine: LocalSparkEngine) -> None:
    engine = spark_engine
    rng = np.random.default_rng(13)
    n = 600
    stamps = [START + timedelta(seconds=int(s)) for s in rng.integers(0, 3 * 3600, n)]
    x = rng.normal(size=n)
    x[:7] = np.nan
    frame = pa.table({
        "ts": pa.array(stamps, pa.timestamp("us")),  # without a time zone: read as UTC by both
        "x": pa.array(x), "n": pa.array(rng.integers(0, 5, n), pa.int32()),
        "flag": pa.array(rng.random(n) < 0.3), "dec": pa.array([None, *rng.integers(0, 100, n - 1).tolist()],
                                                               pa.decimal128(10, 2)),
        "model": pa.array(rng.choice(["m1", "m2"], n)), "label": pa.array(rng.integers(0, 2, n)),
        "prediction": pa.array(rng.integers(0, 2, n)), "score": pa.array(rng.random(n)),
    })
    engine.write("main.rdr.t", frame, mode="overwrite")
    engine.write("main.rdr.base", frame.slice(0, 300), mode="overwrite")
    spec = ProfileSpec(table="main.rdr.t", baseline_table="main.rdr.base", timestamp_col="ts", granularity="1 hour",
                       feature_cols=("x", "n", "flag", "dec"), prediction_col="prediction", label_col="label",
                       model_id_col="model", prediction_proba_col="score")
    fast = write_profile(engine, spec)
    slow = write_profile(engine, replace(spec, reader="spark", output_schema="main.rdr_sql"))
    assert fast.windows_written == slow.windows_written and len(fast.windows_written) == 3

    def rows(table: str, kind: str) -> list[dict[str, Any]]:
        return sorted(_rows(engine, table), key=lambda r: (str(r["window"]), str(r[kind]), r["column_name"],
                                                           str(r["model"])))

    for table_fast, table_slow, kind in ((fast.profile_table, slow.profile_table, "log_type"),
                                         (fast.drift_table, slow.drift_table, "drift_type")):
        a, b = rows(table_fast, kind), rows(table_slow, kind)
        assert len(a) == len(b) > 0
        for left, right in zip(a, b, strict=True):
            assert left.keys() == right.keys()
            for key in left:
                if isinstance(left[key], float):
                    assert left[key] == pytest.approx(right[key], rel=1e-9, abs=1e-12, nan_ok=True), key
                else:
                    assert left[key] == right[key], key
