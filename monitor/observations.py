"""What sources read: the metrics of one model for one time window, typed and flattened."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

PERCENT_SCALE = 100.0


@dataclass(frozen=True)
class ColumnDrift:
    """One ``_drift_metrics`` row for a column: statistic name -> value (None when not computed)."""

    column: str
    drift_type: str
    statistics: dict[str, float | None]


@dataclass(frozen=True)
class ColumnProfile:
    """One ``_profile_metrics`` row for a column."""

    column: str
    count: int | None
    num_nulls: int | None
    percent_null: float | None

    @property
    def null_share(self) -> float | None:
        """NULLs as a share of rows in [0, 1], from the counts when the table has them.

        ``percent_null``'s scale is not pinned down by the contract (unconfirmed: 0-100 here), so it
        is only the fallback, and the one place that scale is assumed.
        """
        if self.num_nulls is not None and self.count:
            return self.num_nulls / self.count
        return None if self.percent_null is None else self.percent_null / PERCENT_SCALE


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
    notes: tuple[str, ...] = field(default=())

    @property
    def key(self) -> tuple[str, datetime, datetime]:
        return (self.granularity, self.window_start, self.window_end)
