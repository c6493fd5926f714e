"""Drift signals (feature, prediction, label) and the feature weights that scale feature drift."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from config.base import Strict
from config.durations import Duration
from config.tiers import Tiers

# Effect sizes from the drift metrics table (docs/external/lakehouse-monitoring.md, "Drift metrics table").
# p-values are not statistics to put tiers on: they gate findings through ``test`` instead
# (docs/external/statistics.md, "Controls against alert fatigue").
DriftStatistic = Literal[
    "js_distance",
    "population_stability_index",
    "ks_statistic",
    "wasserstein_distance",
    "chi_squared_statistic",
    "tv_distance",
    "l_infinity_distance",
]
# "auto": the KS test for numeric columns and chi-square for categorical ones, whichever p-value the
# row has; "none": judge on the effect size alone.
DriftTest = Literal["none", "auto", "ks_test", "chi_squared_test"]


class DriftSignal(Strict):
    """Drift of some columns against the baseline (or the previous window), read from the drift metrics table.

    The severity comes from ``statistic`` (an effect size) and its ``thresholds``. With a ``test``, a
    finding also needs the test's p-value, corrected with Benjamini-Hochberg across the columns of the
    window, to be at most ``alpha``: large windows make tiny shifts significant, small windows make
    noise look large, and each gate covers the other's blind spot.
    """

    enabled: bool = True
    statistic: DriftStatistic = "js_distance"
    columns: tuple[str, ...] = ()
    exclude_columns: tuple[str, ...] = ()
    thresholds: Tiers
    weight: float = Field(default=1.0, ge=0.0, le=1.0)
    min_count: int = Field(default=100, ge=0)
    test: DriftTest = "auto"
    alpha: float = Field(default=0.05, gt=0.0, lt=1.0)


class FeatureDriftSignal(DriftSignal):
    """Drift of the feature columns, which leaves out columns that look like row ids.

    An id (request id, row number, UUID) has a new value on every row, so it drifts by construction.
    With ``exclude_ids`` a column is left out of feature drift, with a note, when it is integral or a
    string and, over at least ``id_min_rows`` non-null rows, its distinct count is at least 90 % of
    them (distinct counts of numeric columns are HyperLogLog estimates) or its most frequent value
    occurs once. The baseline's profile row decides where it has enough rows (stable from window to
    window), else the window's own. A column listed in ``columns`` is always judged.

    The thresholds and weight default to the feature defaults, so ``feature_drift: {columns: [...]}``
    alone keeps them.
    """

    # Jensen-Shannon distance (base 2, in [0, 1]). Databricks' own examples flag 0.2; a single
    # feature moving that far is worth a look, not a page, so paging starts at high (0.3).
    thresholds: Tiers = Field(default_factory=lambda: Tiers(low=0.1, medium=0.2, high=0.3, critical=0.5))
    weight: float = Field(default=0.8, ge=0.0, le=1.0)
    exclude_ids: bool = True
    id_min_rows: int = Field(default=50, ge=2)


def feature_drift() -> FeatureDriftSignal:
    return FeatureDriftSignal()


def prediction_drift() -> DriftSignal:
    # The model's output moving is closer to harm than any one input moving.
    return DriftSignal(thresholds=Tiers(low=0.1, medium=0.15, high=0.2, critical=0.4), weight=1.0)


def label_drift() -> DriftSignal:
    # The outcome's distribution moving (e.g. the churn rate doubling) questions the model's
    # calibration; Databricks' code uses JS > 0.2 for labels too.
    return DriftSignal(thresholds=Tiers(low=0.1, medium=0.2, high=0.3, critical=0.5), weight=0.7)


class FeatureWeights(Strict):
    """How much each feature's drift counts: ``weights`` from config, else the model's feature importances.

    Importances are read from the MLflow model version behind ``registered_model@alias`` (default:
    the lifecycle's registered model and its champion alias): run metrics named
    ``feature_importance.<feature>`` or a ``feature_importances.json`` artifact ``{feature: value}``.
    Each weight is the feature's importance over the largest one, never below ``min_weight``, and
    multiplies the feature drift signal's weight. Features not listed keep weight 1.
    """

    weights: dict[str, float] = Field(default_factory=dict)
    from_mlflow: bool = True
    registered_model: str | None = None
    alias: str = "champion"
    min_weight: float = Field(default=0.2, ge=0.0, le=1.0)
    refresh: Duration = Field(default="1h", validate_default=True)

    @field_validator("weights")
    @classmethod
    def _unit(cls, value: dict[str, float]) -> dict[str, float]:
        bad = {k: v for k, v in value.items() if not 0.0 <= v <= 1.0}
        if bad:
            raise ValueError(f"weights between 0 and 1, not {bad}")
        return value
