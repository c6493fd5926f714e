"""The Lakehouse monitor itself as a source: its status becomes one window per ``signals.monitor_health.window``.

A missing or failed monitor, or one whose newest refresh failed, must reach the model's alerts like
any other finding, yet it writes no metric windows to judge. So its status is a stream of its own
(``lakehouse_monitor:1h``): the window is the current period of ``window`` length, its version the
status (state, newest ended refresh, messages). A poll that sees the same status again changes
nothing; a status that changes within the period re-judges that window; the next period is a new
window, so M-of-N persistence counts periods. ``monitor.risk.monitor_rules`` judges it.

Only for models whose metric tables come from the monitor (the ``StatusReader`` answers None
otherwise). A monitor API that fails is a source failure (readiness), not a finding.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from config.basics.clock import Clock
from config.durations import format_duration
from config.models import ModelSettings
from monitor.observations import MonitorStatus, Newest, WindowMetrics
from monitor.sources.base import SourceError, Stream

StatusReader = Callable[[ModelSettings], MonitorStatus | None]  # raises on API errors
KIND = "lakehouse_monitor"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class MonitorStatusSource:
    kind = KIND

    def __init__(self, status: StatusReader, clock: Clock) -> None:
        self._status = status
        self._clock = clock

    def streams(self, model: ModelSettings) -> list[Stream]:
        signal = model.signals.monitor_health
        if model.sources.lakehouse is None or not signal.enabled:
            return []
        cfg = model.sources.lakehouse
        if cfg.profile_metrics_table and cfg.drift_metrics_table:
            return []  # the config names the metric tables: the monitor is not consulted
        return [Stream(self.kind, format_duration(signal.window))]

    def prepare(self, model: ModelSettings) -> None:
        """Nothing to prepare: the status is read in ``read``."""

    def horizon(self, model: ModelSettings) -> datetime:
        return self._clock() - 2 * model.signals.monitor_health.window

    def newest(self, model: ModelSettings, stream: Stream) -> Newest | None:
        """None: the status window is the current period, whatever the data (``signals.freshness`` reads the tables)."""
        return None

    def read(self, model: ModelSettings, stream: Stream,
             known: Mapping[tuple[datetime, datetime], str | None] | None = None) -> list[WindowMetrics]:
        """The current period's window when the monitor's status differs from the one judged for it."""
        try:
            status = self._status(model)
        except Exception as exc:  # the discovery's DiscoveryError, or anything the SDK raised
            raise SourceError(f"model {model.name}: the status of its Lakehouse monitor could not be read: "
                              f"{exc}") from exc
        if status is None:
            return []
        start, end = period(self._clock(), model.signals.monitor_health.window)
        if (known or {}).get((start, end)) == status.version:
            return []
        return [WindowMetrics(model=model.name, source=self.kind, granularity=stream.granularity, window_start=start,
                              window_end=end, monitor_version=None, row_count=None, version=status.version,
                              monitor=status)]


def period(now: datetime, length: timedelta) -> tuple[datetime, datetime]:
    """The period of ``length`` (counted from the Unix epoch, UTC) that holds ``now``."""
    start = _EPOCH + ((now - _EPOCH) // length) * length
    return start, start + length
