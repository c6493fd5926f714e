"""The global kill switch: while paused, no lifecycle run starts and no run takes a step (rollbacks excepted).

Kept in the state database, so ``lakewarden lifecycle pause`` reaches a running daemon at its next
lifecycle tick, and survives restarts. Every change is an audit row in ``retrain_events``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from config.basics.sql import begin_write
from retrain.runs import LifecycleEvent, add_event
from retrain.schema import retrain_switches

SWITCH = "lifecycle"


@dataclass(frozen=True)
class SwitchState:
    paused: bool
    reason: str = ""
    by: str = ""
    at: datetime | None = None


def read_switch(conn: sa.Connection) -> SwitchState:
    row = conn.execute(sa.select(retrain_switches).where(retrain_switches.c.name == SWITCH)).first()
    return SwitchState(False) if row is None else SwitchState(bool(row.paused), row.reason, row.by, row.at)


def set_switch(engine: sa.Engine, *, paused: bool, reason: str, by: str, now: datetime) -> SwitchState:
    values = {"paused": paused, "reason": reason, "by": by, "at": now}
    with begin_write(engine) as conn:  # update, else insert: one writer at a time
        updated = conn.execute(retrain_switches.update().where(retrain_switches.c.name == SWITCH).values(**values))
        if updated.rowcount == 0:
            conn.execute(retrain_switches.insert().values(name=SWITCH, **values))
        verb = "paused" if paused else "resumed"
        add_event(conn, LifecycleEvent("", "*", verb, f"lifecycle {verb} by {by}: {reason}", now))
    return SwitchState(paused, reason, by, now)
