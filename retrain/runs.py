"""Lifecycle runs as records, and their reads and writes on the state database."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from retrain.schema import retrain_events, retrain_runs
from retrain.trigger import Trigger


class RunState(enum.Enum):
    """Where a run is. All but ``pending`` and ``running`` are final.

    ``rejected``: the challenger lost validation and nothing changed. ``rolled_back``: production was
    changed and put back (a canary that got worse, or an emergency fallback to the previous champion).
    ``failed`` and ``cancelled`` also leave production as it was before the run, except after a full
    rollout (see README "Lifecycle").
    """

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REJECTED = "rejected"
    ROLLED_BACK = "rolled_back"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        return self not in (RunState.PENDING, RunState.RUNNING)


class Step(enum.Enum):
    """What a run does now: one of the configured steps, a rollback, an emergency fallback, or nothing."""

    RETRAIN = "retrain"
    VALIDATE = "validate"
    PROMOTE = "promote"
    ROLLOUT = "rollout"
    REFRESH_MONITOR = "refresh_monitor"
    BATCH_SCORE = "batch_score"
    ROLLBACK = "rollback"
    EMERGENCY = "emergency"
    DONE = "done"


@dataclass(frozen=True)
class LifecycleEvent:
    """Something that happened to a run; the daemon turns these into timeline lines and notifications.

    ``kind`` is ``started`` (the job started), ``step`` (a step finished), ``rollback`` (a rollback
    began), ``emergency`` (traffic moved to the previous champion), or the final state the run ended
    in (``succeeded``, ``rejected``, ``failed``, ``rolled_back``, ``cancelled``). The audit trail
    (``Lifecycle.history``) also holds ``decision`` rows: what each trigger was answered, and
    ``cancel`` rows: who asked to cancel.
    """

    run_id: str
    model: str
    kind: str
    message: str
    at: datetime


@dataclass(frozen=True)
class RunRecord:
    """One lifecycle run as stored. ``external`` holds the side effects already done (see schema)."""

    run_id: str
    model: str
    registered_model: str
    state: RunState
    step: Step
    trigger: Trigger
    idempotency_key: str
    attempts: int
    external: Mapping[str, Any]
    decision: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None

    @property
    def plan(self) -> tuple[Step, ...]:
        """The steps this run takes, fixed when it was created (runs of older releases: the v1 steps)."""
        stored = self.external.get("plan")
        if not stored:
            return (Step.RETRAIN, Step.VALIDATE, Step.PROMOTE)
        return tuple(Step(name) for name in stored)

    @property
    def cancel_requested(self) -> str | None:
        value = self.external.get("cancel_requested")
        return None if value is None else str(value)

    @property
    def model_version(self) -> str | None:
        """The registered version the job produced, once found."""
        version = self.external.get("model_version")
        return None if version is None else str(version)


def new_run_id() -> str:
    return uuid.uuid4().hex


def _record(row: sa.Row[Any]) -> RunRecord:
    return RunRecord(
        run_id=row.run_id,
        model=row.model,
        registered_model=row.registered_model,
        state=RunState(row.state),
        step=Step(row.step),
        trigger=Trigger.from_json(row.trigger),
        idempotency_key=row.idempotency_key,
        attempts=row.attempts,
        external=dict(row.external),
        decision=row.decision,
        created_at=row.created_at,
        updated_at=row.updated_at,
        finished_at=row.finished_at,
    )


def insert_run(
    conn: sa.Connection, *, run_id: str, trigger: Trigger, registered_model: str, key: str, now: datetime,
    plan: tuple[str, ...] = ("retrain", "validate", "promote"),
) -> None:
    conn.execute(
        retrain_runs.insert().values(
            run_id=run_id,
            model=trigger.model,
            registered_model=registered_model,
            state=RunState.PENDING.value,
            step=plan[0],
            trigger=trigger.to_json(),
            idempotency_key=key,
            attempts=0,
            external={"plan": list(plan)},
            decision=None,
            created_at=now,
            updated_at=now,
            finished_at=None,
        )
    )


def load_run(conn: sa.Connection, run_id: str) -> RunRecord | None:
    row = conn.execute(sa.select(retrain_runs).where(retrain_runs.c.run_id == run_id)).first()
    return None if row is None else _record(row)


def select_runs(
    conn: sa.Connection, *, model: str | None = None, unfinished: bool = False
) -> list[RunRecord]:
    query = sa.select(retrain_runs)
    if model is not None:
        query = query.where(retrain_runs.c.model == model)
    if unfinished:
        query = query.where(retrain_runs.c.finished_at.is_(None))
        query = query.order_by(retrain_runs.c.created_at, retrain_runs.c.run_id)
    else:
        query = query.order_by(retrain_runs.c.created_at.desc(), retrain_runs.c.run_id)
    return [_record(row) for row in conn.execute(query)]


def update_run(
    conn: sa.Connection,
    run: RunRecord,
    now: datetime,
    *,
    state: RunState | None = None,
    step: Step | None = None,
    external: Mapping[str, Any] | None = None,
    attempts: int | None = None,
    decision: str | None = None,
) -> None:
    """Write the changes; ``external`` entries are merged into what is stored."""
    values: dict[str, Any] = {"updated_at": now}
    if state is not None:
        values["state"] = state.value
        if state.final:
            values["finished_at"] = now
    if step is not None:
        values["step"] = step.value
    if external is not None:
        values["external"] = {**run.external, **external}
    if attempts is not None:
        values["attempts"] = attempts
    if decision is not None:
        values["decision"] = decision
    conn.execute(retrain_runs.update().where(retrain_runs.c.run_id == run.run_id).values(**values))


def add_event(conn: sa.Connection, event: LifecycleEvent) -> None:
    conn.execute(
        retrain_events.insert().values(
            run_id=event.run_id or None,
            model=event.model,
            kind=event.kind,
            message=event.message,
            at=event.at,
        )
    )


def select_events(conn: sa.Connection, run_id: str) -> list[LifecycleEvent]:
    query = sa.select(retrain_events).where(retrain_events.c.run_id == run_id).order_by(retrain_events.c.id)
    return [
        LifecycleEvent(row.run_id, row.model, row.kind, row.message, row.at) for row in conn.execute(query)
    ]
