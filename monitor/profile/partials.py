"""Sufficient statistics of one group of rows (a window, model id and slice), and how they merge.

Every field merges associatively: counts add, min/max combine, (count, mean, M2) merge with Chan's
formula, histograms add bucket by bucket, HyperLogLog registers take the maximum, category counts
add. So a batch, a partition, a whole window and a cached baseline are the same kind of object.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from monitor.profile import hll
from monitor.profile.sketch import Histogram

MAX_CATEGORIES = 10_000  # kept per column and group; rarer values are folded into ``other``


@dataclass(frozen=True)
class Moments:
    """Count, mean and sum of squared deviations (M2) of the finite values."""

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0

    def merge(self, other: Moments) -> Moments:
        if other.n == 0:
            return self
        if self.n == 0:
            return other
        n = self.n + other.n
        delta = other.mean - self.mean
        mean = self.mean + delta * other.n / n
        m2 = self.m2 + other.m2 + delta * delta * self.n * other.n / n
        return Moments(n, mean, m2)

    @property
    def stddev(self) -> float | None:
        """Sample standard deviation (ddof = 1); None below two values."""
        return None if self.n < 2 else float(np.sqrt(max(self.m2, 0.0) / (self.n - 1)))


@dataclass(frozen=True)
class NumericStats:
    """A numeric column: nulls, non-finite values, zeros, moments, range, histogram, distinct sketch."""

    nulls: int = 0
    nan: int = 0
    inf: int = 0
    zeros: int = 0
    moments: Moments = field(default_factory=Moments)
    min: float = float("inf")
    max: float = float("-inf")
    hist: Histogram = field(default_factory=Histogram.empty)
    registers: hll.Registers = field(default_factory=hll.empty)

    def merge(self, other: NumericStats) -> NumericStats:
        return NumericStats(
            nulls=self.nulls + other.nulls, nan=self.nan + other.nan, inf=self.inf + other.inf,
            zeros=self.zeros + other.zeros, moments=self.moments.merge(other.moments),
            min=min(self.min, other.min), max=max(self.max, other.max), hist=self.hist.merge(other.hist),
            registers=hll.merge(self.registers, other.registers))

    @property
    def finite(self) -> int:
        return self.moments.n


@dataclass(frozen=True)
class CategoricalStats:
    """A categorical (string or boolean) column: value counts and string lengths of non-null values."""

    nulls: int = 0
    counts: Mapping[str, int] = field(default_factory=dict)
    other: int = 0  # values beyond MAX_CATEGORIES, folded together
    truncated: bool = False
    min_length: int | None = None
    max_length: int | None = None
    total_length: int = 0

    def merge(self, other: CategoricalStats) -> CategoricalStats:
        counts = dict(self.counts)
        for key, n in other.counts.items():
            counts[key] = counts.get(key, 0) + n
        merged = CategoricalStats(
            nulls=self.nulls + other.nulls, counts=counts, other=self.other + other.other,
            truncated=self.truncated or other.truncated,
            min_length=_opt(False, self.min_length, other.min_length),
            max_length=_opt(True, self.max_length, other.max_length),
            total_length=self.total_length + other.total_length)
        return merged.capped()

    def capped(self, limit: int = MAX_CATEGORIES) -> CategoricalStats:
        if len(self.counts) <= limit:
            return self
        ranked = sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0]))
        kept, dropped = ranked[:limit], ranked[limit:]
        return replace(self, counts=dict(kept), other=self.other + sum(n for _, n in dropped), truncated=True)

    @property
    def non_null(self) -> int:
        return sum(self.counts.values()) + self.other


def _opt(largest: bool, a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b) if largest else min(a, b)


@dataclass(frozen=True)
class RegressionStats:
    """Sums over rows where both prediction and label are finite numbers."""

    n: int = 0
    sum_sq_error: float = 0.0
    sum_abs_error: float = 0.0
    sum_abs_pct_error: float = 0.0
    n_pct: int = 0  # rows with a non-zero label, the ones MAPE averages over
    label: Moments = field(default_factory=Moments)

    def merge(self, other: RegressionStats) -> RegressionStats:
        return RegressionStats(self.n + other.n, self.sum_sq_error + other.sum_sq_error,
                               self.sum_abs_error + other.sum_abs_error,
                               self.sum_abs_pct_error + other.sum_abs_pct_error, self.n_pct + other.n_pct,
                               self.label.merge(other.label))


@dataclass(frozen=True)
class QualityStats:
    """Model quality inputs: (prediction, label) pair counts, scores per label, regression sums."""

    confusion: Mapping[tuple[str, str], int] = field(default_factory=dict)
    scores: Mapping[str, Histogram] = field(default_factory=dict)  # label -> histogram of the score
    regression: RegressionStats = field(default_factory=RegressionStats)

    def merge(self, other: QualityStats) -> QualityStats:
        confusion = dict(self.confusion)
        for key, n in other.confusion.items():
            confusion[key] = confusion.get(key, 0) + n
        scores = dict(self.scores)
        for label, hist in other.scores.items():
            scores[label] = scores[label].merge(hist) if label in scores else hist
        return QualityStats(confusion, scores, self.regression.merge(other.regression))


ColumnStats = NumericStats | CategoricalStats


@dataclass(frozen=True)
class GroupStats:
    """All sufficient statistics of one group of rows."""

    rows: int = 0
    columns: Mapping[str, ColumnStats] = field(default_factory=dict)
    quality: QualityStats | None = None

    def merge(self, other: GroupStats) -> GroupStats:
        columns = dict(self.columns)
        for name, stats in other.columns.items():
            mine = columns.get(name)
            columns[name] = stats if mine is None else _merge_column(mine, stats)
        quality = self.quality
        if other.quality is not None:
            quality = other.quality if quality is None else quality.merge(other.quality)
        return GroupStats(self.rows + other.rows, columns, quality)


def _merge_column(a: ColumnStats, b: ColumnStats) -> ColumnStats:
    if isinstance(a, NumericStats) and isinstance(b, NumericStats):
        return a.merge(b)
    if isinstance(a, CategoricalStats) and isinstance(b, CategoricalStats):
        return a.merge(b)
    raise TypeError(f"cannot merge {type(a).__name__} with {type(b).__name__}")


def merge_into(target: dict[GroupKey, GroupStats], key: GroupKey, stats: GroupStats) -> None:
    found = target.get(key)
    target[key] = stats if found is None else found.merge(stats)


# (window index, model id, slice key, slice value); model id: ALL_MODELS for all models, None for NULL.
GroupKey = tuple[int, str | None, str | None, str | None]
