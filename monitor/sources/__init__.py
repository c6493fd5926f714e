"""Sources turn engine results into typed observations (``monitor.observations``)."""

from collections.abc import Callable
from datetime import datetime

from monitor.engines.base import Engine
from monitor.sources.base import Source, SourceError, Stream
from monitor.sources.inference import InferenceSource
from monitor.sources.lakehouse import LakehouseMetricsSource, TableResolver

__all__ = ["InferenceSource", "LakehouseMetricsSource", "Source", "SourceError", "Stream", "TableResolver",
           "build_sources"]


def build_sources(engine: Engine, clock: Callable[[], datetime],
                  resolve_tables: TableResolver | None = None) -> list[Source]:
    """Every source, in the order a poll reads them. ``resolve_tables``: the monitor-discovery hook."""
    return [LakehouseMetricsSource(engine, clock, resolve_tables), InferenceSource(engine, clock)]
