"""``lakewarden alerts outbox``: the outbox as a person reads it.

Counts per state (``retrying`` = pending after a failed attempt), then the rows that are not
delivered (newest first): id, state, receiver and channel, attempts, when next, what it is, and the
last error.
"""

from __future__ import annotations

import sqlalchemy as sa

from alerts.outbox import OutboxStatus
from alerts.schema import alerts_outbox as t


def describe_outbox(engine: sa.Engine, *, include_done: bool = False, limit: int = 50) -> str:
    state = sa.case((sa.and_(t.c.status == "pending", t.c.attempts > 0), "retrying"), else_=t.c.status)
    with engine.connect() as conn:
        counts: dict[str, int] = {str(r[0]): int(r[1]) for r in conn.execute(
            sa.select(state, sa.func.count()).group_by(state))}
        query = sa.select(t, state.label("state")).order_by(t.c.id.desc()).limit(limit)
        if not include_done:
            query = query.where(t.c.status != OutboxStatus.DONE.value)
        rows = conn.execute(query).all()
    order = ("pending", "retrying", "in_flight", "dead", "done")
    lines = ["outbox: " + ", ".join(f"{name} {int(counts.get(name, 0))}" for name in order)]
    if not rows:
        lines.append("nothing waiting" + ("" if include_done else " (--all lists delivered rows too)"))
    for row in rows:
        payload = row.payload or {}
        what = f"{payload.get('kind', 'notification')} {payload.get('status', '?')} {payload.get('groupKey', '')}"
        when = (f"delivered {row.delivered_at:%Y-%m-%d %H:%M:%S}Z" if row.status == "done" else
                f"next {row.next_attempt_at:%Y-%m-%d %H:%M:%S}Z" if row.status == "pending" else
                f"lease until {row.lease_until:%H:%M:%S}Z" if row.status == "in_flight" else "")
        lines.append(f"#{row.id:<6} {row.state:<9} {row.receiver}/{row.channel_kind}#{row.channel_index} "
                     f"attempts {row.attempts} {when}  {what}".rstrip())
        if row.last_error:
            lines.append(f"         last error: {row.last_error}")
    return "\n".join(lines)
