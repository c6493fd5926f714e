"""Whether a trigger may start a lifecycle run: the guardrails, each with its own reason.

Order of the checks: ``disabled``, ``below_severity``, ``stale_data`` (the newest judged window
ended more than ``trigger.max_data_age`` ago, or is unknown), ``no_labels`` (``require_labels`` and
the newest window had none), ``paused`` (the kill switch), ``duplicate`` (this trigger already
started a run), ``in_flight`` (another run of the model is unfinished), ``cooldown`` (the last run
finished less than ``trigger.cooldown`` ago), ``daily_budget`` (``max_runs_per_day`` runs were
created in the last 24 hours, a rolling window). An emergency run skips the severity, data,
cooldown and budget checks: it moves traffic back to a model that already served.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from config.basics.severity import severity_rank
from config.basics.sql import begin_write
from config.durations import format_duration
from config.lifecycle import LifecycleSettings
from retrain.runs import LifecycleEvent, add_event, insert_run, new_run_id
from retrain.schema import retrain_runs
from retrain.switch import read_switch
from retrain.trigger import Trigger


class StartReason(enum.Enum):
    """Why a trigger did or did not start a run."""

    STARTED = "started"
    DISABLED = "disabled"
    BELOW_SEVERITY = "below_severity"
    IN_FLIGHT = "in_flight"
    COOLDOWN = "cooldown"
    DAILY_BUDGET = "daily_budget"
    DUPLICATE = "duplicate"
    STALE_DATA = "stale_data"
    NO_LABELS = "no_labels"
    PAUSED = "paused"
    ROLLING_BACK = "rolling_back"  # an emergency found a run in flight that had changed production


@dataclass(frozen=True)
class StartDecision:
    """The answer to a trigger. ``run_id`` is the new run, or the one that blocked this trigger."""

    reason: StartReason
    message: str
    run_id: str | None = None

    @property
    def started(self) -> bool:
        return self.reason is StartReason.STARTED


def run_key(trigger: Trigger, now: datetime) -> str:
    """The idempotency key stored for a run.

    A trigger with a window is the same request whenever it arrives again. One without a window (a
    person asking for a retrain) is a new request each time; the guardrails still apply to it.
    """
    if trigger.window_start is not None or trigger.window_end is not None:
        return trigger.idempotency_key
    return hashlib.sha256(f"{trigger.idempotency_key}@{now.isoformat()}".encode()).hexdigest()


def static_decision(trigger: Trigger, settings: LifecycleSettings | None, now: datetime,
                    emergency: bool = False) -> StartDecision | None:
    """The checks that need no database: lifecycle enabled, severity high enough, data fresh, labels."""
    if settings is None or not settings.enabled:
        return StartDecision(StartReason.DISABLED, f"lifecycle is not enabled for model {trigger.model}")
    if emergency:
        return None
    policy = settings.trigger
    minimum = policy.min_severity
    if trigger.requested_by == "policy" and severity_rank(trigger.severity) < severity_rank(minimum):
        return StartDecision(
            StartReason.BELOW_SEVERITY, f"severity {trigger.severity} is below the trigger minimum {minimum}"
        )
    if policy.max_data_age is not None:
        if trigger.data_end is None:
            return StartDecision(StartReason.STALE_DATA, "no judged window yet: the data's age is unknown "
                                 f"and trigger.max_data_age is {format_duration(policy.max_data_age)}")
        age = now - trigger.data_end
        if age > policy.max_data_age:
            return StartDecision(StartReason.STALE_DATA, f"the newest judged window ended "
                                 f"{format_duration(age)} ago, over trigger.max_data_age "
                                 f"{format_duration(policy.max_data_age)}: is the monitor refreshing?")
    if policy.require_labels and trigger.labels_present is not True:
        return StartDecision(StartReason.NO_LABELS, "the newest window had no labels to judge quality on "
                             "and trigger.require_labels is set")
    return None


def stored_decision(
    conn: sa.Connection, trigger: Trigger, settings: LifecycleSettings, key: str, now: datetime,
    emergency: bool = False,
) -> StartDecision | None:
    """The checks against earlier runs and the kill switch; None when the run may start."""
    switch = read_switch(conn)
    if switch.paused:
        return StartDecision(StartReason.PAUSED, f"the lifecycle is paused by {switch.by}: {switch.reason}")
    runs = retrain_runs.c
    duplicate = conn.execute(sa.select(runs.run_id).where(runs.idempotency_key == key)).scalar()
    if duplicate is not None:
        return StartDecision(
            StartReason.DUPLICATE, f"this trigger already started run {duplicate}", duplicate
        )
    in_flight = conn.execute(
        sa.select(runs.run_id).where(runs.model == trigger.model, runs.finished_at.is_(None))
    ).scalar()
    if in_flight is not None:
        return StartDecision(StartReason.IN_FLIGHT, f"run {in_flight} is still in flight", in_flight)
    if emergency:
        return None
    last_finished = conn.execute(
        sa.select(runs.finished_at, runs.run_id)
        .where(runs.model == trigger.model, runs.finished_at.is_not(None))
        .order_by(runs.finished_at.desc())
        .limit(1)
    ).first()
    cooldown = settings.trigger.cooldown
    if last_finished is not None and now < last_finished.finished_at + cooldown:
        until = last_finished.finished_at + cooldown
        return StartDecision(
            StartReason.COOLDOWN,
            f"run {last_finished.run_id} finished at {last_finished.finished_at.isoformat()}; "
            f"cooldown {format_duration(cooldown)} lasts until {until.isoformat()}",
            last_finished.run_id,
        )
    budget = settings.trigger.max_runs_per_day
    recent = conn.execute(
        sa.select(sa.func.count())
        .select_from(retrain_runs)
        .where(runs.model == trigger.model, runs.created_at > now - timedelta(days=1))
    ).scalar_one()
    if recent >= budget:
        return StartDecision(
            StartReason.DAILY_BUDGET, f"{recent} runs in the last 24 hours reach max_runs_per_day {budget}"
        )
    return None


def decide(
    engine: sa.Engine, trigger: Trigger, settings: LifecycleSettings | None, now: datetime,
    plan: tuple[str, ...] | None = None,
) -> StartDecision:
    """Check every guardrail and, when they all allow it, create the run (``pending``) in one transaction.

    ``plan`` is the run's steps (the settings' ``steps`` unless given; ``("emergency",)`` for an
    emergency run). Every decision past the static checks is written to ``retrain_events``.
    """
    emergency = plan == ("emergency",)
    decision = static_decision(trigger, settings, now, emergency)
    if decision is not None:
        return decision
    assert settings is not None  # noqa: S101 - static_decision checked it
    assert settings.registered_model is not None  # noqa: S101 - enabled settings have one
    key = run_key(trigger, now)
    for _ in range(2):  # a concurrent caller may win a unique index: then look again
        run_id = new_run_id()
        try:
            with begin_write(engine) as conn:
                blocked = stored_decision(conn, trigger, settings, key, now, emergency)
                decision = blocked or StartDecision(
                    StartReason.STARTED, f"run {run_id} created: {trigger.reason}", run_id
                )
                if blocked is None:
                    insert_run(
                        conn,
                        run_id=run_id,
                        trigger=trigger,
                        registered_model=settings.registered_model,
                        key=key,
                        now=now,
                        plan=plan or settings.steps,
                    )
                message = f"{decision.reason.value}: {decision.message}"
                add_event(
                    conn, LifecycleEvent(decision.run_id or "", trigger.model, "decision", message, now)
                )
            return decision
        except sa.exc.IntegrityError:
            continue
    raise RuntimeError(f"could not record a lifecycle run for {trigger.model}: unique index conflicts")
