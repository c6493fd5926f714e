"""A lifecycle world for the step tests: real MLflow, real subprocess jobs, real local serving records.

``World`` holds one state database, one MLflow database (copied from a migrated template), the
local job backend's work directory, a :class:`~config.basics.clock.SimulatedClock`, and the two small ports to
the monitor package as in-test classes (:class:`Verdicts`, :class:`Refresher`). ``World.lifecycle``
builds a new :class:`Lifecycle` on all of it each time it is called, which is what a restart does.

Most tests ``stage`` the version a retraining job would register (in this process, tagged with the
run id) and run the real job subprocess with ``--register=no``: the job still starts, runs and
exits as a detached process, but does not pay MLflow's import (2-4 s of CPU) once per test.
``test_full_plan`` and ``test_crash_resume`` run the job that registers its own version.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from lw_support import T0, drive, make_version

from config.basics.clock import SimulatedClock
from config.lifecycle import LifecycleSettings
from retrain.backends.base import JobState, JobStatus
from retrain.backends.local import LocalJobBackend
from retrain.backends.local_serving import LocalServingBackend
from retrain.lifecycle import RUN_ID_TAG, Lifecycle
from retrain.ports import RefreshState, WindowVerdict
from retrain.registry import MlflowRegistry
from retrain.runs import LifecycleEvent, RunRecord
from retrain.serving import EndpointState, ServedEntity, entity_name_for
from retrain.trigger import Trigger

MODEL = "churn"
ENDPOINT = "churn-ep"
TRIGGER = Trigger(MODEL, "drift: psi on payment_method 0.4", "high", T0 - timedelta(hours=1), T0)
GOOD = {"holdout_roc_auc": 0.9, "champion_holdout_roc_auc": 0.8}

BASE: dict[str, Any] = {
    "enabled": True,
    "registered_model": MODEL,
    "steps": ["retrain", "validate", "promote", "rollout", "refresh_monitor"],
    "retrain": {"module": "lw_fake_job", "parameters": {"register": "no"}, "timeout": "10m"},
    "rollout": {"endpoint": ENDPOINT, "canary_percent": 10, "observe_windows": 2, "rollback_on": "high",
                "timeout": "6h", "update_timeout": "10m"},
    "emergency": {"enabled": True},
}


def merge(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``changes`` merged in, nested dicts key by key (``None`` removes a key)."""
    merged = copy.deepcopy(dict(base))
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def settings(**changes: Any) -> LifecycleSettings:
    return LifecycleSettings.model_validate(merge(BASE, changes))


def entity(version: str, model: str = MODEL) -> ServedEntity:
    return ServedEntity(entity_name_for(model, version), model, version)


class Verdicts:
    """The AssessmentReader port: the model's judged windows, added by the test."""

    def __init__(self) -> None:
        self.windows: list[WindowVerdict] = []

    def add(self, start: datetime, severity: str = "low", risk: float = 10.0,
            signals: Mapping[str, str] | None = None) -> WindowVerdict:
        """A window at ``severity``, from its quality finding unless ``signals`` says otherwise."""
        window = WindowVerdict(start, start + timedelta(hours=1), severity, risk,
                               dict(signals if signals is not None else {"quality": severity}))
        self.windows.append(window)
        return window

    def windows_since(self, model: str, since: datetime) -> list[WindowVerdict]:
        assert model == MODEL
        return sorted((w for w in self.windows if w.mostly_after(since)), key=lambda w: w.window_start)


