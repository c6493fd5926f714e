"""The scan's fast paths give the numbers of the plain ones: folded histograms, in-place HyperLogLog,
the KS p-value on large samples, and the local worker pool against Spark's tasks and Spark SQL."""

from __future__ import annotations

import os
import signal
import struct
import time
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy import stats as scipy_stats

from monitor.engines.local_spark import LocalSparkEngine
from monitor.profile import ProfileSpec, hll, pool, write_profile
from monitor.profile.direct import DirectPlan, pieces, project, scan_pieces
from monitor.profile.kernel import Layout, Slot, scan_table
from monitor.profile.partials import NumericStats
from monitor.profile.pool import scan_local
from monitor.profile.sketch import Histogram, bucket_keys
from monitor.profile.smirnov import LARGE_N, kstwo_sf

_MASK = (1 << 64) - 1


def _mixed_sign_samples() -> list[np.ndarray]:
    rng = np.random.default_rng(11)
    return [rng.normal(size=50_000), rng.uniform(-5, 5, 70_000), np.round(rng.normal(size=20_000), 3),
            np.array([-1e-300, 1e-300, -0.0, 0.0, 5e-324, -5e-324, -2.5, 1e300, -1e300]),
            np.concatenate([-rng.lognormal(size=999), rng.lognormal(size=3)]), np.repeat([-2.0, 2.0], 40)]


@pytest.mark.parametrize("values", _mixed_sign_samples())
def test_histograms_of_both_signs_count_every_bucket(values: np.ndarray) -> None:
    hist = Histogram.of(values)
    keys, counts = np.unique(bucket_keys(values), return_counts=True)
    assert hist.keys.tolist() == keys.tolist()
    assert hist.counts.tolist() == counts.tolist()


def _reference_registers(values: np.ndarray) -> list[int]:
    """HyperLogLog as documented, one value at a time: splitmix64 finaliser of the bits of ``v + 0.0``,
    register = top 11 bits, rank = 1 + leading zeros of the next 42 bits."""
    regs = [0] * hll.REGISTERS
    for v in values.tolist():
        h = struct.unpack("<Q", struct.pack("<d", v + 0.0))[0]
        h ^= h >> 30
        h = (h * 0xBF58476D1CE4E5B9) & _MASK
        h ^= h >> 27
        h = (h * 0x94D049BB133111EB) & _MASK
        h ^= h >> 31
        rest = (h & ((1 << 53) - 1)) >> 11
        regs[h >> 53] = max(regs[h >> 53], 42 - rest.bit_length() + 1)
    return regs


def test_hyperloglog_registers_follow_the_documented_hash_and_rank() -> None:
    rng = np.random.default_rng(3)
    values = np.concatenate([rng.normal(size=6_000), np.arange(3_000.0), [0.0, -0.0, 1e-300, -7.5]])
    assert hll.registers(values).tolist() == _reference_registers(values)


@pytest.mark.parametrize(("n", "nx2"), [(LARGE_N, 2.3), (LARGE_N, 12.5), (60_001, 4.5), (60_001, 200.0),
                                        (250_000, 2.2)])
def test_ks_pvalue_on_large_samples_equals_scipy(n: int, nx2: float) -> None:
    x = float(np.sqrt(nx2 / n))
    expected = float(scipy_stats.kstwo.sf(x, n))
    assert kstwo_sf(x, n) == pytest.approx(expected, rel=2e-9, abs=1e-300)


def test_ks_pvalue_elsewhere_is_scipys_own() -> None:
    for x, n in ((0.3, 50), (0.001, 500_000), (0.05, 500_000), (0.002, 2_000_000), (0.7, 30_000)):
        assert kstwo_sf(x, n) == float(scipy_stats.kstwo.sf(x, n))


