"""The per-batch kernel: Arrow record batch in, sufficient statistics per group out, in plain numpy.

Spark runs it inside ``mapInArrow`` (:func:`partition_function`): each task folds its batches into
one :class:`GroupStats` per group and sends back a few kilobytes, which the driver merges. The same
function serves tests and small inputs on the driver (:func:`scan_table`).

The batch carries (see ``monitor.profile.scan``): ``__lw_w`` (1-based window index), optionally
``__lw_m`` (model id as string) and ``__lw_s<k>`` (1-based index of the row's value of slicing
expression k among its kept values, 0 for none), then one column per :class:`Slot`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from monitor.profile import hll
from monitor.profile.partials import (
    CategoricalStats,
    ColumnStats,
    GroupKey,
    GroupStats,
    Moments,
    NumericStats,
    QualityStats,
    RegressionStats,
    merge_into,
)
from monitor.profile.sketch import Histogram

ALL_MODELS = "*"
WINDOW_COL = "__lw_w"
MODEL_COL = "__lw_m"
PAIR_SEPARATOR = "\x1f"
Index = npt.NDArray[np.intp] | None  # rows of a group inside the batch; None = every row


@dataclass(frozen=True)
class Slot:
    """One batch column and the statistics kept for it under ``key``."""

    column: str  # name in the batch
    key: str  # key in GroupStats.columns
    numeric: bool  # NumericStats from a double column, else CategoricalStats from a string column


@dataclass(frozen=True)
class QualitySlots:
    """Batch columns for model quality; any may be None."""

    pred_text: str | None = None
    label_text: str | None = None
    pred_value: str | None = None
    label_value: str | None = None
    score: str | None = None


@dataclass(frozen=True)
class Layout:
    slots: tuple[Slot, ...]
    has_model: bool = False
    slices: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (slice key, kept values) per expression
    quality: QualitySlots | None = None
    extra: tuple[str, ...] = field(default_factory=tuple)  # unused columns the kernel ignores


def slice_column(k: int) -> str:
    return f"__lw_s{k}"


# -- one group ------------------------------------------------------------------------------------

@dataclass
class _Prepared:
    """A batch's columns converted once: doubles with a validity mask, or Arrow string arrays."""

    values: dict[str, npt.NDArray[np.float64]]
    valid: dict[str, npt.NDArray[np.bool_] | None]
    arrays: dict[str, pa.Array]


def _prepare(batch: pa.RecordBatch, layout: Layout) -> _Prepared:
    prepared = _Prepared({}, {}, {})
    names = {s.column for s in layout.slots if s.numeric}
    if layout.quality is not None:
        q = layout.quality
        names |= {c for c in (q.pred_value, q.label_value, q.score) if c is not None}
    for name in names:
        array = batch.column(name)
        prepared.values[name] = np.asarray(array.to_numpy(zero_copy_only=False), dtype=np.float64)
        prepared.valid[name] = None if array.null_count == 0 else np.asarray(array.is_valid())
    texts = {s.column for s in layout.slots if not s.numeric}
    if layout.quality is not None:
        texts |= {c for c in (layout.quality.pred_text, layout.quality.label_text) if c is not None}
    for name in texts:
        prepared.arrays[name] = batch.column(name)
    return prepared


def numeric_stats(values: npt.NDArray[np.float64], valid: npt.NDArray[np.bool_] | None) -> NumericStats:
    """Statistics of a double column whose nulls are NaN in ``values`` and False in ``valid``."""
    nulls = 0 if valid is None else int(values.size - np.count_nonzero(valid))
    finite = np.isfinite(values)
    nan = inf = 0
    x = values
    if not finite.all():
        nan = int(np.count_nonzero(np.isnan(values))) - nulls
        inf = int(np.count_nonzero(np.isinf(values)))
        x = values[finite]
    if x.size == 0:
        return NumericStats(nulls=nulls, nan=nan, inf=inf)
    shift = x[0]
    d = x - shift
    s1 = float(d.sum())
    n = x.size
    moments = Moments(n, float(shift + s1 / n), max(float(np.einsum("i,i->", d, d)) - s1 * s1 / n, 0.0))
    return NumericStats(nulls=nulls, nan=nan, inf=inf, zeros=int(n - np.count_nonzero(x)), moments=moments,
                        min=float(x.min()), max=float(x.max()), hist=Histogram.of(x),
                        registers=hll.registers(x))