class Refresher:
    """The MonitorRefresher port: counts refreshes; the test sets how they go."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.state = RefreshState.SUCCEEDED
        self.message = "refresh finished"

    def start_refresh(self, model: str, since: datetime | None = None) -> str:
        self.started.append(model)
        return f"refresh-{len(self.started)}"

    def refresh_state(self, model: str, refresh_id: str) -> tuple[RefreshState, str]:
        return self.state, self.message


@dataclass
class World:
    engine: sa.Engine
    clock: SimulatedClock
    registry: MlflowRegistry
    serving: LocalServingBackend
    jobs_dir: Path
    job_env: dict[str, str]
    tmp: Path
    verdicts: Verdicts = field(default_factory=Verdicts)
    refresher: Refresher = field(default_factory=Refresher)

    def lifecycle(self, config: LifecycleSettings | None = None, *, serving: bool = True) -> Lifecycle:
        """A new Lifecycle on this world's state (what a daemon restart builds)."""
        backend = LocalJobBackend(workdir=self.jobs_dir, env=self.job_env)
        return Lifecycle(self.engine, {MODEL: config or settings()}, backend, self.registry, self.clock,
                         serving=self.serving if serving else None, monitors=self.refresher,
                         verdicts=self.verdicts)

    def champion(self, *, endpoint: bool = True) -> str:
        """Version 1 as champion, served alone by the endpoint."""
        version = make_version(self.registry, MODEL, {"holdout_roc_auc": 0.8})
        self.registry.set_alias(MODEL, "champion", version)
        if endpoint:
            self.serving.create(ENDPOINT, [entity(version)], {entity(version).name: 100})
        return version

    def start(self, lifecycle: Lifecycle, trigger: Trigger = TRIGGER) -> str:
        decision = lifecycle.consider(trigger)
        assert decision.started, decision
        assert decision.run_id is not None
        return decision.run_id

    def stage(self, run_id: str, metrics: Mapping[str, float] = GOOD, *, description: str = "",
              tags: Mapping[str, str] | None = None) -> str:
        """The version the run's job would register: tagged with the run id, ``metrics`` on its run."""
        version = make_version(self.registry, MODEL, dict(metrics), {RUN_ID_TAG: run_id, **(tags or {})})
        if description:
            self.registry.client.update_model_version(MODEL, version, description=description)
        return version

    def aliases(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in self.registry.client.get_registered_model(MODEL).aliases.items()}

    def tags(self, version: str) -> dict[str, str]:
        return dict(self.registry.client.get_model_version(MODEL, version).tags)

    def endpoint(self) -> EndpointState:
        return self.serving.read(ENDPOINT)

    def served(self) -> dict[str, int]:
        """What the endpoint serves: entity name -> percent, checked against its entities."""
        state = self.endpoint()
        assert {e.name for e in state.entities} == set(state.routes), state
        for served in state.entities:
            assert served.name == entity_name_for(served.entity_name, served.entity_version)
        return dict(state.routes)

    def canary_live(self, lifecycle: Lifecycle, run_id: str) -> RunRecord:
        """Drive the run until its canary serves (the step then waits for windows)."""
        return drive(lifecycle, run_id, until=lambda run: run.state.final or "canary_live_at" in run.external)

    def windows(self, *severities: str, start: datetime | None = None) -> None:
        """Judged windows after now (the canary's traffic), one hour each; the clock moves past them."""
        at = start or self.clock()
        for severity in severities:
            self.verdicts.add(at, severity, {"low": 10.0, "medium": 45.0, "high": 75.0}.get(severity, 95.0))
            at += timedelta(hours=1)
        self.clock.set(at)

    def kinds(self, lifecycle: Lifecycle, run_id: str) -> list[str]:
        return [event.kind for event in lifecycle.history(run_id)]


def messages(events: list[LifecycleEvent]) -> str:
    return "\n".join(f"{event.kind}: {event.message}" for event in events)


def job_outcome(backend: LocalJobBackend, external_id: str) -> JobStatus:
    """The job's status once it stopped running (a cancelled job takes a moment to exit)."""
    deadline = time.monotonic() + 30
    while (status := backend.status(external_id)).state is JobState.RUNNING:
        assert time.monotonic() < deadline, f"job {external_id} still runs"
        time.sleep(0.05)
    return status
