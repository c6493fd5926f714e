"""Data quality, volume and operational health: the signals that are not about the model's statistics."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import Field, field_validator

from config.base import Strict
from config.basics.severity import AlertSeverity
from config.durations import Duration
from config.tiers import DurationTiers, Tiers


class Check(Strict):
    """One tiered check with its weight."""

    enabled: bool = True
    thresholds: Tiers
    weight: float = Field(default=0.5, ge=0.0, le=1.0)


def _check(weight: float, **tiers: float) -> Check:
    return Check(thresholds=Tiers(**tiers), weight=weight)


class SchemaCheck(Strict):
    """Columns that stopped arriving (``missing``) or appeared (``new``), and the severity of each."""

    missing: AlertSeverity | None = "high"
    new: AlertSeverity | None = "low"
    weight: float = Field(default=0.6, ge=0.0, le=1.0)


class DataQualitySignal(Strict):
    """NULL, NaN and zero shares per column, unseen categories and schema changes, from the profile table.

    Shares are judged as the increase over the baseline's share when the table has baseline rows
    (``against_baseline``): a column that was always 30% NULL is not a finding, one that jumps from
    2% to 30% is.
    """

    enabled: bool = True
    columns: tuple[str, ...] = ()
    exclude_columns: tuple[str, ...] = ()
    min_count: int = Field(default=100, ge=0)
    against_baseline: bool = True
    null_share: Check = Field(default_factory=lambda: _check(0.5, low=0.05, medium=0.1, high=0.25, critical=0.5))
    nan_share: Check = Field(default_factory=lambda: _check(0.5, low=0.05, medium=0.1, high=0.25, critical=0.5))
    zero_share: Check = Field(default_factory=lambda: _check(0.4, medium=0.25, high=0.5))
    unseen_categories: Check = Field(default_factory=lambda: _check(0.5, low=0.02, medium=0.05, high=0.15,
                                                                     critical=0.3))
    schema_changes: SchemaCheck = Field(default_factory=SchemaCheck)


class VolumeSignal(Strict):
    """Rows (or requests) per window against what is expected.

    Expected: ``expected_rows`` when given, else the median of the last ``history`` windows, or with
    ``season`` (e.g. ``1d``) the median of the windows whole seasons back, so nights compare with
    nights. ``drop`` tiers are the missing share (0.95 = 95% fewer rows), ``spike`` tiers the ratio.
    """

    enabled: bool = True
    expected_rows: int | None = Field(default=None, ge=1)
    history: int = Field(default=24, ge=3, le=1000)
    season: Duration | None = None
    drop: Tiers = Field(default_factory=lambda: Tiers(low=0.8, medium=0.95, critical=0.999))
    spike: Tiers | None = Field(default_factory=lambda: Tiers(low=5.0))
    min_expected: int = Field(default=20, ge=0)
    weight: float = Field(default=0.6, ge=0.0, le=1.0)


class LatencyCheck(Strict):
    """A latency quantile per window, against the median of recent windows (``ratio``) or in ms (``ms``)."""

    enabled: bool = True
    quantile: Literal["p50", "p90", "p99"] = "p99"
    ratio: Tiers | None = Field(default_factory=lambda: Tiers(low=1.5, medium=2.0, high=3.0, critical=5.0))
    ms: Tiers | None = None
    history: int = Field(default=24, ge=3, le=1000)
    weight: float = Field(default=0.7, ge=0.0, le=1.0)


class FreshnessCheck(Strict):
    """Time since the newest row of the payload table, in windows (``windows``) or as durations (``age``)."""

    enabled: bool = True
    windows: Tiers = Field(default_factory=lambda: Tiers(medium=2.0, high=6.0, critical=24.0))
    age: DurationTiers | None = None
    weight: float = Field(default=0.8, ge=0.0, le=1.0)


class MonitorHealthSignal(Strict):
    """The Lakehouse monitor behind the lakehouse source, on a Databricks workspace (``workspace.kind: databricks``).

    A monitor that is ``missing`` (none on the table, or being deleted), ``failed`` (status ERROR or
    FAILED) or whose newest finished refresh failed (``refresh_failed``) is a finding of that
    severity (None: not raised). Its status is judged once per ``window`` (re-judged within it when
    it changes), so the usual M-of-N persistence counts windows of this length. Only for models
    whose metric tables come from the monitor (not both named in ``sources.lakehouse``).

    ``stale_after`` (off by default: how often a monitor refreshes is its own schedule): an active
    monitor whose newest finished refresh succeeded longer ago than this is a ``stale`` finding.
    """

    enabled: bool = True
    missing: AlertSeverity | None = "medium"
    failed: AlertSeverity | None = "medium"
    refresh_failed: AlertSeverity | None = "medium"
    stale_after: Duration | None = None
    stale: AlertSeverity | None = "low"
    window: Duration = Field(default="1h", validate_default=True)
    weight: float = Field(default=1.0, ge=0.0, le=1.0)

    @field_validator("window")
    @classmethod
    def _window(cls, value: timedelta) -> timedelta:
        if value < timedelta(minutes=1):
            raise ValueError("a window of at least 1m")
        return value


class OperationalSignal(Strict):
    """Serving health from the inference (payload) table: errors by status code, latency, logging, freshness."""

    enabled: bool = True
    min_requests: int = Field(default=20, ge=0)
    server_errors: Check = Field(default_factory=lambda: _check(1.0, low=0.01, medium=0.02, high=0.05, critical=0.2))
    client_errors: Check = Field(default_factory=lambda: _check(0.5, low=0.05, medium=0.1, high=0.25, critical=0.5))
    logging_errors: Check = Field(default_factory=lambda: _check(0.4, low=0.01, medium=0.05, high=0.2))
    latency: LatencyCheck = Field(default_factory=LatencyCheck)
    freshness: FreshnessCheck = Field(default_factory=FreshnessCheck)
