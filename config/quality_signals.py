"""Model quality (against the baseline and absolute limits), its trend, fairness, and custom metrics."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from config.base import Strict
from config.tiers import Floors, SignedFloors, SignedTiers, Tiers

# Direction of the model-quality columns of the profile metrics table
# (docs/external/lakehouse-monitoring.md, "Profile metrics table").
# Struct columns are addressed as ``name.field`` (``f1_score.macro``).
GREATER_IS_BETTER: dict[str, bool] = {
    "accuracy_score": True,
    "precision.macro": True, "precision.weighted": True,
    "recall.macro": True, "recall.weighted": True,
    "f1_score.macro": True, "f1_score.weighted": True,
    "roc_auc": True,
    "roc_auc_score": True,
    "r2_score": True,
    "mean_squared_error": False,
    "root_mean_squared_error": False,
    "mean_absolute_error": False,
    "mean_average_error": False,
    "mean_absolute_percentage_error": False,
    "log_loss": False,
}


class QualityMetric(Strict):
    """One quality metric of the ``:table`` rows, judged two ways.

    ``drop``: how much worse than the baseline's value the window may get (in the metric's units, or a
    share of the baseline value with ``relative``). ``floor`` (greater-is-better metrics) or
    ``ceiling`` (lower-is-better ones): absolute limits, whatever the baseline says.
    """

    metric: str
    greater_is_better: bool | None = None
    drop: Tiers | None = None
    relative: bool = False
    floor: SignedFloors | None = None
    ceiling: SignedTiers | None = None

    @model_validator(mode="after")
    def _direction(self) -> QualityMetric:
        if self.direction_known is None:
            raise ValueError(f"a greater_is_better (true or false) for metric {self.metric!r}, which is not one of "
                             "the known metrics " + ", ".join(GREATER_IS_BETTER))
        if self.direction_known and self.ceiling is not None:
            raise ValueError(f"a floor (decreasing tiers) for {self.metric}, which is better when greater; "
                             "not a ceiling")
        if not self.direction_known and self.floor is not None:
            raise ValueError(f"a ceiling (increasing tiers) for {self.metric}, which is better when smaller; "
                             "not a floor")
        return self

    @property
    def direction_known(self) -> bool | None:
        if self.greater_is_better is not None:
            return self.greater_is_better
        return GREATER_IS_BETTER.get(self.metric)

    @property
    def higher_is_better(self) -> bool:
        return bool(self.direction_known)


def _classification() -> tuple[QualityMetric, ...]:
    # Macro F1, not accuracy: churn and fraud are imbalanced, and accuracy stays high while the
    # minority class is missed. Five points of F1 lost is worth a look, ten a page.
    return (QualityMetric(metric="f1_score.macro", drop=Tiers(low=0.02, medium=0.05, high=0.1, critical=0.2)),)


def _regression() -> tuple[QualityMetric, ...]:
    return (QualityMetric(metric="r2_score", drop=Tiers(low=0.05, medium=0.1, high=0.2, critical=0.4)),)


class ModelQualitySignal(Strict):
    """Quality metrics of labelled windows. Without ``metrics``, the defaults for the problem type the
    table shows: ``classification`` when it has ``accuracy_score``, ``regression`` when it has ``r2_score``.
    """

    enabled: bool = True
    metrics: tuple[QualityMetric, ...] = ()
    classification: tuple[QualityMetric, ...] = Field(default_factory=_classification)
    regression: tuple[QualityMetric, ...] = Field(default_factory=_regression)
    weight: float = Field(default=1.0, ge=0.0, le=1.0)
    min_count: int = Field(default=200, ge=0)


class TrendSignal(Strict):
    """The slope of each quality metric over the last ``windows`` windows and when it will cross its limit.

    The limit is the metric's first ``floor``/``ceiling`` tier, else the baseline minus its ``drop``
    at ``medium``. ``horizon`` tiers are in windows left before the crossing (fewer is worse); a fit
    below ``min_r2`` is noise, not a trend.
    """

    enabled: bool = True
    windows: int = Field(default=6, ge=3, le=100)
    min_r2: float = Field(default=0.5, ge=0.0, le=1.0)
    horizon: Floors = Field(default_factory=lambda: Floors(low=24, medium=12, high=6, critical=2))
    weight: float = Field(default=0.6, ge=0.0, le=1.0)


class FairnessSignal(Strict):
    """Gaps in quality between the ``'true'`` and ``'false'`` values of boolean slices.

    ``slices`` are slicing expressions of the monitor (e.g. ``age > 60``); ``metrics`` are quality
    metrics, ``positive_rate`` (the prediction column's mean: statistical parity for 0/1 predictions),
    or the monitor's own fairness columns (``predictive_parity``, ``predictive_equality``,
    ``equal_opportunity``, ``statistical_parity``; read as gaps, unconfirmed).
    """

    enabled: bool = True
    slices: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ("accuracy_score", "positive_rate")
    thresholds: Tiers = Field(default_factory=lambda: Tiers(low=0.05, medium=0.1, high=0.2, critical=0.3))
    weight: float = Field(default=0.6, ge=0.0, le=1.0)
    min_count: int = Field(default=100, ge=0)


class CustomMetric(Strict):
    """A custom metric column of the monitor (e.g. ``expected_loss``, ``revenue_at_risk``).

    ``column`` is the ``column_name`` of the rows holding it (``:table`` for table-level metrics),
    ``table`` the metric table. ``thresholds`` when higher is worse, ``floors`` when lower is worse;
    with ``against_baseline`` the change from the baseline's value is judged instead of the value.
    """

    name: str
    description: str | None = None
    column: str = ":table"
    table: Literal["profile", "drift"] = "profile"
    thresholds: SignedTiers | None = None
    floors: SignedFloors | None = None
    against_baseline: bool = False
    weight: float = Field(default=0.7, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _one_direction(self) -> CustomMetric:
        if (self.thresholds is None) == (self.floors is None):
            raise ValueError(f"give either thresholds (higher is worse) or floors (lower is worse) for {self.name!r}")
        return self

    @property
    def label(self) -> str:
        return self.description or self.name.replace("_", " ")
