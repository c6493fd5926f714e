"""What sources read: the metrics of one model for one time window, typed and flattened.

A window holds rows for several scopes (the whole table or a slice, one model id or the ``'*'``
aggregate) and, for the Lakehouse source, both the window's (``INPUT``) and the baseline's profile
rows. Values are what the tables said: NULL, NaN and infinity are kept so the judge can say why a
value was not judged.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

PERCENT_SCALE = 100.0
TABLE_COLUMN = ":table"
ALL_MODELS = "*"
LogType = Literal["INPUT", "BASELINE"]


@dataclass(frozen=True)
class Scope:
    """Which rows of a metric table: the whole table or one slice, one model id, ``'*'`` or none."""

    slice_key: str | None = None
    slice_value: str | None = None
    model_id: str | None = None

    @property
    def whole_table(self) -> bool:
        return self.slice_key is None

    def describe(self) -> str:
        """Empty for the whole table over all models; else e.g. ``slice contract='one-year', model v2``."""
        parts = []
        if self.slice_key is not None:
            parts.append(f"slice {self.slice_key}={self.slice_value!r}")
        if self.model_id not in (None, ALL_MODELS):
            parts.append(f"model {self.model_id}")
        return ", ".join(parts)

    def key(self) -> str:
        return f"{self.slice_key or ''}={self.slice_value or ''}@{self.model_id or ''}"


WHOLE = Scope()


@dataclass(frozen=True)
class ColumnDrift:
    """One ``_drift_metrics`` row: statistic name -> value (None when not computed).

    ``statistics`` holds the flattened contract statistics (``ks_pvalue`` ...), the deltas, and the
    monitor's custom drift metrics.
    """

    column: str
    drift_type: str
    statistics: dict[str, float | None]
    scope: Scope = WHOLE
    data_type: str | None = None
    columns_added: int | None = None
    columns_missing: int | None = None


@dataclass(frozen=True)
class ColumnProfile:
    """One ``_profile_metrics`` row for a column (``:table`` rows carry model quality and custom metrics)."""

    column: str
    count: int | None
    num_nulls: int | None
    percent_null: float | None
    scope: Scope = WHOLE
    log_type: LogType = "INPUT"
    data_type: str | None = None
    num_nan: int | None = None
    num_zeros: int | None = None
    distinct_count: int | None = None
    frequent_items: tuple[tuple[str, int], ...] = ()
    non_null_columns: tuple[str, ...] | None = None
    metrics: dict[str, float | None] = field(default_factory=dict)

    @property
    def null_share(self) -> float | None:
        """NULLs as a share of rows in [0, 1], from the counts when the table has them.

        ``percent_null``'s scale is not pinned down by the contract (unconfirmed: 0-100 here), so it
        is only the fallback, and the one place that scale is assumed.
        """
        if self.num_nulls is not None and self.count:
            return self.num_nulls / self.count
        return None if self.percent_null is None else self.percent_null / PERCENT_SCALE

    def _share(self, part: int | None) -> float | None:
        if part is None or not self.count:
            return None
        return part / self.count

    @property
    def nan_share(self) -> float | None:
        return self._share(self.num_nan)

    @property
    def zero_share(self) -> float | None:
        return self._share(self.num_zeros)


@dataclass(frozen=True)
class Operations:
    """Serving health of one window, from the inference (payload) table."""

    requests: int
    status_counts: dict[int, int]
    latency_ms: dict[str, float | None]
    logging_errors: int | None
    newest_row: datetime | None
    freshness_seconds: float | None
    estimated_requests: float | None = None

    def share(self, low: int, high: int) -> float | None:
        """Share of requests with a status code in [low, high)."""
        if not self.requests:
            return None
        return sum(n for code, n in self.status_counts.items() if low <= code < high) / self.requests


@dataclass(frozen=True)
class MonitorStatus:
    """The Lakehouse monitor behind a model's metric tables, as the workspace's monitor API saw it.

    ``state``: active, pending, error, failed, delete_pending, missing; ``refresh_*``: the newest
    refresh that ended (state success, failed or canceled), if any; ``message``: the monitor's
    failure message, or why it is missing.
    """

    table: str
    state: str
    api: str
    message: str = ""
    refresh_id: str | None = None
    refresh_state: str | None = None
    refresh_ended: datetime | None = None
    refresh_message: str = ""

    @property
    def version(self) -> str:
        """What changes when the judgement could: the state, the newest ended refresh and the messages."""
        return "|".join((self.state, self.refresh_id or "-", self.refresh_state or "-",
                         f"{hash_text(self.message)}:{hash_text(self.refresh_message)}"))


@dataclass(frozen=True)
class Newest:
    """The newest window a stream's table holds: ``window_start``/``window_end`` None when it holds none.

    ``stream``: the stream it is the newest window of (``lakehouse:1 hour``); ``table``: the table
    named in findings (for a Lakehouse stream, the metric table that lags).
    """

    stream: str
    table: str
    granularity: str
    window_start: datetime | None = None
    window_end: datetime | None = None

    @property
    def empty(self) -> bool:
        return self.window_end is None


@dataclass(frozen=True)
class Freshness:
    """The newest window of each of a model's streams, as seen at ``observed_at`` (the app clock's time)."""

    observed_at: datetime
    newest: tuple[Newest, ...]


def hash_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12] if text else "-"


@dataclass(frozen=True)
class InvalidValue:
    """A value a source read and left out of judging because it cannot be right (``monitor.sources.validity``).

    ``column`` is the metric row's column (``:table`` for the table itself), ``statistic`` the flat
    name (``ks_pvalue``), the missing column, or ``window`` for rows with a NULL window; ``value`` is
    what the table held (None when missing or NULL); ``rule`` what a valid value is ("a p-value in
    [0, 1]"). ``window_start`` is None for values outside any window (the baseline's rows, a missing
    column, NULL windows); ``baseline`` marks the baseline's rows; ``rows`` counts the rows the record
    stands for (NULL windows).
    """

    table: str
    column: str
    statistic: str
    value: float | None
    rule: str
    scope: Scope = WHOLE
    window_start: datetime | None = None
    baseline: bool = False
    rows: int = 1


@dataclass(frozen=True)
class WindowMetrics:
    """Everything a source knows about one model in one window."""

    model: str
    source: str
    granularity: str
    window_start: datetime
    window_end: datetime
    monitor_version: int | None
    row_count: int | None
    drift: tuple[ColumnDrift, ...] = ()
    profile: tuple[ColumnProfile, ...] = ()
    notes: tuple[str, ...] = ()
    baseline: tuple[ColumnProfile, ...] = ()
    operations: Operations | None = None
    version: str | None = None
    monitor: MonitorStatus | None = None
    invalid: tuple[InvalidValue, ...] = ()  # values left out as impossible: judged by ``invalid_metrics``
    freshness: Freshness | None = None

    @property
    def key(self) -> tuple[str, datetime, datetime]:
        return (self.granularity, self.window_start, self.window_end)

    @property
    def stream(self) -> str:
        """One series of windows judged in order: the source kind and the granularity."""
        return stream_name(self.source, self.granularity)

    def profile_row(self, column: str, scope: Scope) -> ColumnProfile | None:
        for row in self.profile:
            if row.column == column and row.scope == scope:
                return row
        return None

    def baseline_row(self, column: str, scope: Scope) -> ColumnProfile | None:
        """The baseline's row for ``column``: same slice and model id, else the same slice over all models."""
        fallback = None
        for row in self.baseline:
            if row.column != column or row.scope.slice_key != scope.slice_key:
                continue
            if row.scope.slice_value != scope.slice_value:
                continue
            if row.scope.model_id == scope.model_id:
                return row
            if row.scope.model_id in (None, ALL_MODELS):
                fallback = row
        return fallback

    def count_for(self, scope: Scope, column: str | None = None) -> int | None:
        """Rows of the window in ``scope``: the column's own count, the ``:table`` count, or the window's."""
        for name in (column, TABLE_COLUMN):
            row = self.profile_row(name, scope) if name else None
            if row is not None and row.count is not None:
                return row.count
        counts = [r.count for r in self.profile if r.scope == scope and r.count is not None]
        if counts:
            return max(counts)
        return self.row_count if scope.whole_table else None


def stream_name(source: str, granularity: str) -> str:
    return f"{source}:{granularity}"
