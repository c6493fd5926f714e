"""Sending dead notifications again, once the receiver is fixed (``lakewarden alerts outbox retry``).

A dead row goes back to ``pending`` in the same outbox (attempts from zero, due now), so the daemon's
delivery sends it like any other row: same claims, same retries, same dead-letter hook if it dies again.
Everything happens in one write transaction; the update repeats ``status = 'dead'``, so a row another
process requeued or changed meanwhile is left alone.

Not requeued: a notification or escalation of a group whose newer state is already in the outbox (a
row with a higher id and the same ``group_ref`` that replaces older ones): sending the old state now
would land after the newer one, a firing after its resolve. Test notifications are not requeued either
(``lakewarden alerts test`` sends a fresh one).

Audit: the row keeps who requeued it and when, in front of its last error
(``requeued by ana at 2026-12-07T03:12:00Z; was: HTTP 401 ...``), and an ``outbox_requeued`` log line
names the rows and the person.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import structlog

from alerts.schema import alerts_outbox as t
from config.basics.sql import begin_write

log = structlog.get_logger(__name__)
_MAX_ERROR = 2000


@dataclass(frozen=True)
class Requeued:
    requeued: tuple[int, ...] = ()
    skipped: dict[int, str] = field(default_factory=dict)  # row id -> why it was not requeued


def requeue_dead(engine: sa.Engine, now: datetime, *, by: str, ids: Sequence[int] | None = None) -> Requeued:
    """Requeue the dead rows ``ids`` (``None``: every dead row). Rows that are not dead, unknown ids,
    test notifications and rows a newer one of their group replaces are skipped with the reason."""
    if not by.strip():
        raise ValueError("say who requeues (--by NAME): the row keeps it for audit")
    skipped: dict[int, str] = {}
    requeued: list[int] = []
    with begin_write(engine) as conn:
        query = sa.select(t.c.id, t.c.status, t.c.payload, t.c.group_ref, t.c.last_error)
        query = query.where(t.c.status == "dead") if ids is None else query.where(t.c.id.in_(list(ids)))
        rows = {row.id: row for row in conn.execute(query.order_by(t.c.id))}
        for missing in sorted(set(ids or ()) - set(rows)):
            skipped[missing] = "no such outbox row"
        for row in rows.values():
            why = _not_requeued(conn, row)
            if why is not None:
                skipped[row.id] = why
                continue
            note = f"requeued by {by.strip()} at {now.isoformat().replace('+00:00', 'Z')}; was: {row.last_error or ''}"
            done = conn.execute(t.update().where(t.c.id == row.id, t.c.status == "dead").values(
                status="pending", attempts=0, next_attempt_at=now, lease_owner=None, lease_until=None,
                last_error=note[:_MAX_ERROR]))
            if done.rowcount == 1:
                requeued.append(row.id)
            else:
                skipped[row.id] = "changed by another process meanwhile"
    if requeued:
        log.warning("outbox_requeued", ids=requeued, by=by.strip())
    return Requeued(tuple(requeued), dict(sorted(skipped.items())))


def _not_requeued(conn: sa.Connection, row: Any) -> str | None:  # a row of the select above
    if row.status != "dead":
        return f"it is {row.status}, not dead"
    payload = row.payload if isinstance(row.payload, dict) else {}
    if payload.get("kind") == "test":
        return "a test notification: send a new one with `lakewarden alerts test RECEIVER`"
    if row.group_ref is not None:
        newer = conn.execute(sa.select(t.c.id).where(t.c.group_ref == row.group_ref, t.c.id > row.id,
                                                     t.c.latest_wins.is_(True))
                             .order_by(t.c.id.desc()).limit(1)).scalar()
        if newer is not None:
            return f"its group's newer state is row #{newer}: sending this older one would land after it"
    return None
