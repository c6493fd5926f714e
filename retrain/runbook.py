"""Lifecycle runs as records, without any backend: what the CLI and the HTTP surface need.

Reading runs and their audit trail, asking for a run (through the guardrails), asking a run to
stop, and the kill switch: all of it is rows in the state database, which a running daemon picks up
at its next lifecycle tick. Moving runs forward needs the backends: that is ``retrain.Lifecycle``.
"""

from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa
import structlog

from config.basics.clock import Clock
from config.basics.sql import begin_write
from config.lifecycle import LifecycleSettings
from retrain import runs as store
from retrain.guardrails import StartDecision, decide
from retrain.runs import LifecycleEvent, RunRecord
from retrain.switch import SwitchState, read_switch, set_switch
from retrain.trigger import Trigger

log = structlog.get_logger(__name__)


class RunBook:
    def __init__(self, engine: sa.Engine, models: Mapping[str, LifecycleSettings],
                 clock: Clock) -> None:
        self.engine = engine
        self.models = models
        self.clock = clock

    def consider(self, trigger: Trigger, plan: tuple[str, ...] | None = None) -> StartDecision:
        """Start a run for the trigger if every guardrail allows it; the run starts ``pending``."""
        decision = decide(self.engine, trigger, self.models.get(trigger.model), self.clock(), plan=plan)
        log.info("lifecycle_decision", model=trigger.model, reason=decision.reason.value, run_id=decision.run_id,
                 message=decision.message, severity=trigger.severity, requested_by=trigger.requested_by)
        return decision

    def cancel(self, run_id: str, reason: str, by: str) -> RunRecord:
        """Ask a run to stop; the next advance cancels its jobs and rolls back what it changed."""
        now = self.clock()
        with begin_write(self.engine) as conn:
            run = store.load_run(conn, run_id)
            if run is None:
                raise KeyError(f"no lifecycle run {run_id}")
            if run.state.final:
                raise ValueError(f"run {run_id} already ended {run.state.value}: {run.decision}")
            store.update_run(conn, run, now, external={"cancel_requested": f"{reason} (by {by})"})
            store.add_event(conn, LifecycleEvent(run_id, run.model, "cancel", f"cancel asked by {by}: {reason}", now))
            return store.load_run(conn, run_id) or run

    def pause(self, reason: str, by: str) -> SwitchState:
        return set_switch(self.engine, paused=True, reason=reason, by=by, now=self.clock())

    def resume(self, reason: str, by: str) -> SwitchState:
        return set_switch(self.engine, paused=False, reason=reason, by=by, now=self.clock())

    def switch(self) -> SwitchState:
        with self.engine.connect() as conn:
            return read_switch(conn)

    def runs(self, model: str | None = None) -> list[RunRecord]:
        """Runs, newest first."""
        with self.engine.connect() as conn:
            return store.select_runs(conn, model=model)

    def unfinished(self, model: str | None = None) -> list[RunRecord]:
        """Runs in flight, oldest first."""
        with self.engine.connect() as conn:
            return store.select_runs(conn, model=model, unfinished=True)

    def get(self, run_id: str) -> RunRecord | None:
        with self.engine.connect() as conn:
            return store.load_run(conn, run_id)

    def history(self, run_id: str) -> list[LifecycleEvent]:
        """The audit trail of one run, oldest first."""
        with self.engine.connect() as conn:
            return store.select_events(conn, run_id)
