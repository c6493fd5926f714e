"""The ``invalid_metrics`` signal: metric values that cannot be right, a missing statistic column, NULL windows."""

from __future__ import annotations

from pydantic import Field

from config.base import Strict
from config.basics.severity import AlertSeverity


class InvalidMetricsSignal(Strict):
    """Values read from the metric tables that cannot be right, reported instead of judged.

    A negative count, a p-value outside [0, 1], a distance outside its range, NaN or infinity where a
    number is required (the ranges: ``monitor/sources/validity.py``), the drift table lacking the
    statistic a drift signal judges, or rows with a NULL window. Such values are never judged (not as
    drift, not as a small window); each window judged with any is one ``invalid_metrics`` finding per
    table, at ``tier`` (default ``medium``: with the default ``alert_from`` it alerts once persistent,
    since a model judged on broken metrics is not watched) with ``weight``. ``max_listed``: how many
    values the finding names before "and N more". ``enabled: false`` still leaves the values out, and
    says so only in ``explain``.
    """

    enabled: bool = True
    tier: AlertSeverity = "medium"
    weight: float = Field(default=1.0, ge=0.0, le=1.0)
    max_listed: int = Field(default=3, ge=1, le=50)
