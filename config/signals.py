"""Signals and their threshold tiers: what a metric value must reach to become a finding of a severity."""

from __future__ import annotations

from itertools import pairwise
from typing import Literal

from pydantic import Field, model_validator

from config.base import Strict

Severity = Literal["ok", "low", "medium", "high", "critical"]
SEVERITIES: tuple[Severity, ...] = ("ok", "low", "medium", "high", "critical")
AlertSeverity = Literal["low", "medium", "high", "critical"]

DriftStatistic = Literal[
    "js_distance",
    "population_stability_index",
    "ks_statistic",
    "wasserstein_distance",
    "chi_squared_statistic",
    "tv_distance",
    "l_infinity_distance",
]


class Tiers(Strict):
    """Threshold tiers, ascending: a value at or above ``high`` (and below ``critical``) is a high finding.

    Leave a tier out to skip it (e.g. no ``critical`` for a noisy metric).
    """

    low: float | None = None
    medium: float | None = None
    high: float | None = None
    critical: float | None = None

    @model_validator(mode="after")
    def _ascending(self) -> Tiers:
        given = [(name, v) for name, v in self.items() if v is not None]
        if not given:
            raise ValueError("give at least one tier (low, medium, high, critical)")
        for (a, va), (b, vb) in pairwise(given):
            if vb <= va:
                raise ValueError(f"tiers must increase: {b} ({vb}) is not above {a} ({va})")
        return self

    def items(self) -> list[tuple[AlertSeverity, float | None]]:
        return [("low", self.low), ("medium", self.medium), ("high", self.high), ("critical", self.critical)]

    def tier_of(self, value: float) -> AlertSeverity | None:
        """The highest tier whose threshold ``value`` reaches, or None below every tier."""
        found: AlertSeverity | None = None
        for name, threshold in self.items():
            if threshold is not None and value >= threshold:
                found = name
        return found


class DriftSignal(Strict):
    """Drift of some columns against the baseline (or the previous window), read from the drift metrics table."""

    enabled: bool = True
    statistic: DriftStatistic = "js_distance"
    columns: tuple[str, ...] = ()
    exclude_columns: tuple[str, ...] = ()
    thresholds: Tiers
    weight: float = Field(default=1.0, ge=0.0, le=1.0)
    min_count: int = Field(default=100, ge=0)


class DataQualitySignal(Strict):
    """Share of NULL values per column, read from the profile metrics table."""

    enabled: bool = True
    columns: tuple[str, ...] = ()
    exclude_columns: tuple[str, ...] = ()
    thresholds: Tiers = Field(default_factory=lambda: Tiers(low=0.05, medium=0.1, high=0.25, critical=0.5))
    weight: float = Field(default=0.5, ge=0.0, le=1.0)
    min_count: int = Field(default=100, ge=0)


def _feature_drift() -> DriftSignal:
    # Jensen-Shannon distance (base 2, in [0, 1]). Databricks' own examples flag 0.2; a single
    # feature moving that far is worth a look, not a page, so paging starts at high (0.3).
    return DriftSignal(thresholds=Tiers(low=0.1, medium=0.2, high=0.3, critical=0.5), weight=0.8)


def _prediction_drift() -> DriftSignal:
    # The model's output moving is closer to harm than any one input moving.
    return DriftSignal(thresholds=Tiers(low=0.1, medium=0.15, high=0.2, critical=0.4), weight=1.0)


class Signals(Strict):
    """The signals judged for a model. Each has tiers; defaults are documented in the README."""

    feature_drift: DriftSignal = Field(default_factory=_feature_drift)
    prediction_drift: DriftSignal = Field(default_factory=_prediction_drift)
    data_quality: DataQualitySignal = Field(default_factory=DataQualitySignal)


class RiskSettings(Strict):
    """How findings combine into a 0-100 risk score and which score makes which severity.

    Alerts fire for a model whose severity is at least ``alert_from``; routes decide where they go.
    """

    tiers: Tiers = Field(default_factory=lambda: Tiers(low=25, medium=50, high=75, critical=95))
    alert_from: AlertSeverity = "medium"
