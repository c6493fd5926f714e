"""Sources turn engine results into typed observations (``monitor.observations``)."""

from monitor.sources.lakehouse import LakehouseMetricsSource, SourceError

__all__ = ["LakehouseMetricsSource", "SourceError"]
