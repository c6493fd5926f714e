"""Sources turn engine results into typed observations (``monitor.observations``)."""

from config.basics.clock import Clock
from monitor.engines.base import Engine
from monitor.sources.base import Source, SourceError, Stream
from monitor.sources.freshness import KIND as FRESHNESS
from monitor.sources.freshness import FreshnessSource
from monitor.sources.inference import InferenceTableSource
from monitor.sources.lakehouse import LakehouseMetricsSource, TableResolver
from monitor.sources.monitor_status import KIND as MONITOR_STATUS
from monitor.sources.monitor_status import MonitorStatusSource, StatusReader

__all__ = ["FRESHNESS", "MONITOR_STATUS", "STATUS_KINDS", "FreshnessSource", "InferenceTableSource",
           "LakehouseMetricsSource", "MonitorStatusSource", "Source", "SourceError", "StatusReader", "Stream",
           "TableResolver", "build_sources", "is_data_stream"]

# Streams of status periods, not of data windows: their window is the current period whatever the data.
STATUS_KINDS = (MONITOR_STATUS, FRESHNESS)


def is_data_stream(stream: str) -> bool:
    """A stream of data windows (``lakehouse:1 hour``, ``inference:1 day``), not of status periods
    (the monitor's status, freshness): only these say how recent the judged data is."""
    return not stream.startswith(tuple(f"{kind}:" for kind in STATUS_KINDS))


def build_sources(engine: Engine, clock: Clock, resolve_tables: TableResolver | None = None,
                  monitor_status: StatusReader | None = None, replay: bool = False,
                  *, batch_tables: int) -> list[Source]:
    """Every source, in the order a poll reads them. ``resolve_tables`` and ``monitor_status``: the
    monitor-discovery hooks (workspace kind databricks): the monitor's metric tables, and its status.
    Freshness comes last and reads the newest window of the data sources' streams. ``replay``
    (``check --as-of``): data after the clock's time is left out, as it did not exist yet. ``batch_tables``:
    metric tables per batched statement of the lakehouse source (``service.poll_batch_tables``)."""
    data: list[Source] = [LakehouseMetricsSource(engine, clock, resolve_tables, replay, batch_tables=batch_tables),
                          InferenceTableSource(engine, clock, replay)]
    sources = list(data)
    if monitor_status is not None:
        sources.append(MonitorStatusSource(monitor_status, clock))
    sources.append(FreshnessSource(data, clock))
    return sources
