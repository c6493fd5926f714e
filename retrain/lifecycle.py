"""The lifecycle: triggers become durable runs that retrain, validate and promote a model.

A run moves through ``retrain`` (start the job) → ``wait`` (poll it) → ``validate`` (challenger vs
champion on the same holdout) → ``promote`` (move aliases) → ``done``, ending ``succeeded``,
``rejected`` or ``failed`` with a reason. :meth:`Lifecycle.advance` never blocks: it moves each
unfinished run as far as it can right now and returns what happened. Every side effect is recorded
in the run row (before and after), so a new ``Lifecycle`` on the same database resumes a run
without starting its job twice or moving an alias twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import structlog

from config.durations import format_duration
from config.lifecycle import LifecycleSettings
from retrain import runs as store
from retrain.backends.base import JobBackend, JobState
from retrain.guardrails import StartDecision, decide
from retrain.promotion import describe_version, promote
from retrain.registry import ModelRegistry
from retrain.runs import LifecycleEvent, RunRecord, RunState, Step
from retrain.trigger import Trigger
from retrain.validation import Outcome, judge

log = structlog.get_logger(__name__)

RUN_ID_TAG = "lakewarden.run_id"
VALIDATION_TAG = "lakewarden.validation"

_Events = list[LifecycleEvent] | None  # None: the run cannot move on right now


class Lifecycle:
    """Starts lifecycle runs within guardrails and moves them forward."""

    def __init__(
        self,
        engine: sa.Engine,
        models: Mapping[str, LifecycleSettings],
        backend: JobBackend,
        registry: ModelRegistry,
        clock: Callable[[], datetime],
        *,
        max_attempts: int = 5,
    ) -> None:
        for name, settings in models.items():
            if settings.enabled and settings.retrain.backend != backend.kind:
                raise ValueError(
                    f"model {name}: retrain.backend is {settings.retrain.backend} "
                    f"but lakewarden runs jobs with the {backend.kind} backend"
                )
        self.engine = engine
        self.models = models
        self.backend = backend
        self.registry = registry
        self.clock = clock
        self.max_attempts = max_attempts

    # -- starting runs -------------------------------------------------------------------------

    def consider(self, trigger: Trigger) -> StartDecision:
        """Start a run for the trigger if every guardrail allows it; the run starts ``pending``."""
        decision = decide(self.engine, trigger, self.models.get(trigger.model), self.clock())
        log.info(
            "lifecycle_decision",
            model=trigger.model,
            reason=decision.reason.value,
            run_id=decision.run_id,
            message=decision.message,
            severity=trigger.severity,
        )
        return decision

    # -- reading runs --------------------------------------------------------------------------

    def runs(self, model: str | None = None) -> list[RunRecord]:
        """Runs, newest first."""
        with self.engine.connect() as conn:
            return store.select_runs(conn, model=model)

    def get(self, run_id: str) -> RunRecord | None:
        with self.engine.connect() as conn:
            return store.load_run(conn, run_id)

    def history(self, run_id: str) -> list[LifecycleEvent]:
        """The audit trail of one run, oldest first."""
        with self.engine.connect() as conn:
            return store.select_events(conn, run_id)

    # -- moving runs forward -------------------------------------------------------------------

    def advance(self) -> list[LifecycleEvent]:
        """Move every unfinished run as far as it can go now, without waiting."""
        with self.engine.connect() as conn:
            pending = store.select_runs(conn, unfinished=True)
        events: list[LifecycleEvent] = []
        for run in pending:
            events.extend(self._advance_run(run))
        return events

    def _advance_run(self, run: RunRecord) -> list[LifecycleEvent]:
        events: list[LifecycleEvent] = []
        current: RunRecord | None = run
        while current is not None and not current.state.final:
            try:
                moved = self._step(current)
            except Exception as exc:
                log.exception("lifecycle_step_error", run_id=current.run_id, step=current.step.value)
                events.extend(self._count_error(current, exc))
                break
            if moved is None:
                break
            events.extend(moved)
            current = self.get(current.run_id)
        return events

    def _step(self, run: RunRecord) -> _Events:
        settings = self.models.get(run.model)
        if settings is None or not settings.enabled:
            self._cancel_job(run)
            return self._finish(run, RunState.FAILED, f"lifecycle of {run.model} was disabled during the run")
        handlers: dict[Step, Callable[[RunRecord, LifecycleSettings], _Events]] = {
            Step.RETRAIN: self._start_job,
            Step.WAIT: self._wait_job,
            Step.VALIDATE: self._validate,
            Step.PROMOTE: self._promote,
        }
        return handlers[run.step](run, settings)

    def _start_job(self, run: RunRecord, settings: LifecycleSettings) -> _Events:
        if "champion_at_start" not in run.external:
            # What the job compares against; recorded before the job can see it.
            champion = self.registry.get_alias(run.registered_model, settings.promote.champion_alias)
            run = self._record(run, champion_at_start=champion, job_requested_at=self.clock().isoformat())
        trigger = run.trigger
        params = {
            "model_name": run.registered_model,
            "lakewarden_run_id": run.run_id,
            "reason": trigger.reason,
            "window_start": trigger.window_start.isoformat() if trigger.window_start else "",
            "window_end": trigger.window_end.isoformat() if trigger.window_end else "",
            **settings.retrain.parameters,
        }
        target = settings.retrain.module or str(settings.retrain.job_id)
        external_id = self.backend.start(run.run_id, target, params)
        now = self.clock()
        return self._move(
            run,
            state=RunState.RUNNING,
            step=Step.WAIT,
            kind="started",
            message=f"{self.backend.kind} job {external_id} started",
            external={"job_external_id": external_id, "job_started_at": now.isoformat()},
        )

    def _wait_job(self, run: RunRecord, settings: LifecycleSettings) -> _Events:
        external_id = str(run.external["job_external_id"])
        status = self.backend.status(external_id)
        if status.state is JobState.RUNNING:
            started = datetime.fromisoformat(str(run.external["job_started_at"]))
            timeout = settings.retrain.timeout
            if self.clock() - started <= timeout:
                return None
            self.backend.cancel(external_id)
            return self._finish(
                run,
                RunState.FAILED,
                f"job {external_id} timed out after {format_duration(timeout)}; cancelled",
            )
        if status.state is JobState.FAILED:
            tail = f"\n{status.log_tail}" if status.log_tail else ""
            return self._finish(run, RunState.FAILED, f"job {external_id} failed: {status.message}{tail}")
        version = self.registry.find_version_by_tag(run.registered_model, RUN_ID_TAG, run.run_id)
        if version is None:
            return self._finish(
                run,
                RunState.FAILED,
                f"job {external_id} succeeded but registered no version of {run.registered_model} "
                f"tagged {RUN_ID_TAG}={run.run_id}",
            )
        return self._move(
            run,
            state=RunState.RUNNING,
            step=Step.VALIDATE,
            kind="step",
            message=f"job {external_id} succeeded; version {version} of {run.registered_model} registered",
            external={"model_version": version},
        )

    def _validate(self, run: RunRecord, settings: LifecycleSettings) -> _Events:
        version = str(run.model_version)
        model = run.registered_model
        expected = run.external.get("champion_at_start")
        champion = self.registry.get_alias(model, settings.promote.champion_alias)
        if champion != expected:
            return self._finish(
                run,
                RunState.FAILED,
                f"alias {settings.promote.champion_alias} of {model} moved from "
                f"{describe_version(expected)} to {describe_version(champion)} while the job ran: "
                f"version {version} was scored against another champion",
            )
        verdict = judge(self.registry.version_metrics(model, version), settings.validate_, version, champion)
        if verdict.outcome is Outcome.INVALID:
            return self._finish(run, RunState.FAILED, verdict.message)
        self.registry.set_version_tag(model, version, VALIDATION_TAG, verdict.outcome.value)
        if verdict.outcome is Outcome.REJECTED:
            return self._finish(run, RunState.REJECTED, verdict.message)
        return self._move(
            run, state=RunState.RUNNING, step=Step.PROMOTE, kind="step", message=verdict.message
        )

    def _promote(self, run: RunRecord, settings: LifecycleSettings) -> _Events:
        progress = dict(run.external.get("promotion", {}))

        def record(done: dict[str, Any]) -> None:
            progress.update(done)
            self._record(run, promotion=dict(progress))

        expected = run.external.get("champion_at_start")
        result = promote(
            self.registry,
            run.registered_model,
            str(run.model_version),
            expected_champion=None if expected is None else str(expected),
            aliases=settings.promote,
            progress=progress,
            record=record,
        )
        if not result.ok:
            return self._finish(run, RunState.FAILED, result.message)
        return self._finish(run, RunState.SUCCEEDED, result.message)

    # -- recording -----------------------------------------------------------------------------

    def _record(self, run: RunRecord, **external: Any) -> RunRecord:
        with self.engine.begin() as conn:
            fresh = store.load_run(conn, run.run_id) or run
            store.update_run(conn, fresh, self.clock(), external=external)
            return store.load_run(conn, run.run_id) or fresh

    def _move(
        self,
        run: RunRecord,
        *,
        state: RunState,
        step: Step,
        kind: str,
        message: str,
        external: Mapping[str, Any] | None = None,
    ) -> list[LifecycleEvent]:
        now = self.clock()
        event = LifecycleEvent(run.run_id, run.model, kind, message, now)
        with self.engine.begin() as conn:
            fresh = store.load_run(conn, run.run_id) or run
            store.update_run(
                conn,
                fresh,
                now,
                state=state,
                step=step,
                external=external,
                attempts=0,
                decision=message if state.final else None,
            )
            store.add_event(conn, event)
        log.info("lifecycle_event", run_id=run.run_id, model=run.model, kind=kind, message=message)
        return [event]

    def _finish(self, run: RunRecord, state: RunState, reason: str) -> list[LifecycleEvent]:
        return self._move(run, state=state, step=Step.DONE, kind=state.value, message=reason)

    def _count_error(self, run: RunRecord, exc: Exception) -> list[LifecycleEvent]:
        attempts = run.attempts + 1
        message = (
            f"step {run.step.value} failed ({attempts}/{self.max_attempts}): {type(exc).__name__}: {exc}"
        )
        if attempts >= self.max_attempts:
            self._cancel_job(run)
            return self._finish(run, RunState.FAILED, message)
        with self.engine.begin() as conn:
            store.update_run(conn, run, self.clock(), attempts=attempts)
        return []

    def _cancel_job(self, run: RunRecord) -> None:
        external_id = run.external.get("job_external_id")
        if run.step is Step.WAIT and external_id is not None:
            try:
                self.backend.cancel(str(external_id))
            except Exception:
                log.exception("lifecycle_cancel_error", run_id=run.run_id, job=external_id)
