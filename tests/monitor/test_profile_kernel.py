"""The per-batch kernel on Arrow data (driver side, no Spark): exact counts, groups, merges, edge cases."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa
import pytest
from sklearn import metrics

from monitor.profile.compare import column_drift
from monitor.profile.kernel import MODEL_COL, WINDOW_COL, Layout, QualitySlots, Slot, scan_table, slice_column
from monitor.profile.partials import CategoricalStats, NumericStats
from monitor.profile.profile_rows import column_row
from monitor.profile.quality import roc_auc
from monitor.profile.spec import ColumnInfo

LAYOUT = Layout((Slot("x", "x", True), Slot("c", "c", False)))


def _table(x: list[float | None], c: list[str | None], w: list[int] | None = None, **extra: list) -> pa.Table:
    columns = {WINDOW_COL: pa.array(w or [1] * len(x), pa.int32()), "x": pa.array(x, pa.float64()),
               "c": pa.array(c, pa.string()), **{k: pa.array(v) for k, v in extra.items()}}
    return pa.table(columns)


def test_counts_nulls_nan_infinity_and_zeros_without_propagating_them() -> None:
    x = [1.0, None, float("nan"), float("inf"), -float("inf"), 0.0, 3.0, None]
    c = ["a", None, "bb", "a", None, "ccc", "a", "bb"]
    group = scan_table(_table(x, c), LAYOUT)[(1, "*", None, None)]
    num = group.columns["x"]
    assert isinstance(num, NumericStats)
    assert (group.rows, num.nulls, num.nan, num.inf, num.zeros, num.finite) == (8, 2, 1, 2, 1, 3)
    assert num.moments.mean == pytest.approx(4 / 3) and (num.min, num.max) == (0.0, 3.0)
    assert num.moments.stddev == pytest.approx(float(np.std([1.0, 0.0, 3.0], ddof=1)))
    cat = group.columns["c"]
    assert isinstance(cat, CategoricalStats)
    assert (cat.nulls, dict(cat.counts)) == (2, {"a": 3, "bb": 2, "ccc": 1})
    assert (cat.min_length, cat.max_length, cat.total_length) == (1, 3, 3 + 4 + 3)
    row = column_row(ColumnInfo("x", "double", numeric=True, categorical=False), group)
    assert (row["num_nan"], row["percent_nan"], row["percent_null"]) == (3, 37.5, 25.0)
    assert row["avg"] == pytest.approx(4 / 3) and row["distinct_count"] == 3


def test_batches_and_their_order_do_not_change_the_result() -> None:
    rng = np.random.default_rng(11)
    x = rng.normal(size=10_000).tolist()
    c = rng.choice(["u", "v", "w"], size=10_000).tolist()
    table = _table(x, c)
    whole = scan_table(table, LAYOUT, batch_rows=10_000)[(1, "*", None, None)]
    pieces = scan_table(table, LAYOUT, batch_rows=333)[(1, "*", None, None)]
    reverse = scan_table(table.take(pa.array(np.arange(9_999, -1, -1))), LAYOUT, batch_rows=1000)[(1, "*", None, None)]
    for other in (pieces, reverse):
        a, b = whole.columns["x"], other.columns["x"]
        assert isinstance(a, NumericStats) and isinstance(b, NumericStats)
        assert a.moments.n == b.moments.n and a.moments.mean == pytest.approx(b.moments.mean, abs=1e-12)
        assert a.moments.m2 == pytest.approx(b.moments.m2, rel=1e-9)
        assert a.hist.counts.tolist() == b.hist.counts.tolist() and np.array_equal(a.registers, b.registers)
        assert whole.columns["c"] == other.columns["c"]


def test_groups_per_window_model_and_slice_add_up() -> None:
    models = ["m1", "m2", None, "m1", "m2", "m1"]
    table = _table([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], ["a", "b", "a", "b", "a", "b"], w=[1, 1, 1, 2, 2, 2],
                   **{MODEL_COL: models, slice_column(0): [1, 2, 1, 0, 1, 2]})
    layout = Layout(LAYOUT.slots, has_model=True, slices=(("x > 2", ("true", "false")),))
    groups = scan_table(table, layout, batch_rows=4)
    rows = {k: g.rows for k, g in groups.items()}
    assert rows[(1, "*", None, None)] == 3 and rows[(2, "*", None, None)] == 3
    assert rows[(1, "m1", None, None)] == 1 and rows[(1, None, None, None)] == 1 and rows[(2, "m1", None, None)] == 2
    assert rows[(1, "*", "x > 2", "true")] == 2 and rows[(1, "*", "x > 2", "false")] == 1
    assert rows[(2, "*", "x > 2", "true")] == 1 and (2, "*", "x > 2", "false") in rows
    assert not any(value is None and key is not None for (_, _, key, value) in groups)
    whole = groups[(2, "*", None, None)].columns["x"]
    assert isinstance(whole, NumericStats) and whole.moments.mean == pytest.approx(5.0)


def test_all_null_and_constant_columns_give_no_or_zero_drift_not_errors() -> None:
    empty = scan_table(_table([None, None], [None, None]), LAYOUT)[(1, "*", None, None)]
    const = scan_table(_table([2.0] * 50, ["k"] * 50), LAYOUT)[(1, "*", None, None)]
    drift = column_drift(empty.columns["x"], const.columns["x"])
    assert drift.js_distance is None and drift.ks is None and drift.wasserstein is None
    same = column_drift(const.columns["x"], const.columns["x"])
    assert same.js_distance == 0.0 and same.psi == pytest.approx(0.0) and same.wasserstein == 0.0
    assert same.wasserstein_normed is None  # the reference does not vary
    assert column_drift(const.columns["c"], const.columns["c"]).chi_square is not None
    row = column_row(ColumnInfo("x", "double", numeric=True, categorical=False), empty)
    assert row["avg"] is None and row["quantiles"] is None and row["num_nulls"] == 2


def test_unseen_category_is_counted_and_keeps_chi_square_finite() -> None:
    ref = scan_table(_table([1.0] * 4, ["a", "a", "b", "b"]), LAYOUT)[(1, "*", None, None)]
    cur = scan_table(_table([1.0] * 4, ["a", "b", "new", "new"]), LAYOUT)[(1, "*", None, None)]
    drift = column_drift(ref.columns["c"], cur.columns["c"])
    assert drift.chi_square is not None and drift.chi_square.unseen_categories == 1
    assert np.isfinite(drift.chi_square.statistic) and drift.tv_distance == pytest.approx(0.5)


def test_classification_quality_inputs_give_sklearn_metrics() -> None:
    rng = np.random.default_rng(12)
    labels = rng.integers(0, 2, 4000)
    scores = np.clip(rng.normal(0.4 + 0.2 * labels, 0.2), 0, 1)
    preds = (scores > 0.5).astype(int)
    table = _table(scores.tolist(), preds.astype(str).tolist(), qp=preds.astype(str).tolist(),
                   ql=labels.astype(str).tolist(), qs=scores.tolist())
    layout = Layout(LAYOUT.slots, quality=QualitySlots(pred_text="qp", label_text="ql", score="qs"))
    quality = scan_table(table, layout, batch_rows=1000)[(1, "*", None, None)].quality
    assert quality is not None
    expected = Counter(zip(preds.astype(str).tolist(), labels.astype(str).tolist(), strict=True))
    assert dict(quality.confusion) == dict(expected)
    assert roc_auc(quality.scores) == pytest.approx(metrics.roc_auc_score(labels, scores), abs=2e-3)


def test_the_fast_reader_assigns_windows_and_casts_like_the_sql() -> None:
    from datetime import UTC, datetime

    from monitor.profile.direct import DirectPlan, project, tasks

    hour = 3_600_000_000
    start = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp()) * 1_000_000
    batch = pa.RecordBatch.from_pydict({
        "ts": pa.array([start - 1, start, start + hour - 1, start + hour, None, start + 5 * hour], pa.timestamp("us")),
        "n": pa.array([1, 2, 3, 4, 5, 6], pa.int32()), "flag": pa.array([True, False, None, True, True, False])})
    plan = DirectPlan((("__lw_n0", "n", "DOUBLE"), ("__lw_c1", "flag", "STRING")), "ts",
                      (start, start + hour), (start + hour, start + 2 * hour))
    out = project(batch, plan)
    assert out is not None
    assert out.column(WINDOW_COL).to_pylist() == [1, 1, 2]  # before, NULL and after every window: dropped
    assert out.column("__lw_n0").to_pylist() == [2.0, 3.0, 4.0]
    assert out.column("__lw_c1").to_pylist() == ["false", None, "true"]  # Spark's CAST(boolean AS STRING)
    assert tasks([("a", 0), ("a", 1), ("b", 0)], workers=2) == [(["a", "b"], [0, 0]), (["a"], [1])]
