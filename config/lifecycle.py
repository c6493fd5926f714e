"""Lifecycle settings of one model: when to start a run, which steps it takes, and the emergency brake.

A model's ``lifecycle:`` block in the YAML::

    lifecycle:
      enabled: true
      registered_model: main.ml.churn        # the MLflow registered model
      steps: [retrain, validate, promote, rollout, refresh_monitor]
      trigger:
        min_severity: high                   # held for 2 of the last 3 windows
        held_for: {windows: 2, of: 3}
        on_signals: {quality: medium}        # or a signal's own finding at this tier
        schedule: 7d                         # and at least once a week
        cooldown: 6h
        max_runs_per_day: 3
        max_data_age: 6h                     # no start on stale data
        require_labels: false
      retrain: {backend: local, module: monitor.demo.train, timeout: 1h}
      validate: {metric: roc_auc, tolerance: 0.005, floors: {roc_auc: {min: 0.7}}}
      promote: {champion_alias: champion, previous_alias: previous_champion}
      rollout: {endpoint: churn, canary_percent: 10, observe_windows: 3, rollback_on: high}
      emergency: {enabled: false, min_risk: 90}

Step settings live in ``config.lifecycle_steps``.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, field_validator, model_validator

from config.base import Strict
from config.basics.severity import AlertSeverity
from config.durations import Duration
from config.lifecycle_steps import (
    RESERVED_PARAMETERS,
    STEP_NEEDS,
    BatchScoreStep,
    Floor,
    JobSpec,
    MetricGate,
    PromoteStep,
    RefreshMonitorStep,
    RetrainStep,
    RolloutStep,
    StepName,
    ValidateStep,
)

__all__ = [
    "RESERVED_PARAMETERS", "BatchScoreStep", "EmergencySettings", "Floor", "HeldFor", "JobSpec",
    "LifecycleSettings", "MetricGate", "PromoteStep", "RefreshMonitorStep", "RetrainStep", "RolloutStep",
    "StepName", "TriggerPolicy", "ValidateStep",
]

SIGNAL_NAMES = ("feature_drift", "prediction_drift", "label_drift", "quality", "data_quality", "operational",
                "volume", "custom", "fairness", "trend", "monitor")


class HeldFor(Strict):
    """``windows`` of the last ``of`` judged windows must be at ``min_severity`` or worse."""

    windows: int = Field(default=2, ge=1, le=100)
    of: int = Field(default=3, ge=1, le=100)

    @model_validator(mode="after")
    def _m_of_n(self) -> HeldFor:
        if self.windows > self.of:
            raise ValueError(f"windows ({self.windows}) cannot exceed of ({self.of})")
        return self


class TriggerPolicy(Strict):
    """When a run starts, and the guardrails every start passes (README "Lifecycle")."""

    min_severity: AlertSeverity = "high"
    held_for: HeldFor = Field(default_factory=HeldFor)
    on_signals: dict[str, AlertSeverity] = Field(default_factory=dict)
    schedule: Duration | None = None
    cooldown: Duration = timedelta(hours=6)
    max_runs_per_day: int = Field(default=3, ge=1)
    max_data_age: Duration | None = None
    require_labels: bool = False

    @field_validator("on_signals")
    @classmethod
    def _known_signals(cls, value: dict[str, AlertSeverity]) -> dict[str, AlertSeverity]:
        unknown = sorted(set(value) - set(SIGNAL_NAMES))
        if unknown:
            raise ValueError(f"unknown signal(s) {unknown}; known: {', '.join(SIGNAL_NAMES)}")
        return value

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value < timedelta(hours=1):
            raise ValueError("a schedule of at least 1h, such as 7d")
        return value


class EmergencySettings(Strict):
    """On a ``critical`` window with risk >= ``min_risk``: all traffic back to the previous champion, and page."""

    enabled: bool = False
    min_risk: float = Field(default=90.0, ge=0.0, le=100.0)


class LifecycleSettings(Strict):
    """Everything lakewarden needs to retrain, validate, promote and roll out one model."""

    enabled: bool = False
    registered_model: str | None = Field(default=None, min_length=1)
    steps: tuple[StepName, ...] = ("retrain", "validate", "promote")
    trigger: TriggerPolicy = Field(default_factory=TriggerPolicy)
    retrain: RetrainStep = Field(default_factory=RetrainStep)
    validate_: ValidateStep = Field(default_factory=ValidateStep, alias="validate")
    promote: PromoteStep = Field(default_factory=PromoteStep)
    rollout: RolloutStep | None = None
    refresh_monitor: RefreshMonitorStep = Field(default_factory=RefreshMonitorStep)
    batch_score: BatchScoreStep | None = None
    emergency: EmergencySettings = Field(default_factory=EmergencySettings)

    @field_validator("registered_model")
    @classmethod
    def _no_quotes(cls, value: str | None) -> str | None:
        if value is not None and ("'" in value or '"' in value or "`" in value):
            raise ValueError(f"a registered model name without quotes, not {value!r}")
        return value

    @field_validator("steps")
    @classmethod
    def _step_order(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError(f"each step at most once, got {list(value)}")
        if not value or value[0] != "retrain":
            raise ValueError(f"steps start with retrain (the run's challenger comes from it), got {list(value)}")
        for index, step in enumerate(value):
            missing = [need for need in STEP_NEEDS[step] if need not in value[:index]]
            if missing:
                raise ValueError(f"step {step} needs {' and '.join(missing)} before it, got {list(value)}")
        return value

    @model_validator(mode="after")
    def _complete_when_enabled(self) -> LifecycleSettings:
        if "rollout" in self.steps and self.rollout is None:
            raise ValueError("steps include rollout but there is no rollout block: give at least rollout.endpoint")
        if "batch_score" in self.steps and self.batch_score is None:
            raise ValueError("steps include batch_score but there is no batch_score block (module or job_id)")
        if self.emergency.enabled and self.rollout is None:
            raise ValueError("emergency needs a rollout block: it moves the traffic of rollout.endpoint")
        if not self.enabled:
            return self
        if self.registered_model is None:
            raise ValueError(
                "lifecycle is enabled but registered_model is not set: "
                "name the MLflow registered model (e.g. main.ml.churn) or set enabled: false"
            )
        jobs = [("retrain", self.retrain), ("validate.job", self.validate_.job), ("batch_score", self.batch_score)]
        for where, job in jobs:
            problem = job.missing(where) if job is not None else None
            if problem:
                raise ValueError(problem)
        return self

    def jobs(self) -> list[JobSpec]:
        """Every job the lifecycle may run for this model."""
        found: list[JobSpec] = [self.retrain]
        if self.validate_.job is not None:
            found.append(self.validate_.job)
        if self.batch_score is not None and "batch_score" in self.steps:
            found.append(self.batch_score)
        return found
