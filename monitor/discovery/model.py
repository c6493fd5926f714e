"""One internal model of a Lakehouse monitor and its refreshes, whichever monitor API answered.

The legacy API says ``MONITOR_STATUS_ACTIVE`` and refresh ``SUCCESS``; the data-quality API says
``DATA_PROFILING_STATUS_ACTIVE`` and ``MONITOR_REFRESH_STATE_SUCCESS``: both map onto these enums.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime

from monitor.observations import MonitorStatus


class MonitorState(enum.Enum):
    ACTIVE = "active"
    PENDING = "pending"
    ERROR = "error"
    FAILED = "failed"
    DELETE_PENDING = "delete_pending"
    MISSING = "missing"          # no monitor on the table (or no such table)
    UNKNOWN = "unknown"


class MonitorRefreshState(enum.Enum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    CANCELED = "canceled"
    UNKNOWN = "unknown"

    @property
    def final(self) -> bool:
        return self in (MonitorRefreshState.SUCCESS, MonitorRefreshState.FAILED, MonitorRefreshState.CANCELED)


def monitor_state(raw: str | None) -> MonitorState:
    """``MONITOR_STATUS_ACTIVE`` / ``DATA_PROFILING_STATUS_ACTIVE`` / ``ACTIVE`` -> ACTIVE."""
    text = (raw or "").upper()
    for prefix in ("MONITOR_STATUS_", "DATA_PROFILING_STATUS_"):
        text = text.removeprefix(prefix)
    try:
        return MonitorState[text]
    except KeyError:
        return MonitorState.UNKNOWN


def refresh_state(raw: str | None) -> MonitorRefreshState:
    text = (raw or "").upper().removeprefix("MONITOR_REFRESH_STATE_")
    try:
        return MonitorRefreshState[text]
    except KeyError:
        return MonitorRefreshState.UNKNOWN


def from_ms(value: int | None) -> datetime | None:
    return None if not value else datetime.fromtimestamp(value / 1000, tz=UTC)


@dataclass(frozen=True)
class MonitorInfo:
    """What lakewarden needs to know about the monitor on ``table``."""

    table: str
    state: MonitorState
    api: str                                   # "legacy" or "data_quality"
    profile_metrics_table: str | None = None
    drift_metrics_table: str | None = None
    monitor_version: int | None = None
    baseline_table: str | None = None
    model_id_column: str | None = None
    granularities: tuple[str, ...] = ()
    message: str = ""                          # the monitor's latest failure message, or why it is missing
    last_refresh: RefreshInfo | None = None    # the newest refresh that ended (read for active monitors)

    @property
    def metric_tables(self) -> tuple[str, str] | None:
        """(profile table, drift table) when the monitor names both."""
        if self.profile_metrics_table and self.drift_metrics_table:
            return self.profile_metrics_table, self.drift_metrics_table
        return None


@dataclass(frozen=True)
class RefreshInfo:
    table: str
    refresh_id: str              # large integers (15 digits seen): kept as text
    state: MonitorRefreshState
    started: datetime | None = None
    ended: datetime | None = None
    message: str = ""
    trigger: str = ""            # MANUAL, SCHEDULE, DATA_CHANGE (either API's spelling, prefix dropped), or ""


def refresh_trigger(raw: str | None) -> str:
    """``MONITOR_REFRESH_TRIGGER_MANUAL`` / ``MANUAL`` -> ``MANUAL``."""
    return (raw or "").upper().removeprefix("MONITOR_REFRESH_TRIGGER_")


@dataclass(frozen=True)
class MonitorProblem:
    """A monitor that is missing, failed or not ready: a finding about the model, not an exception."""

    model: str
    table: str
    state: MonitorState
    message: str
    refresh: RefreshInfo | None = None          # set when the problem is the newest refresh, which failed

    def describe(self) -> str:
        if self.refresh is not None:
            return (f"model {self.model}: refresh {self.refresh.refresh_id} of the Lakehouse monitor on {self.table} "
                    f"{self.refresh.state.value}: {self.message}")
        return f"model {self.model}: the Lakehouse monitor on {self.table} is {self.state.value}: {self.message}"


def monitor_status(info: MonitorInfo) -> MonitorStatus:
    """The monitor as an observation for the judge (``monitor.observations``)."""
    refresh = info.last_refresh
    return MonitorStatus(table=info.table, state=info.state.value, api=info.api, message=info.message,
                         refresh_id=refresh.refresh_id if refresh else None,
                         refresh_state=refresh.state.value if refresh else None,
                         refresh_ended=refresh.ended if refresh else None,
                         refresh_message=refresh.message if refresh else "")
