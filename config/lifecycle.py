"""Lifecycle settings of one model: when to retrain, how to run the job, how to judge and promote.

A model's ``lifecycle:`` block in the YAML::

    lifecycle:
      enabled: true
      registered_model: main.ml.churn        # the MLflow registered model
      trigger: {min_severity: high, cooldown: 6h, max_runs_per_day: 3}
      retrain:
        backend: local                       # or databricks (job_id)
        module: monitor.demo.train           # run as `python -m module --key=value ...`
        parameters: {lakehouse_root: .lakewarden/lakehouse}
        timeout: 1h
      validate: {metric: roc_auc, greater_is_better: true, min_improvement: 0.0}
      promote: {champion_alias: champion, challenger_alias: challenger, previous_alias: previous_champion}
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Literal

from pydantic import Field, field_validator, model_validator

from config.base import Strict
from config.durations import Duration

Severity = Literal["low", "medium", "high", "critical"]

# Job parameters lakewarden always passes itself; a configured parameter may not override them.
RESERVED_PARAMETERS = frozenset({"model_name", "lakewarden_run_id", "reason", "window_start", "window_end"})

_PARAMETER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
_MODULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_ALIAS = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


class TriggerPolicy(Strict):
    """Guardrails on starting a lifecycle run."""

    min_severity: Severity = "high"
    cooldown: Duration = timedelta(hours=6)
    max_runs_per_day: int = Field(default=3, ge=1)


class RetrainStep(Strict):
    """The retraining job: a local Python module or a Databricks job."""

    backend: Literal["local", "databricks"] = "local"
    module: str | None = None
    job_id: int | None = Field(default=None, ge=1)
    parameters: dict[str, str] = Field(default_factory=dict)
    timeout: Duration = timedelta(hours=1)

    @field_validator("module")
    @classmethod
    def _module_name(cls, value: str | None) -> str | None:
        if value is not None and not _MODULE_NAME.fullmatch(value):
            raise ValueError(f"a dotted Python module name such as monitor.demo.train, not {value!r}")
        return value

    @field_validator("parameters")
    @classmethod
    def _parameter_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not _PARAMETER_NAME.fullmatch(name):
                raise ValueError(f"parameter name {name!r}: use letters, digits, '_', '.', '-'")
            if name in RESERVED_PARAMETERS:
                raise ValueError(
                    f"parameter {name!r} is set by lakewarden itself; "
                    f"reserved names are {', '.join(sorted(RESERVED_PARAMETERS))}"
                )
        return value

    @field_validator("timeout")
    @classmethod
    def _positive_timeout(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("a positive duration such as 30m or 2h")
        return value


class ValidateStep(Strict):
    """The gate a challenger passes: its holdout metric against the champion's on the same holdout."""

    metric: str = Field(default="roc_auc", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    greater_is_better: bool = True
    min_improvement: float = Field(default=0.0, ge=0.0, allow_inf_nan=False)


class PromoteStep(Strict):
    """The MLflow aliases a promotion moves."""

    champion_alias: str = "champion"
    challenger_alias: str = "challenger"
    previous_alias: str = "previous_champion"

    @field_validator("champion_alias", "challenger_alias", "previous_alias")
    @classmethod
    def _alias_name(cls, value: str) -> str:
        if not _ALIAS.fullmatch(value):
            raise ValueError(f"an alias of letters, digits, '_' and '-', not {value!r}")
        return value

    @model_validator(mode="after")
    def _distinct(self) -> PromoteStep:
        aliases = [self.champion_alias, self.challenger_alias, self.previous_alias]
        if len(set(aliases)) != len(aliases):
            raise ValueError(
                f"champion_alias, challenger_alias and previous_alias must differ, got {aliases}"
            )
        return self


class LifecycleSettings(Strict):
    """Everything lakewarden needs to retrain, validate and promote one model."""

    enabled: bool = False
    registered_model: str | None = Field(default=None, min_length=1)
    trigger: TriggerPolicy = Field(default_factory=TriggerPolicy)
    retrain: RetrainStep = Field(default_factory=RetrainStep)
    validate_: ValidateStep = Field(default_factory=ValidateStep, alias="validate")
    promote: PromoteStep = Field(default_factory=PromoteStep)

    @field_validator("registered_model")
    @classmethod
    def _no_quotes(cls, value: str | None) -> str | None:
        if value is not None and ("'" in value or '"' in value or "`" in value):
            raise ValueError(f"a registered model name without quotes, not {value!r}")
        return value

    @model_validator(mode="after")
    def _complete_when_enabled(self) -> LifecycleSettings:
        if not self.enabled:
            return self
        if self.registered_model is None:
            raise ValueError(
                "lifecycle is enabled but registered_model is not set: "
                "name the MLflow registered model (e.g. main.ml.churn) or set enabled: false"
            )
        if self.retrain.backend == "local" and self.retrain.module is None:
            raise ValueError(
                "retrain.backend is local but retrain.module is not set: "
                "name the Python module to run (e.g. monitor.demo.train)"
            )
        if self.retrain.backend == "databricks" and self.retrain.job_id is None:
            raise ValueError("retrain.backend is databricks but retrain.job_id is not set: give the job's id")
        return self
