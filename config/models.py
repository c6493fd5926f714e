"""One monitored model: where its metrics come from, which signals are judged, what happens next."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from config.base import Strict
from config.durations import Duration
from config.lifecycle import LifecycleSettings
from config.signals import RiskSettings, Signals

Granularity = Literal["5 minutes", "30 minutes", "1 hour", "1 day", "1 week", "1 month", "1 year"]

_PART = r"[A-Za-z_][A-Za-z0-9_]*"
_TABLE = re.compile(rf"^{_PART}\.{_PART}\.{_PART}$")
_SCHEMA = re.compile(rf"^{_PART}\.{_PART}$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")
_COLUMN = re.compile(rf"^{_PART}$")


def check_table(value: str) -> str:
    if not _TABLE.match(value):
        raise ValueError(f"a three-part table name catalog.schema.table (letters, digits, _), not {value!r}")
    return value


def check_column(value: str) -> str:
    if not _COLUMN.match(value):
        raise ValueError(f"a column name (letters, digits, _), not {value!r}")
    return value


class LakehouseSource(Strict):
    """A Lakehouse Monitoring monitor's output tables for the model's inference table.

    ``table`` is the monitored table; the metric tables default to ``<table>_profile_metrics`` and
    ``<table>_drift_metrics`` in ``output_schema`` (or the table's own schema).
    """

    table: str
    output_schema: str | None = None
    profile_metrics_table: str | None = None
    drift_metrics_table: str | None = None
    granularity: Granularity = "1 hour"
    drift_type: Literal["BASELINE", "CONSECUTIVE"] = "BASELINE"
    model_id_column: str | None = None
    model_id: str = "*"
    prediction_column: str | None = "prediction"
    label_column: str | None = None
    timestamp_column: str = "timestamp"
    baseline_table: str | None = None
    lookback: Duration = Field(default="2d", validate_default=True)

    @field_validator("table", "profile_metrics_table", "drift_metrics_table", "baseline_table")
    @classmethod
    def _tables(cls, value: str | None) -> str | None:
        return None if value is None else check_table(value)

    @field_validator("model_id_column", "prediction_column", "label_column", "timestamp_column")
    @classmethod
    def _columns(cls, value: str | None) -> str | None:
        return None if value is None else check_column(value)

    @field_validator("output_schema")
    @classmethod
    def _schema(cls, value: str | None) -> str | None:
        if value is not None and not _SCHEMA.match(value):
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


class Sources(Strict):
    lakehouse: LakehouseSource | None = None

    @model_validator(mode="after")
    def _one(self) -> Sources:
        if self.lakehouse is None:
            raise ValueError("give at least one source (lakehouse)")
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
