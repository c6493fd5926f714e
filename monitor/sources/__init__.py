"""Sources turn engine results into typed observations (``monitor.observations``)."""

from config.basics.clock import Clock
from monitor.engines.base import Engine
from monitor.sources.base import Source, SourceError, Stream
from monitor.sources.inference import InferenceTableSource
from monitor.sources.lakehouse import LakehouseMetricsSource, TableResolver
from monitor.sources.monitor_status import MonitorStatusSource, StatusReader

__all__ = ["InferenceTableSource", "LakehouseMetricsSource", "MonitorStatusSource", "Source", "SourceError",
           "StatusReader", "Stream", "TableResolver", "build_sources"]


def build_sources(engine: Engine, clock: Clock, resolve_tables: TableResolver | None = None,
                  monitor_status: StatusReader | None = None) -> list[Source]:
    """Every source, in the order a poll reads them. ``resolve_tables`` and ``monitor_status``: the
    monitor-discovery hooks (workspace kind databricks): the monitor's metric tables, and its status."""
    sources: list[Source] = [LakehouseMetricsSource(engine, clock, resolve_tables),
                             InferenceTableSource(engine, clock)]
    if monitor_status is not None:
        sources.append(MonitorStatusSource(monitor_status, clock))
    return sources
