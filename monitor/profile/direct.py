"""The fast reader for local Parquet tables: row groups read with pyarrow, no JVM decoding.

On the embedded engine a table is a folder of Parquet files. Spark's own path (Parquet decoded in the
JVM, turned into rows, turned back into Arrow for ``mapInArrow``) costs about four times what the
numpy kernel itself costs on two cores. Here the work is a list of (file, row group) pieces; each piece
is read with pyarrow and gets the same casts and window assignment as the SQL (``CAST(x AS DOUBLE)``,
``CAST(x AS STRING)``, a window's ``[start, end)``) before the same kernel.

The pieces run either outside Spark, in this process or a small pool of worker processes
(:func:`monitor.profile.pool.scan_local`, what the local engine uses: the files are on this machine,
and a Spark job's fixed cost, about half a second of scheduling and Python-worker hand-off, is as
large as the kernel itself on a 1M-row window), or as Spark tasks (:func:`direct_function` inside
``mapInArrow``, reader ``spark_arrow``). Both call :func:`scan_pieces` per piece and merge the partial
results in piece order, so they give the same numbers (sums to the last bit or so: numpy's vectorised
sums depend on how an array is aligned in memory, which differs between processes).

It applies when the engine exposes table folders (``path``), the folder holds plain (unpartitioned)
Parquet files, the timestamp column is a timestamp or date, no slicing expression is configured
(those are SQL) and the windows do not overlap; otherwise :func:`monitor.profile.scan.scan` uses SQL.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from monitor.profile.kernel import WINDOW_COL, Layout, encode_groups, scan_batch
from monitor.profile.partials import GroupKey, GroupStats, merge_into

Piece = tuple[str, int]  # (Parquet file, row group)
_TYPES = {"DOUBLE": pa.float64(), "STRING": pa.string()}


@dataclass(frozen=True)
class DirectPlan:
    casts: tuple[tuple[str, str, str], ...]  # (batch column, source column, "DOUBLE" | "STRING")
    timestamp: str | None  # None: every row belongs to window 1 (a baseline)
    starts: tuple[int, ...] = ()  # window bounds in microseconds since the epoch, sorted
    ends: tuple[int, ...] = ()
    batch_rows: int = 1 << 17

    @property
    def columns(self) -> list[str]:
        names = [source for _, source, _ in self.casts]
        return list(dict.fromkeys([*names, *([self.timestamp] if self.timestamp else [])]))


def pieces(root: Path, needed: Sequence[str], timestamp: str | None) -> list[Piece] | None:
    """The row groups of the plain Parquet table at ``root``, or None when the fast reader cannot read it."""
    files: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        visible = [d for d in dirnames if not d.startswith((".", "_"))]
        if visible:
            return None  # partitioned (col=value folders): Spark knows how to read that, we do not
        dirnames[:] = []
        files += [Path(dirpath) / f for f in filenames if f.endswith(".parquet") and not f.startswith((".", "_"))]
    if not files:
        return None
    found: list[Piece] = []
    for path in sorted(files):
        meta = pq.ParquetFile(path)
        schema = meta.schema_arrow
        if any(name not in schema.names for name in needed):
            return None
        if timestamp is not None and not (pa.types.is_timestamp(schema.field(timestamp).type)
                                          or pa.types.is_date(schema.field(timestamp).type)):
            return None
        found += [(str(path), rg) for rg in range(meta.metadata.num_row_groups)]
    return found


def _window_index(batch: pa.RecordBatch, plan: DirectPlan) -> np.ndarray[Any, np.dtype[np.int64]]:
    if plan.timestamp is None:
        return np.ones(batch.num_rows, np.int64)
    column = batch.column(plan.timestamp)
    micros = column.cast(pa.timestamp("us", tz="UTC")).cast(pa.int64())
    valid = np.asarray(micros.is_valid())
    values = np.asarray(micros.fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64)
    starts, ends = np.asarray(plan.starts, np.int64), np.asarray(plan.ends, np.int64)
    index = np.searchsorted(starts, values, side="right")
    inside = valid & (index > 0) & (values < ends[np.maximum(index - 1, 0)])
    result: np.ndarray[Any, np.dtype[np.int64]] = np.where(inside, index, 0)
    return result


def project(batch: pa.RecordBatch, plan: DirectPlan) -> pa.RecordBatch | None:
    """The batch the kernel expects (``__lw_w`` and the cast columns), rows outside every window dropped."""
    windows = _window_index(batch, plan)
    keep = windows > 0
    if not keep.any():
        return None
    arrays = [pa.array(windows.astype(np.int32))]
    names = [WINDOW_COL]
    for alias, source, kind in plan.casts:
        arrays.append(batch.column(source).cast(_TYPES[kind], safe=False))
        names.append(alias)
    projected = pa.RecordBatch.from_arrays(arrays, names=names)
    return projected if keep.all() else projected.filter(pa.array(keep))


def tasks(found: Sequence[Piece], workers: int | None = None) -> list[tuple[list[str], list[int]]]:
    """The pieces dealt round-robin into rows, one row per task: by default a task per row group, which
    lets Spark balance the cores (measured no slower than a task per core at 1M and 10M rows)."""
    count = max(1, len(found) if workers is None else min(len(found), workers))
    return [([p for p, _ in found[i::count]], [g for _, g in found[i::count]]) for i in range(count)]


TASKS_SCHEMA = "paths array<string>, groups array<int>"


def read_piece(piece: Piece, plan: DirectPlan) -> Iterator[pa.RecordBatch]:
    """The projected batches (see :func:`project`) of one row group."""
    path, group = piece
    table = pq.ParquetFile(path).read_row_group(group, columns=plan.columns, use_threads=False)
    for part in table.to_batches(max_chunksize=plan.batch_rows):
        projected = project(part, plan)
        if projected is not None:
            yield projected


def scan_pieces(found: Sequence[Piece], plan: DirectPlan, layout: Layout) -> dict[GroupKey, GroupStats]:
    """The kernel's statistics of ``found``, batch after batch in piece order."""
    groups: dict[GroupKey, GroupStats] = {}
    for piece in found:
        for batch in read_piece(piece, plan):
            for key, stats in scan_batch(batch, layout).items():
                merge_into(groups, key, stats)
    return groups


def local_threads() -> int:
    """The cores this process may use: the size of the local scan's worker pool."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def direct_function(plan: DirectPlan, layout: Layout) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """What ``mapInArrow`` runs per partition of :func:`tasks` rows."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            paths = [p for ps in batch.column("paths").to_pylist() for p in ps]
            numbers = [g for gs in batch.column("groups").to_pylist() for g in gs]
            yield encode_groups(scan_pieces(list(zip(paths, numbers, strict=True)), plan, layout))

    return run