def _write_parts(folder: Path, tables: list[pa.Table], row_group: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, table in enumerate(tables):
        pq.write_table(table, folder / f"part-{i:05d}.parquet", row_group_size=row_group)


def _frame(rng: np.random.Generator, n: int, start: datetime) -> pa.Table:
    x = rng.normal(size=n) * rng.choice([-1.0, 1.0], n)
    x[::97] = np.nan
    return pa.table({
        "ts": pa.array([start + timedelta(seconds=int(s)) for s in rng.integers(0, 3 * 3600, n)],
                       pa.timestamp("us", tz="UTC")),
        "x": pa.array(x, mask=rng.random(n) < 0.02), "u": rng.uniform(-5, 5, n),
        "k": pa.array(rng.integers(0, 6, n), pa.int32()), "c": rng.choice(["a", "b", "c"], n)})


@pytest.mark.integration
def test_the_worker_pool_merges_pieces_like_one_process(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    start = datetime(2026, 3, 1, tzinfo=UTC)
    _write_parts(tmp_path, [_frame(rng, 3_000, start), _frame(rng, 2_000, start)], row_group=700)
    plan = DirectPlan((("__lw_n0", "x", "DOUBLE"), ("__lw_n1", "u", "DOUBLE"), ("__lw_c2", "c", "STRING")), None)
    layout = Layout((Slot("__lw_n0", "x", True), Slot("__lw_n1", "u", True), Slot("__lw_c2", "c", False)))
    found = pieces(tmp_path, plan.columns, None)
    assert found is not None and len(found) == 8
    pooled, alone = scan_local(found, plan, layout, workers=2), scan_pieces(found[:1], plan, layout)
    serial = scan_local(found, plan, layout, workers=1)
    assert pooled.keys() == serial.keys() == {(1, "*", None, None)}
    assert alone[(1, "*", None, None)].rows == 700
    batches = [b for p in found for b in [project(t, plan) for t in
               pq.ParquetFile(p[0]).read_row_group(p[1], columns=plan.columns).to_batches()] if b is not None]
    whole = scan_table(pa.Table.from_batches(batches), layout)[(1, "*", None, None)]
    for mine in (pooled[(1, "*", None, None)], serial[(1, "*", None, None)]):
        assert mine.rows == whole.rows == 5_000
        for name in ("x", "u"):
            a, b = mine.columns[name], whole.columns[name]
            assert isinstance(a, NumericStats) and isinstance(b, NumericStats)
            assert (a.nulls, a.nan, a.zeros, a.min, a.max, a.moments.n) == (b.nulls, b.nan, b.zeros, b.min, b.max,
                                                                             b.moments.n)
            assert a.hist.keys.tolist() == b.hist.keys.tolist()
            assert a.hist.counts.tolist() == b.hist.counts.tolist()
            assert a.registers.tolist() == b.registers.tolist()
            # sums in another order (and numpy's SIMD sums on other alignments): equal to the last bits or so
            assert a.moments.mean == pytest.approx(b.moments.mean, rel=1e-12)
            assert a.moments.m2 == pytest.approx(b.moments.m2, rel=1e-12)
        assert mine.columns["c"] == whole.columns["c"]


@pytest.mark.integration
def test_local_pool_spark_tasks_and_spark_sql_write_the_same_tables(spark_engine: LocalSparkEngine) -> None:
    engine = spark_engine
    rng = np.random.default_rng(21)
    start = datetime(2026, 3, 1, tzinfo=UTC)
    _write_parts(engine.path("main.fastp.t"), [_frame(rng, 1_500, start), _frame(rng, 1_200, start)], row_group=400)
    _write_parts(engine.path("main.fastp.base"), [_frame(rng, 900, start), _frame(rng, 800, start)], row_group=300)
    spec = ProfileSpec(table="main.fastp.t", baseline_table="main.fastp.base", timestamp_col="ts",
                       granularity="1 hour", feature_cols=("x", "u", "k", "c"))
    results = {reader: write_profile(engine, replace(spec, reader=reader, output_schema=f"main.fastp_{reader}"))
               for reader in ("auto", "spark_arrow", "spark")}
    assert {len(r.windows_written) for r in results.values()} == {3}

    def rows(table: str, kind: str) -> list[dict[str, Any]]:
        found = engine.query(f"SELECT * FROM {engine.table_ref(table)}").to_pylist()  # noqa: S608
        return sorted(found, key=lambda r: (str(r["window"]), str(r[kind]), r["column_name"]))

    for attr, kind in (("profile_table", "log_type"), ("drift_table", "drift_type")):
        auto = rows(getattr(results["auto"], attr), kind)
        assert len(auto) > 0
        for other, rel in (("spark_arrow", 1e-12), ("spark", 1e-9)):  # spark_arrow: the same pieces and merges
            theirs = rows(getattr(results[other], attr), kind)
            assert len(theirs) == len(auto)
            for left, right in zip(auto, theirs, strict=True):
                assert left.keys() == right.keys()
                for key in left:
                    if isinstance(left[key], float):
                        assert left[key] == pytest.approx(right[key], rel=rel, abs=1e-12, nan_ok=True), key
                    else:
                        assert left[key] == right[key], (other, key)


@pytest.mark.integration
def test_a_worker_that_dies_is_an_error_and_the_next_scan_gets_new_ones(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    _write_parts(tmp_path, [_frame(rng, 2_000, datetime(2026, 3, 1, tzinfo=UTC))], row_group=500)
    plan = DirectPlan((("__lw_n0", "u", "DOUBLE"),), None)
    layout = Layout((Slot("__lw_n0", "u", True),))
    found = pieces(tmp_path, plan.columns, None)
    assert found is not None
    expected = scan_local(found, plan, layout, workers=2)
    for pid in list(pool._pools[2]._processes):  # the live workers, killed on purpose
        os.kill(pid, signal.SIGKILL)
    time.sleep(0.5)  # the pool notices and marks itself broken: submitting then fails at once
    with pytest.raises(BrokenProcessPool):
        scan_local(found, plan, layout, workers=2)
    again = scan_local(found, plan, layout, workers=2)
    assert again[(1, "*", None, None)].rows == expected[(1, "*", None, None)].rows == 2_000
