"""The signals judged for a model and how their findings become a risk, a severity and an alert.

Each signal lives in the module of its kind (``drift_signals``, ``quality_signals``,
``health_signals``); tiers and severities in ``tiers``. The defaults and the reasons for them are in
the README ("Signals and risk").
"""

from __future__ import annotations

from pydantic import Field, model_validator

from config.base import Strict
from config.basics.severity import ALERT_SEVERITIES, AlertSeverity, severity_rank
from config.drift_signals import (
    DriftSignal,
    DriftStatistic,
    DriftTest,
    FeatureDriftSignal,
    FeatureWeights,
    feature_drift,
    label_drift,
)
from config.drift_signals import prediction_drift as _prediction_drift
from config.freshness_signals import FreshnessSignal
from config.health_signals import (
    Check,
    DataQualitySignal,
    FreshnessCheck,
    LatencyCheck,
    MonitorHealthSignal,
    OperationalSignal,
    SchemaCheck,
    VolumeSignal,
)
from config.quality_signals import (
    CustomMetric,
    FairnessSignal,
    ModelQualitySignal,
    QualityMetric,
    TrendSignal,
)
from config.tiers import DurationTiers, Floors, MofN, Tiers
from config.validity_signals import InvalidMetricsSignal

__all__ = [
    "Check", "CustomMetric", "DataQualitySignal", "DriftSignal",
    "DriftStatistic", "DriftTest", "DurationTiers", "FairnessSignal", "FeatureWeights", "Floors", "FreshnessCheck",
    "FreshnessSignal",
    "LatencyCheck", "ModelQualitySignal", "MofN", "MonitorHealthSignal", "OperationalSignal", "QualityMetric",
    "RiskSettings", "SchemaCheck", "Signals", "Tiers", "TrendSignal", "VolumeSignal",
]


class Signals(Strict):
    """The signals judged for a model. Each has tiers and a weight; defaults are documented in the README."""

    feature_drift: FeatureDriftSignal = Field(default_factory=feature_drift)
    prediction_drift: DriftSignal = Field(default_factory=_prediction_drift)
    label_drift: DriftSignal = Field(default_factory=label_drift)
    feature_weights: FeatureWeights = Field(default_factory=FeatureWeights)
    model_quality: ModelQualitySignal = Field(default_factory=ModelQualitySignal)
    trend: TrendSignal = Field(default_factory=TrendSignal)
    fairness: FairnessSignal = Field(default_factory=FairnessSignal)
    custom_metrics: tuple[CustomMetric, ...] = ()
    data_quality: DataQualitySignal = Field(default_factory=DataQualitySignal)
    volume: VolumeSignal = Field(default_factory=VolumeSignal)
    operational: OperationalSignal = Field(default_factory=OperationalSignal)
    monitor_health: MonitorHealthSignal = Field(default_factory=MonitorHealthSignal)
    invalid_metrics: InvalidMetricsSignal = Field(default_factory=InvalidMetricsSignal)
    freshness: FreshnessSignal = Field(default_factory=FreshnessSignal)


class RiskSettings(Strict):
    """How findings combine into a 0-100 risk score, which score makes which severity, and when it alerts.

    A stream of windows starts alerting when at least ``enter.m`` of its last ``enter.n`` windows are
    at ``alert_from`` or above, and stops when at least ``exit.m`` of its last ``exit.n`` windows are
    below ``resolve_below`` (default: the tier under ``alert_from``, so a window that is still a little
    off neither resolves nor raises). One noisy window neither pages nor resolves.
    """

    tiers: Tiers = Field(default_factory=lambda: Tiers(low=25, medium=50, high=75, critical=95))
    alert_from: AlertSeverity = "medium"
    resolve_below: AlertSeverity | None = None
    enter: MofN = Field(default_factory=lambda: MofN(m=2, n=3))
    exit: MofN = Field(default_factory=lambda: MofN(m=2, n=2))

    @model_validator(mode="after")
    def _exit_not_above_enter(self) -> RiskSettings:
        if self.resolve_below is not None and severity_rank(self.resolve_below) > severity_rank(self.alert_from):
            raise ValueError(f"a resolve_below at or under alert_from ({self.alert_from}), not {self.resolve_below}: "
                             "an alert would resolve while it still fires")
        return self

    @property
    def exit_level(self) -> AlertSeverity:
        """Windows below this severity count towards resolving."""
        if self.resolve_below is not None:
            return self.resolve_below
        return ALERT_SEVERITIES[max(0, severity_rank(self.alert_from) - 2)]  # ALERT_SEVERITIES[i] ranks i + 1

    @property
    def history_windows(self) -> int:
        return max(self.enter.n, self.exit.n)
