"""Settings of each lifecycle step: retrain, validate, promote, rollout, refresh_monitor, batch_score.

A model's ``lifecycle.steps`` lists the steps a run takes, in order; each step's block holds its
settings, and every block has a ``timeout`` that bounds the step (a job that runs longer is
cancelled, an endpoint update that does not finish ends the run and rolls back).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Literal

from pydantic import Field, field_validator, model_validator

from config.base import Strict
from config.basics.severity import AlertSeverity
from config.durations import Duration

StepName = Literal["retrain", "validate", "promote", "rollout", "refresh_monitor", "batch_score"]

# What must come earlier in ``steps`` for each step to make sense.
STEP_NEEDS: dict[str, tuple[str, ...]] = {
    "retrain": (),
    "validate": ("retrain",),
    "promote": ("validate",),
    "rollout": ("validate",),
    "refresh_monitor": ("retrain",),
    "batch_score": ("promote",),
}

# Job parameters lakewarden always passes itself; a configured parameter may not override them.
RESERVED_PARAMETERS = frozenset({"model_name", "lakewarden_run_id", "reason", "window_start", "window_end",
                                 "model_version", "champion_version"})

_PARAMETER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
_MODULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_ALIAS = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_METRIC = r"^[A-Za-z_][A-Za-z0-9_.-]*$"


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("a positive duration such as 30m or 2h")
    return value


class JobSpec(Strict):
    """A job: a local Python module (``backend: local``) or an existing Databricks job (``job_id``)."""

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

    _timeout = field_validator("timeout")(_positive)

    @property
    def target(self) -> str:
        """What the backend runs: the module, or the job id as text."""
        return self.module or str(self.job_id)

    def missing(self, where: str) -> str | None:
        """Why the job cannot run, or None."""
        if self.backend == "local" and self.module is None:
            return (f"{where}.backend is local but {where}.module is not set: "
                    "name the Python module to run (e.g. monitor.demo.train)")
        if self.backend == "databricks" and self.job_id is None:
            return f"{where}.backend is databricks but {where}.job_id is not set: give the job's id"
        return None


class RetrainStep(JobSpec):
    """The retraining job. It registers a version tagged ``lakewarden.run_id`` (see README)."""


class MetricGate(Strict):
    """One metric compared between challenger and champion on the same evaluation data.

    The job logs ``holdout_<metric>`` (challenger) and ``champion_holdout_<metric>`` (champion) on the
    version's MLflow run. Passes when ``gain >= min_improvement - tolerance``, where ``gain`` is
    ``challenger - champion`` (``champion - challenger`` when lower is better).
    """

    metric: str = Field(pattern=_METRIC)
    greater_is_better: bool = True
    min_improvement: float = Field(default=0.0, ge=0.0, allow_inf_nan=False)
    tolerance: float = Field(default=0.0, ge=0.0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _one_margin(self) -> MetricGate:
        if self.min_improvement and self.tolerance:
            raise ValueError("give min_improvement (the challenger must be better by) or tolerance "
                             "(it may be worse by), not both")
        return self


class Floor(Strict):
    """An absolute bound on the challenger's ``holdout_<metric>``."""

    min: float | None = Field(default=None, allow_inf_nan=False)
    max: float | None = Field(default=None, allow_inf_nan=False)

    @model_validator(mode="after")
    def _some_bound(self) -> Floor:
        if self.min is None and self.max is None:
            raise ValueError("give min or max (or both)")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        return self


class ValidateStep(MetricGate):
    """The gate a challenger passes before it may serve (see README "Lifecycle")."""

    metric: str = Field(default="roc_auc", pattern=_METRIC)
    floors: dict[str, Floor] = Field(default_factory=dict)
    business_metrics: tuple[MetricGate, ...] = ()
    require_description: bool = False
    required_tags: tuple[str, ...] = ()
    job: JobSpec | None = None
    timeout: Duration = timedelta(hours=1)

    _timeout = field_validator("timeout")(_positive)

    @field_validator("floors")
    @classmethod
    def _floor_names(cls, value: dict[str, Floor]) -> dict[str, Floor]:
        for name in value:
            if not re.match(_METRIC, name):
                raise ValueError(f"floor metric {name!r}: use letters, digits, '_', '.', '-'")
        return value


class PromoteStep(Strict):
    """The MLflow aliases a promotion moves."""

    champion_alias: str = "champion"
    challenger_alias: str = "challenger"
    previous_alias: str = "previous_champion"
    timeout: Duration = timedelta(minutes=30)
    # A rollback of a model's first promotion has no earlier champion to move the alias back to.
    # ``remove_champion``: delete the alias, as it was before the run (what loads ``@champion`` fails
    # loudly, as it did before). ``keep_and_page``: leave it on the rolled-back version and page
    # (the run ends with "CHAMPION KEPT ON ROLLED-BACK VERSION", a critical alert).
    first_rollback: Literal["remove_champion", "keep_and_page"] = "remove_champion"

    _timeout = field_validator("timeout")(_positive)

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
            raise ValueError(f"champion_alias, challenger_alias and previous_alias must differ, got {aliases}")
        return self


class RolloutStep(Strict):
    """Serve the challenger on ``endpoint``: a canary share first, then all traffic, or roll back.

    ``observe_windows`` judged windows of the model (at least half of each after the canary went live)
    are watched: a finding of a ``watch`` signal at ``rollback_on`` or worse rolls back to the snapshot
    taken before the change. ``watch`` defaults to the signals a model can change, quality and
    operational health; input drift against an old baseline persists whichever model serves, so it
    would roll back every retrained model. ``watch: [any]`` watches the window's overall severity.
    ``canary_percent: 0`` skips the canary and moves all traffic at once.
    """

    endpoint: str = Field(pattern=r"^[A-Za-z0-9_-]{1,63}$")
    canary_percent: int = Field(default=10, ge=0, le=99)
    observe_windows: int = Field(default=3, ge=1, le=100)
    rollback_on: AlertSeverity = "high"
    watch: tuple[str, ...] = ("quality", "operational")
    update_timeout: Duration = timedelta(minutes=30)
    timeout: Duration = timedelta(hours=24)

    _timeouts = field_validator("timeout", "update_timeout")(_positive)

    @field_validator("watch")
    @classmethod
    def _watch(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("watch at least one signal, or [any] for the overall severity")
        for name in value:
            if not re.fullmatch(r"[a-z_]+", name):
                raise ValueError(f"a signal name such as quality, operational or any, not {name!r}")
        return value


class RefreshMonitorStep(Strict):
    """Refresh the model's Lakehouse monitor once the new model serves, and wait for the refresh."""

    timeout: Duration = timedelta(hours=1)

    _timeout = field_validator("timeout")(_positive)


class BatchScoreStep(JobSpec):
    """The batch inference job, run after promotion (gets ``model_version`` as a parameter)."""
