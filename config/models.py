"""One monitored model: where its metrics come from, which signals are judged, what happens next."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Literal

from pydantic import Field, field_validator, model_validator

from config.base import Strict
from config.durations import Duration, at_least
from config.lifecycle import LifecycleSettings
from config.signals import RiskSettings, Signals
from config.sources import SCHEMA_PATTERN, Granularity, InferenceSource, check_column, check_table

__all__ = ["Granularity", "InferenceSource", "LakehouseSource", "ModelSettings", "Sources", "check_column",
           "check_table"]

_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")


class LakehouseSource(Strict):
    """A Lakehouse Monitoring monitor's output tables for the model's inference table.

    ``table`` is the monitored table; the metric tables default to ``<table>_profile_metrics`` and
    ``<table>_drift_metrics`` in ``output_schema`` (or the table's own schema).

    Judged: every granularity in ``granularity`` plus ``granularities``; the whole table plus the slice
    keys in ``slices`` (``'*'``: all); the model ids ``model_id`` plus ``model_ids`` (``'*'`` is the
    all-models aggregate), and every single model id with ``per_model_id``. ``drift_type``: ``auto``
    reads BASELINE drift where the window has it and CONSECUTIVE drift otherwise; ``both`` reads both.
    Windows that ended within ``lookback`` are read, and re-read when a refresh rewrites them.

    The model's outputs are ``prediction_column``, ``label_column`` and its scores:
    ``prediction_proba_column`` plus ``score_columns`` (e.g. one probability per class, or a raw
    margin next to the calibrated probability). Scores are profiled by ``lakewarden profile`` and their
    drift is judged as prediction drift. ``features``: the feature columns (``lakewarden profile``
    profiles only these, and the judge leaves other columns out of feature drift, with a note);
    empty: every column that is not an output, the timestamp or the model id.
    """

    table: str
    output_schema: str | None = None
    profile_metrics_table: str | None = None
    drift_metrics_table: str | None = None
    granularity: Granularity = "1 hour"
    granularities: tuple[Granularity, ...] = ()
    drift_type: Literal["BASELINE", "CONSECUTIVE", "both", "auto"] = "auto"
    model_id_column: str | None = None
    model_id: str = "*"
    model_ids: tuple[str, ...] = ()
    per_model_id: bool = False
    slices: tuple[str, ...] = ()
    prediction_column: str | None = "prediction"
    prediction_proba_column: str | None = None
    score_columns: tuple[str, ...] = ()
    features: tuple[str, ...] = ()
    label_column: str | None = None
    timestamp_column: str = "timestamp"
    baseline_table: str | None = None
    lookback: Duration = Field(default="2d", validate_default=True)

    _lookback = field_validator("lookback")(at_least(timedelta(minutes=1), "a shorter lookback reads no window"))

    @field_validator("table", "profile_metrics_table", "drift_metrics_table", "baseline_table")
    @classmethod
    def _tables(cls, value: str | None) -> str | None:
        return None if value is None else check_table(value)

    @field_validator("model_id_column", "prediction_column", "prediction_proba_column", "label_column",
                     "timestamp_column")
    @classmethod
    def _columns(cls, value: str | None) -> str | None:
        return None if value is None else check_column(value)

    @field_validator("score_columns", "features")
    @classmethod
    def _column_lists(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(check_column(name) for name in value))

    @model_validator(mode="after")
    def _features_are_inputs(self) -> LakehouseSource:
        roles = dict.fromkeys(self.outcome_columns, "an output column")
        roles.update({self.timestamp_column: "the timestamp column"})
        if self.model_id_column is not None:
            roles[self.model_id_column] = "the model id column"
        clashes = [f"{name!r} is {roles[name]}" for name in self.features if name in roles]
        if clashes:
            raise ValueError(f"features lists columns that are not features: {'; '.join(clashes)}")
        return self

    @field_validator("output_schema")
    @classmethod
    def _schema(cls, value: str | None) -> str | None:
        if value is not None and not SCHEMA_PATTERN.match(value):
            raise ValueError(f"a two-part schema name catalog.schema, not {value!r}")
        return value

    def _metric_table(self, suffix: str) -> str:
        catalog, schema, name = self.table.split(".")
        prefix = self.output_schema or f"{catalog}.{schema}"
        return f"{prefix}.{name}{suffix}"

    @property
    def profile_table(self) -> str:
        return self.profile_metrics_table or self._metric_table("_profile_metrics")

    @property
    def drift_table(self) -> str:
        return self.drift_metrics_table or self._metric_table("_drift_metrics")

    @property
    def all_granularities(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((self.granularity, *self.granularities)))

    @property
    def all_model_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((self.model_id, *self.model_ids)))

    @property
    def score_column_names(self) -> tuple[str, ...]:
        """The probability column and the other score columns: their drift is prediction drift."""
        names = (self.prediction_proba_column, *self.score_columns)
        return tuple(dict.fromkeys(name for name in names if name is not None))

    @property
    def outcome_columns(self) -> tuple[str, ...]:
        """Prediction, probability, score and label columns: not features."""
        names = (self.prediction_column, *self.score_column_names, self.label_column)
        return tuple(dict.fromkeys(name for name in names if name is not None))


class Sources(Strict):
    lakehouse: LakehouseSource | None = None
    inference: InferenceSource | None = None

    @model_validator(mode="after")
    def _one(self) -> Sources:
        if self.lakehouse is None and self.inference is None:
            raise ValueError("give at least one source (lakehouse, inference)")
        return self


class ModelSettings(Strict):
    """A model lakewarden watches. ``name`` becomes the ``model`` label of its alerts."""

    name: str
    env: str = "prod"
    team: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    runbook_url: str | None = None
    dashboard_url: str | None = None
    poll_interval: Duration = Field(default="5m", validate_default=True)
    sources: Sources
    signals: Signals = Field(default_factory=Signals)
    risk: RiskSettings = Field(default_factory=RiskSettings)
    lifecycle: LifecycleSettings = Field(default_factory=LifecycleSettings)

    # 0 would poll back to back (a busy loop on the warehouse); under a second no poll can finish (one
    # SQL round trip alone takes longer), so the scheduler would only pile up skipped runs. 1s keeps
    # local demos and tests quick; production polls are minutes apart (metric tables refresh hourly).
    _poll_interval = field_validator("poll_interval")(at_least(
        timedelta(seconds=1), "0 would poll back to back; a poll takes longer than a second anyway"))

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(f"a lowercase name of letters, digits, '_', '-', '.' (at most 63), not {value!r}")
        return value

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        reserved = {"model", "env", "team", "severity", "alertname"} & set(value)
        if reserved:
            raise ValueError(f"labels {sorted(reserved)} are set by lakewarden; use another name")
        return value
