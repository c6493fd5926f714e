"""The lifecycle: triggers become durable runs that take their configured steps, one side effect at a time.

A run's ``plan`` (the model's ``lifecycle.steps`` when it started) is walked by
:meth:`Lifecycle.advance`, which never blocks: each unfinished run moves as far as it can right now
(``retrain.steps``) and the transitions come back as :class:`LifecycleEvent` values. Every side
effect is recorded in the run row as it happens and guarded by a read of what is in place, so a new
``Lifecycle`` on the same database (a restart, even after SIGKILL) resumes a run without a second
job, alias move or endpoint update. A step that fails ends the run with its reason; if the run had
changed production (aliases, an endpoint), it first goes through ``rollback``.
"""

from __future__ import annotations

import functools
import os
import secrets
import socket
from collections.abc import Collection, Mapping
from typing import Any

import sqlalchemy as sa
import structlog

from config.basics.clock import Clock
from config.basics.fence import FenceLost
from config.basics.sql import begin_write
from config.lifecycle import LifecycleSettings
from retrain import runs as store
from retrain.backends.base import JobBackend
from retrain.guardrails import StartDecision, StartReason
from retrain.ports import AssessmentReader, MonitorRefresher
from retrain.registry import ModelRegistry
from retrain.runbook import RunBook
from retrain.runs import LifecycleEvent, RunRecord, RunState, Step
from retrain.serving import EndpointBusy, ServingBackend
from retrain.steps import Deps, End, Next, Outcome, Revert, StepContext, Wait, handlers
from retrain.steps.base import RUN_ID_TAG, VALIDATION_TAG, production_touched
from retrain.steps.jobs import cancel_jobs, running_jobs
from retrain.trigger import Trigger

__all__ = ["RUN_ID_TAG", "VALIDATION_TAG", "Lifecycle"]

log = structlog.get_logger(__name__)

# After a full rollout the new model serves and passed its checks: cancelling then stops the run only.
_NO_REVERT = (Step.REFRESH_MONITOR, Step.BATCH_SCORE, Step.EMERGENCY)