def categorical_stats(array: pa.Array) -> CategoricalStats:
    """Value counts and lengths of a string column."""
    nulls = array.null_count
    if nulls == len(array):
        return CategoricalStats(nulls=nulls)
    counted = pc.value_counts(array)
    values, counts = counted.field("values").to_pylist(), counted.field("counts").to_pylist()
    table = {v: int(n) for v, n in zip(values, counts, strict=True) if v is not None}
    lengths = pc.utf8_length(array)
    span = pc.min_max(lengths)
    return CategoricalStats(nulls=nulls, counts=table, min_length=int(span["min"].as_py()),
                            max_length=int(span["max"].as_py()),
                            total_length=int(pc.sum(lengths).as_py())).capped()


def _take(prepared: _Prepared, name: str, index: Index) -> tuple[npt.NDArray[np.float64],
                                                                npt.NDArray[np.bool_] | None]:
    values, valid = prepared.values[name], prepared.valid[name]
    if index is None:
        return values, valid
    return values[index], None if valid is None else valid[index]


def _text(prepared: _Prepared, name: str, index: Index) -> pa.Array:
    array = prepared.arrays[name]
    return array if index is None else array.take(pa.array(index))


def _quality(prepared: _Prepared, q: QualitySlots, index: Index) -> QualityStats:
    confusion: dict[tuple[str, str], int] = {}
    scores: dict[str, Histogram] = {}
    if q.pred_text is not None and q.label_text is not None:
        pairs = pc.binary_join_element_wise(_text(prepared, q.pred_text, index),
                                            _text(prepared, q.label_text, index), PAIR_SEPARATOR)
        for key, n in categorical_stats(pairs).counts.items():
            pred, _, label = key.partition(PAIR_SEPARATOR)
            confusion[(pred, label)] = n
    if q.score is not None and q.label_text is not None:
        score, _ = _take(prepared, q.score, index)
        labels = _text(prepared, q.label_text, index)
        encoded = pc.dictionary_encode(labels)
        codes = np.asarray(encoded.indices.fill_null(-1))
        for code, label in enumerate(encoded.dictionary.to_pylist()):
            chosen = score[(codes == code) & np.isfinite(score)]
            if chosen.size:
                scores[str(label)] = Histogram.of(chosen)
    regression = RegressionStats()
    if q.pred_value is not None and q.label_value is not None:
        predicted, _ = _take(prepared, q.pred_value, index)
        actual, _ = _take(prepared, q.label_value, index)
        ok = np.isfinite(predicted) & np.isfinite(actual)
        p, y = predicted[ok], actual[ok]
        if y.size:
            e = p - y
            nonzero = y != 0
            label_stats = numeric_stats(y, None).moments
            regression = RegressionStats(int(y.size), float(np.einsum("i,i->", e, e)), float(np.abs(e).sum()),
                                         float(np.abs(e[nonzero] / y[nonzero]).sum()),
                                         int(np.count_nonzero(nonzero)), label_stats)
    return QualityStats(confusion, scores, regression)


def group_stats(prepared: _Prepared, layout: Layout, index: Index, rows: int) -> GroupStats:
    columns: dict[str, ColumnStats] = {}
    for slot in layout.slots:
        if slot.numeric:
            columns[slot.key] = numeric_stats(*_take(prepared, slot.column, index))
        else:
            columns[slot.key] = categorical_stats(_text(prepared, slot.column, index))
    quality = None if layout.quality is None else _quality(prepared, layout.quality, index)
    return GroupStats(rows, columns, quality)


# -- groups of a batch ----------------------------------------------------------------------------

def _segments(codes: npt.NDArray[np.int64]) -> Iterator[tuple[int, Index]]:
    """(code, row indices) per distinct code; a batch with one code yields (code, None)."""
    if codes.size == 0:
        return
    first = int(codes[0])
    if (codes == first).all():
        yield first, None
        return
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    bounds = np.flatnonzero(np.diff(sorted_codes)) + 1
    for part in np.split(order, bounds):
        yield int(codes[part[0]]), part


