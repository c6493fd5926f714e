"""What the lifecycle needs from the rest of the service, as protocols the composition root fills.

``retrain`` imports only ``config``: the monitor's assessments reach it as :class:`WindowVerdict`
values through an :class:`AssessmentReader`, and Lakehouse monitor refreshes through a
:class:`MonitorRefresher` (Databricks monitor API, or ``lakewarden profile`` on the embedded default).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class WindowVerdict:
    """One judged window of a model: its raw severity and risk, and the worst tier per signal."""

    window_start: datetime
    window_end: datetime
    severity: str
    risk: float
    signals: dict[str, str] = field(default_factory=dict)  # signal -> worst finding tier in the window

    def mostly_after(self, moment: datetime) -> bool:
        """At least half of the window lies after ``moment`` (its traffic is mostly from after a change)."""
        return self.window_start + (self.window_end - self.window_start) / 2 >= moment


class AssessmentReader(Protocol):
    def windows_since(self, model: str, since: datetime) -> list[WindowVerdict]:
        """The model's judged windows at least half of which lie after ``since``, oldest first."""
        ...


class RefreshState(enum.Enum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class MonitorRefresher(Protocol):
    def start_refresh(self, model: str, since: datetime | None = None) -> str:
        """Start a refresh of the model's monitor; the refresh id.

        With ``since`` (when the step first set out to refresh), a refresh already running, or one
        started since then, is followed instead: its id is the answer and no second one starts.
        """
        ...

    def refresh_state(self, model: str, refresh_id: str) -> tuple[RefreshState, str]:
        """Where the refresh is, with a message."""
        ...
