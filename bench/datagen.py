"""Seeded bench data: a reference and a current table, 20 numeric and 5 categorical columns.

Written once per size as Parquet under ``bench/data/<rows>/main/bench/{reference,current}`` (the
lakehouse layout, so lakewarden's local engine reads the same files as the peers): files of 1M rows,
row groups of 250k rows (about 40 MB; Spark reads a row group in one task, so the row-group size
bounds its parallelism, and Spark's own writer uses 128 MB blocks). The current table drifts on
purpose: a mean shift on ``num_00``..``num_04``, a scale change on ``num_05``..``num_07``, a new mix
on ``cat_0`` and ``cat_1``. Every row of the current table falls in one day (``timestamp``), so a
``1 day`` granularity makes it one window.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

NUMERIC = tuple(f"num_{i:02d}" for i in range(20))
CATEGORICAL = tuple(f"cat_{i}" for i in range(5))
CATEGORIES = tuple(f"c{i:02d}" for i in range(12))
CHUNK = 1_000_000
ROW_GROUP = 250_000
DAY = datetime(2026, 1, 1, tzinfo=UTC)
SEED = 20260101


def _probabilities(k: int, shift: float) -> np.ndarray:
    weights = np.exp(-np.arange(k) / 4.0) + shift * np.linspace(0.0, 1.0, k)
    return weights / weights.sum()


def _chunk(rng: np.random.Generator, rows: int, current: bool) -> pa.Table:
    columns: dict[str, pa.Array] = {}
    micros = int(DAY.timestamp() * 1e6) + rng.integers(0, 86_400_000_000, size=rows)
    columns["timestamp"] = pa.array(micros, type=pa.timestamp("us", tz="UTC"))
    for i, name in enumerate(NUMERIC):
        kind = i % 4
        shift = 0.25 if current and i < 5 else 0.0
        scale = 1.3 if current and 5 <= i < 8 else 1.0
        if kind == 0:
            values = rng.normal(10.0 * i, 1.0 + i, size=rows) * scale + shift * (1.0 + i)
        elif kind == 1:
            values = rng.lognormal(1.0, 0.5, size=rows) * scale + shift
        elif kind == 2:
            values = rng.uniform(-5.0, 5.0, size=rows) * scale + shift
        else:
            values = rng.exponential(2.0, size=rows) * scale + shift
        columns[name] = pa.array(values)
    for i, name in enumerate(CATEGORICAL):
        probs = _probabilities(len(CATEGORIES), 0.8 if current and i < 2 else 0.0)
        codes = rng.choice(len(CATEGORIES), size=rows, p=probs).astype(np.int32)
        columns[name] = pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(CATEGORIES)).cast(pa.string())
    return pa.table(columns)


def table_dir(root: Path, rows: int, name: str) -> Path:
    return root / str(rows) / "main" / "bench" / name


def generate(root: Path, rows: int) -> tuple[Path, Path]:
    """Write (reference, current) for ``rows`` rows each, unless already there; return their folders."""
    paths = []
    for offset, name in enumerate(("reference", "current")):
        folder = table_dir(root, rows, name)
        done = folder / f"_SUCCESS_{ROW_GROUP}"
        paths.append(folder)
        if done.exists():
            continue
        folder.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng([SEED, rows, offset])
        for part, start in enumerate(range(0, rows, CHUNK)):
            table = _chunk(rng, min(CHUNK, rows - start), current=name == "current")
            pq.write_table(table, folder / f"part-{part:05d}.parquet", row_group_size=ROW_GROUP)
        done.write_text("")
    return paths[0], paths[1]