class Lifecycle(RunBook):
    """Starts lifecycle runs within guardrails (``RunBook``) and moves them forward with the backends."""

    def __init__(
        self,
        engine: sa.Engine,
        models: Mapping[str, LifecycleSettings],
        backend: JobBackend,
        registry: ModelRegistry,
        clock: Clock,
        *,
        serving: ServingBackend | None = None,
        monitors: MonitorRefresher | None = None,
        verdicts: AssessmentReader | None = None,
        max_attempts: int = 5,
    ) -> None:
        for name, settings in models.items():
            for job in settings.jobs() if settings.enabled else []:
                if job.backend != backend.kind:
                    raise ValueError(f"model {name}: a lifecycle job uses backend {job.backend} "
                                     f"but lakewarden runs jobs with the {backend.kind} backend")
        super().__init__(engine, models, clock)
        self.backend = backend
        self.registry = registry
        self.owner = f"{socket.gethostname()}/{os.getpid()}/{secrets.token_hex(3)}"
        self.deps = Deps(backend, registry, clock, serving, monitors, verdicts, owner=self.owner)
        self.max_attempts = max_attempts
        self._handlers = handlers()

    # -- starting and stopping runs -------------------------------------------------------------

    def emergency(self, trigger: Trigger) -> StartDecision:
        """Move the model's traffic back to its previous champion now (``lifecycle.emergency``).

        A run in flight is cancelled first: if it had changed production, its own rollback puts
        back the model that served before it, which is the fallback itself.
        """
        settings = self.models.get(trigger.model)
        if settings is None or not settings.emergency.enabled:
            return StartDecision(StartReason.DISABLED, f"emergency fallback is not enabled for {trigger.model}")
        for run in self.unfinished(trigger.model):
            if run.step is Step.EMERGENCY:
                return StartDecision(StartReason.IN_FLIGHT, f"emergency run {run.run_id} is in flight", run.run_id)
            touched = production_touched(run.external) and run.step not in _NO_REVERT
            self.cancel(run.run_id, f"emergency: {trigger.reason}", by="emergency")
            self._advance_run(run.run_id)
            if touched:
                return StartDecision(StartReason.ROLLING_BACK, f"run {run.run_id} had changed production: it is "
                                     "cancelled and rolls back to the model that served before it", run.run_id)
        decision = self.consider(trigger, plan=("emergency",))
        log.warning("lifecycle_emergency", model=trigger.model, reason=decision.reason.value,
                    run_id=decision.run_id, message=decision.message)
        if decision.started and decision.run_id is not None:
            self._advance_run(decision.run_id)
        return decision

    def report_outliving_jobs(self) -> list[tuple[str, str]]:
        """At shutdown: log and record every job still running; (run id, external id) of each.

        The jobs are left running (a retrain may take hours); the next start adopts them
        (``lifecycle_job_adopted``). ``lakewarden lifecycle show`` shows ``<prefix>job_outlived_daemon``.
        """
        found = []
        for run in self.unfinished():
            settings = self.models.get(run.model) or LifecycleSettings()
            ctx = StepContext(run, settings, self.deps, functools.partial(self._record, run.run_id))
            try:
                jobs = running_jobs(ctx)
            except Exception as exc:
                log.warning("lifecycle_job_status_unknown_at_shutdown", run_id=run.run_id, error=str(exc))
                continue
            for prefix, external_id, status in jobs:
                log.warning("lifecycle_job_outlives_daemon", run_id=run.run_id, model=run.model, job=external_id,
                            backend=self.backend.kind, status=status,
                            note="the job keeps running; the next lakewarden start adopts it")
                ctx.save(**{f"{prefix}job_outlived_daemon": {"at": self.clock().isoformat(), "by": self.owner}})
                found.append((run.run_id, external_id))
        return found

    # -- moving runs forward -------------------------------------------------------------------

    def advance(self, models: Collection[str] | None = None) -> list[LifecycleEvent]:
        """Move every unfinished run (of ``models``, when given) as far as it can go now, without waiting."""
        events: list[LifecycleEvent] = []
        for run in self.unfinished():
            if models is not None and run.model not in models:
                continue
            events.extend(self._advance_run(run.run_id))
        return events

    def _advance_run(self, run_id: str) -> list[LifecycleEvent]:
        events: list[LifecycleEvent] = []
        current = self.get(run_id)
        while current is not None and not current.state.final:
            try:
                moved = self._step(current)
            except EndpointBusy as exc:
                log.info("lifecycle_endpoint_busy", run_id=run_id, step=current.step.value, error=str(exc))
                break
            except FenceLost:
                raise  # another replica holds the model now: not a failed step, and no attempt to count
            except Exception as exc:
                log.exception("lifecycle_step_error", run_id=run_id, step=current.step.value)
                events.extend(self._count_error(current, exc))
                break
            if moved is None:
                break
            events.extend(moved)
            current = self.get(run_id)
        return events

    def _step(self, run: RunRecord) -> list[LifecycleEvent] | None:
        settings = self.models.get(run.model)
        if settings is None or not settings.enabled:
            settings = settings or LifecycleSettings()
            run = self._request_cancel_once(run, f"lifecycle of {run.model} was disabled during the run")
        ctx = StepContext(run, settings, self.deps, lambda values: self._record(run.run_id, values))
        if run.cancel_requested and run.step is not Step.ROLLBACK:
            outcome = self._cancelled(ctx)
        elif run.step is not Step.ROLLBACK and self.switch().paused:
            return None  # held by the kill switch; rollbacks still finish
        else:
            outcome = self._handlers[run.step](ctx)
        return self._apply(ctx, outcome)

    def _cancelled(self, ctx: StepContext) -> Outcome:
        reason = f"cancelled: {ctx.run.cancel_requested}"
        try:
            cancel_jobs(ctx)
        except Exception:
            log.exception("lifecycle_cancel_error", run_id=ctx.run.run_id)
        if ctx.production_touched and ctx.run.step not in _NO_REVERT:
            return Revert(RunState.CANCELLED, reason)
        return End(RunState.CANCELLED, reason)

    def _apply(self, ctx: StepContext, outcome: Outcome) -> list[LifecycleEvent] | None:
        run = self.get(ctx.run.run_id) or ctx.run
        events: list[LifecycleEvent] = []
        if run.state is RunState.PENDING and not isinstance(outcome, (End, Revert)):
            job = run.external.get("job_external_id")
            started = f"{self.backend.kind} job {job} started" if job else f"run started at {run.step.value}"
            events += self._move(run, state=RunState.RUNNING, step=run.step, kind="started",
                                 message=f"{started}: {run.trigger.reason}")
        if isinstance(outcome, Wait):
            if run.attempts:
                with self.engine.begin() as conn:
                    store.update_run(conn, run, self.clock(), attempts=0)
            if outcome.announce:
                events += self._move(run, state=RunState.RUNNING, step=run.step, kind="step", message=outcome.note)
            return events or None
        if isinstance(outcome, Next):
            plan = run.plan
            later = plan[plan.index(run.step) + 1:] if run.step in plan else ()
            if not later:
                return events + self._finish(run, RunState.SUCCEEDED, outcome.message)
            return events + self._move(run, state=RunState.RUNNING, step=later[0], kind="step",
                                       message=outcome.message, external=outcome.external)
        if isinstance(outcome, Revert) and ctx.production_touched:
            return events + self._move(run, state=RunState.RUNNING, step=Step.ROLLBACK, kind="rollback",
                                       message=f"rolling back: {outcome.reason}",
                                       external={"revert": {"state": outcome.state.value, "reason": outcome.reason}})
        return events + self._finish(run, outcome.state, outcome.reason)

    # -- recording -----------------------------------------------------------------------------

    def _request_cancel_once(self, run: RunRecord, reason: str) -> RunRecord:
        if run.cancel_requested:
            return run
        return self.cancel(run.run_id, reason, by="lakewarden")

    def _record(self, run_id: str, external: dict[str, Any]) -> None:
        with begin_write(self.engine) as conn:
            fresh = store.load_run(conn, run_id)
            if fresh is not None:
                store.update_run(conn, fresh, self.clock(), external=external)

    def _move(self, run: RunRecord, *, state: RunState, step: Step, kind: str, message: str,
              external: Mapping[str, Any] | None = None) -> list[LifecycleEvent]:
        now = self.clock()
        event = LifecycleEvent(run.run_id, run.model, kind, message, now)
        with begin_write(self.engine) as conn:
            fresh = store.load_run(conn, run.run_id) or run
            entering = {f"{step.value}_started_at": now.isoformat()} if step is not fresh.step else {}
            store.update_run(conn, fresh, now, state=state, step=step, external={**entering, **(external or {})},
                             attempts=0, decision=message if state.final else None)
            store.add_event(conn, event)
        log.info("lifecycle_event", run_id=run.run_id, model=run.model, kind=kind, message=message)
        return [event]

    def _finish(self, run: RunRecord, state: RunState, reason: str) -> list[LifecycleEvent]:
        return self._move(run, state=state, step=Step.DONE, kind=state.value, message=reason)

    def _count_error(self, run: RunRecord, exc: Exception) -> list[LifecycleEvent]:
        attempts = run.attempts + 1
        message = f"step {run.step.value} failed ({attempts}/{self.max_attempts}): {type(exc).__name__}: {exc}"
        if attempts < self.max_attempts:
            with self.engine.begin() as conn:
                store.update_run(conn, run, self.clock(), attempts=attempts)
            return []
        settings = self.models.get(run.model) or LifecycleSettings()
        ctx = StepContext(run, settings, self.deps, lambda values: self._record(run.run_id, values))
        if run.step is Step.ROLLBACK:
            return self._finish(run, RunState.FAILED, f"ROLLBACK INCOMPLETE: {message}")
        try:
            cancel_jobs(ctx)
        except Exception:
            log.exception("lifecycle_cancel_error", run_id=run.run_id)
        # After a full rollout the new model serves and passed its checks: failing then ends the run only.
        outcome = End(RunState.FAILED, message) if run.step in _NO_REVERT else Revert(RunState.FAILED, message)
        return self._apply(ctx, outcome) or []
