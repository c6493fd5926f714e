"""The whole configuration file: one pydantic model, parsed once at start-up."""

from __future__ import annotations

from pydantic import ConfigDict, Field, model_validator

from config.alerting import AlertingSettings
from config.base import Strict
from config.models import ModelSettings
from config.receivers import Receiver
from config.routing import InhibitRule, Route, TimeInterval
from config.service import (
    EngineSettings,
    LocalSparkSettings,
    ServiceSettings,
    SqlWarehouseSettings,
    StateSettings,
    WorkspaceSettings,
)
from config.warehouse_timing import warehouse_timing_problem


class Settings(Strict):
    """Top level, in the order a reader meets it: where the data is, what to watch, whom to tell."""

    # Raw input never goes into str(ValidationError): a webhook URL or token could be in it.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, hide_input_in_errors=True)

    engine: EngineSettings = Field(default_factory=LocalSparkSettings)
    workspace: WorkspaceSettings = Field(default_factory=WorkspaceSettings)
    state: StateSettings = Field(default_factory=StateSettings)
    service: ServiceSettings = Field(default_factory=ServiceSettings)
    models: tuple[ModelSettings, ...]
    route: Route
    inhibit_rules: tuple[InhibitRule, ...] = ()
    time_intervals: tuple[TimeInterval, ...] = ()
    receivers: tuple[Receiver, ...]
    alerting: AlertingSettings = Field(default_factory=AlertingSettings)

    @model_validator(mode="after")
    def _engine_needs_workspace(self) -> Settings:
        if self.engine.kind == "sql_warehouse" and self.workspace.kind != "databricks":
            raise ValueError("engine kind sql_warehouse needs workspace kind databricks (its host and token "
                             "reach the warehouse)")
        if isinstance(self.engine, SqlWarehouseSettings):
            problem = warehouse_timing_problem(self.engine.wait_timeout, self.workspace.http_timeout,
                                               self.service.shutdown_deadline)
            if problem:
                raise ValueError(problem)
        return self

    def model(self, name: str) -> ModelSettings:
        for model in self.models:
            if model.name == name:
                return model
        known = ", ".join(m.name for m in self.models) or "none"
        raise KeyError(f"no model named {name!r} in the config (models: {known})")

    def receiver(self, name: str) -> Receiver:
        for receiver in self.receivers:
            if receiver.name == name:
                return receiver
        raise KeyError(f"no receiver named {name!r}")
