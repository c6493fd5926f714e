"""The outbox as a person reads it (``lakewarden alerts outbox``) and as lakewarden watches it.

``describe_outbox``: counts per state (``retrying`` = pending after a failed attempt, ``superseded`` =
never sent because a newer notification of the same group replaced it before it went out), then the
rows that are not delivered (newest first): id, state, receiver and channel, attempts, when next,
what it is, and the last error.

``outbox_health``: the summary the daemon's self-alerts are computed from (``monitor.self_watch``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from alerts.deadletter import forwarded
from alerts.outbox import OutboxStatus
from alerts.schema import alerts_outbox as t

_UNDELIVERED = (OutboxStatus.PENDING.value, OutboxStatus.IN_FLIGHT.value)


@dataclass(frozen=True)
class OutboxHealth:
    """What is waiting and what died unseen.

    ``oldest_undelivered``: when the oldest pending or in-flight row was created (None: nothing waits);
    ``undelivered``: how many rows wait, ``waiting_receivers`` for which receivers.
    ``unseen_dead``: dead rows (not test notifications) whose last attempt was due at or after ``since``
    and that raised no meta-alert to the fallback receiver (``alerts.deadletter.forwarded``), with
    their receivers in ``dead_receivers``. The outbox keeps no time of death: the last attempt's due
    time (``next_attempt_at``) stands for it, at most a delivery tick or a lease earlier.
    """

    undelivered: int
    oldest_undelivered: datetime | None
    waiting_receivers: tuple[str, ...]
    unseen_dead: int
    dead_receivers: tuple[str, ...]


def outbox_health(engine: sa.Engine, *, since: datetime, fallback: str | None) -> OutboxHealth:
    waiting = sa.select(sa.func.count(), sa.func.min(t.c.created_at)).where(t.c.status.in_(_UNDELIVERED))
    receivers = sa.select(t.c.receiver).where(t.c.status.in_(_UNDELIVERED)).distinct().order_by(t.c.receiver)
    dead = sa.select(t.c.receiver, t.c.payload).where(t.c.status == OutboxStatus.DEAD.value,
                                                      t.c.next_attempt_at >= since)
    with engine.connect() as conn:
        count, oldest = conn.execute(waiting).one()
        names = tuple(conn.execute(receivers).scalars())
        unseen = [row.receiver for row in conn.execute(dead)
                  if (row.payload or {}).get("kind") != "test"
                  and not forwarded(fallback, row.receiver, row.payload or {})]
    return OutboxHealth(int(count), oldest, names, len(unseen), tuple(sorted(set(unseen))))


@dataclass(frozen=True)
class OutboxView:
    """Counts per state and the rows listed (newest first), as ``describe_outbox`` prints them."""

    counts: dict[str, int]
    rows: list[dict[str, Any]]


_ORDER = ("pending", "retrying", "in_flight", "dead", "done", "superseded")


def outbox_view(engine: sa.Engine, *, include_done: bool = False, limit: int = 50) -> OutboxView:
    state = sa.case((sa.and_(t.c.status == "pending", t.c.attempts > 0), "retrying"),
                    (sa.and_(t.c.status == "done", t.c.superseded_by.is_not(None)), "superseded"), else_=t.c.status)
    with engine.connect() as conn:
        counts: dict[str, int] = {str(r[0]): int(r[1]) for r in conn.execute(
            sa.select(state, sa.func.count()).group_by(state))}
        query = sa.select(t, state.label("state")).order_by(t.c.id.desc()).limit(limit)
        if not include_done:
            query = query.where(t.c.status != OutboxStatus.DONE.value)
        rows = conn.execute(query).all()
    listed = []
    for row in rows:
        payload = row.payload or {}
        listed.append({
            "id": row.id, "state": row.state, "receiver": row.receiver, "channel": row.channel_kind,
            "channel_index": row.channel_index, "attempts": row.attempts,
            "kind": payload.get("kind", "notification"), "status": payload.get("status", "?"),
            # why the group was notified: first, repeat (repeat_interval), changed, resolved... (alerts.decision)
            "reason": payload.get("reason") or None, "group_key": payload.get("groupKey", ""),
            "created_at": row.created_at, "next_attempt_at": row.next_attempt_at if row.status == "pending" else None,
            "lease_until": row.lease_until if row.status == "in_flight" else None,
            "delivered_at": row.delivered_at, "superseded_by": row.superseded_by, "last_error": row.last_error,
        })
    return OutboxView({name: int(counts.get(name, 0)) for name in _ORDER}, listed)


def describe_outbox(engine: sa.Engine, *, include_done: bool = False, limit: int = 50) -> str:
    view = outbox_view(engine, include_done=include_done, limit=limit)
    lines = ["outbox: " + ", ".join(f"{name} {count}" for name, count in view.counts.items())]
    if not view.rows:
        lines.append("nothing waiting" + ("" if include_done else " (--all lists delivered rows too)"))
    for row in view.rows:
        reason = f" ({row['reason']})" if row["reason"] else ""
        what = f"{row['kind']} {row['status']}{reason} {row['group_key']}"
        when = (f"not sent: superseded by #{row['superseded_by']}" if row["superseded_by"] is not None else
                f"delivered {row['delivered_at']:%Y-%m-%d %H:%M:%S}Z" if row["state"] == "done" else
                f"next {row['next_attempt_at']:%Y-%m-%d %H:%M:%S}Z" if row["next_attempt_at"] is not None else
                f"lease until {row['lease_until']:%H:%M:%S}Z" if row["lease_until"] is not None else "")
        lines.append(f"#{row['id']:<6} {row['state']:<9} {row['receiver']}/{row['channel']}#{row['channel_index']} "
                     f"attempts {row['attempts']} {when}  {what}".rstrip())
        if row["last_error"]:
            lines.append(f"         last error: {row['last_error']}")
    return "\n".join(lines)
