"""Acknowledging escalations, through the state database (the CLI, or anything that can write it).

``acknowledge`` sets ``acked_at``/``acked_by``; a running daemon sees it at its next flush: the
escalation's steps stop, and PagerDuty channels of the group's receivers get an ``acknowledge``
event with the group's ``dedup_key``. PagerDuty acknowledgements are not read back (that would need
a REST API key and polling); acknowledge here, and PagerDuty follows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from alerts.schema import alerts_escalations as t
from config.basics.clock import Clock
from config.basics.sql import begin_write


@dataclass(frozen=True)
class Escalation:
    id: int
    group_id: str
    group_key: str
    receiver: str
    policy: str
    opened_at: datetime
    step: int
    round: int
    next_at: datetime | None
    notified: tuple[str, ...]
    acked_at: datetime | None
    acked_by: str | None
    closed_at: datetime | None


class EscalationStore:
    def __init__(self, engine: sa.Engine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    def list(self, include_closed: bool = False) -> list[Escalation]:
        query = sa.select(t).order_by(t.c.opened_at, t.c.id)
        if not include_closed:
            query = query.where(t.c.closed_at.is_(None))
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [Escalation(r.id, r.group_id, r.group_key, r.receiver, r.policy, r.opened_at, r.step, r.round,
                           r.next_at, tuple(r.notified), r.acked_at, r.acked_by, r.closed_at) for r in rows]

    def acknowledge(self, group_id: str, by: str, comment: str = "") -> Escalation:
        """Acknowledge the open escalation of the group whose id starts with ``group_id``."""
        if not by.strip():
            raise ValueError("say who acknowledges (--by NAME)")
        now = self._clock()
        with begin_write(self._engine) as conn:
            rows = conn.execute(sa.select(t.c.id, t.c.acked_at).where(
                t.c.closed_at.is_(None), t.c.group_id.startswith(group_id, autoescape=True))).all()
            if len(rows) != 1:
                raise KeyError(f"no open escalation for group {group_id!r}" if not rows else
                               f"{group_id!r} is the start of {len(rows)} group ids; give more of it")
            if rows[0].acked_at is not None:
                raise ValueError(f"the escalation of group {group_id!r} is already acknowledged")
            conn.execute(t.update().where(t.c.id == rows[0].id).values(
                acked_at=now, acked_by=by.strip(), ack_comment=comment, next_at=None))
            row_id = rows[0].id
        return next(e for e in self.list(include_closed=True) if e.id == row_id)