def _model_codes(batch: pa.RecordBatch, layout: Layout) -> tuple[npt.NDArray[np.int64], list[str | None]]:
    if not layout.has_model:
        return np.zeros(batch.num_rows, np.int64), [ALL_MODELS]
    encoded = pc.dictionary_encode(batch.column(MODEL_COL), null_encoding="encode")
    return np.asarray(encoded.indices, dtype=np.int64), encoded.dictionary.to_pylist()


def scan_batch(batch: pa.RecordBatch, layout: Layout) -> dict[GroupKey, GroupStats]:
    """Statistics of every group of ``batch``: per window, per model id and all models, per slice."""
    result: dict[GroupKey, GroupStats] = {}
    if batch.num_rows == 0:
        return result
    prepared = _prepare(batch, layout)
    windows = np.asarray(batch.column(WINDOW_COL).to_numpy(zero_copy_only=False), dtype=np.int64)
    models, model_names = _model_codes(batch, layout)
    n_models = len(model_names)
    dimensions: Sequence[tuple[str | None, tuple[str, ...], npt.NDArray[np.int64]]]
    if layout.slices:
        dimensions = [(key, values, np.asarray(batch.column(slice_column(k)).fill_null(0), dtype=np.int64))
                      for k, (key, values) in enumerate(layout.slices)]
    else:
        dimensions = [(None, (), np.zeros(batch.num_rows, np.int64))]
    for k, (slice_key, slice_values, codes) in enumerate(dimensions):
        width = len(slice_values) + 1
        combined = (windows * n_models + models) * width + codes
        for code, index in _segments(combined):
            w, rest = divmod(code, n_models * width)
            m, s = divmod(rest, width)
            rows = batch.num_rows if index is None else index.size
            stats = group_stats(prepared, layout, index, rows)
            model = model_names[m]
            if s > 0:
                merge_into(result, (w, model, slice_key, slice_values[s - 1]), stats)
                if layout.has_model:
                    merge_into(result, (w, ALL_MODELS, slice_key, slice_values[s - 1]), stats)
            if k == 0:  # the whole table, from the first slicing dimension's groups
                merge_into(result, (w, model, None, None), stats)
                if layout.has_model:
                    merge_into(result, (w, ALL_MODELS, None, None), stats)
    return result


def scan_batches(batches: Iterator[pa.RecordBatch], layout: Layout) -> dict[GroupKey, GroupStats]:
    result: dict[GroupKey, GroupStats] = {}
    for batch in batches:
        for key, stats in scan_batch(batch, layout).items():
            merge_into(result, key, stats)
    return result


def scan_table(table: pa.Table, layout: Layout, batch_rows: int = 1 << 17) -> dict[GroupKey, GroupStats]:
    """The kernel on the driver, over an Arrow table (tests and small inputs)."""
    return scan_batches(iter(table.to_batches(max_chunksize=batch_rows)), layout)


OUTPUT_SCHEMA = "w int, model string, slice_key string, slice_value string, stats binary"


def encode_groups(groups: dict[GroupKey, GroupStats]) -> pa.RecordBatch:
    """One output row per group, statistics as bytes (``OUTPUT_SCHEMA``)."""
    from monitor.profile.codec import encode  # noqa: PLC0415 - resolved in the Python worker

    columns: dict[str, list[Any]] = {"w": [], "model": [], "slice_key": [], "slice_value": [], "stats": []}
    for (w, model, slice_key, slice_value), stats in groups.items():
        columns["w"].append(w)
        columns["model"].append(model)
        columns["slice_key"].append(slice_key)
        columns["slice_value"].append(slice_value)
        columns["stats"].append(encode(stats))
    return pa.RecordBatch.from_pydict(columns, schema=pa.schema([
        ("w", pa.int32()), ("model", pa.string()), ("slice_key", pa.string()), ("slice_value", pa.string()),
        ("stats", pa.binary())]))


def partition_function(layout: Layout) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """The function ``mapInArrow`` runs per partition: one output row per group, statistics as bytes."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        yield encode_groups(scan_batches(batches, layout))

    return run
