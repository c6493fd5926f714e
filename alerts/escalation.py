"""Escalation: while a firing group stays unacknowledged, its route's policy notifies more people.

The stage opens an escalation when a route with a policy notifies a firing group, and closes it
when the group's ``all_resolved`` notification goes out (the receivers escalated to hear the
resolve too). ``Escalator.tick`` runs the due steps at each flush: a step notifies its receiver
unless every firing alert of the group is muted (then it waits one more step length). An
acknowledgement (``alerts.acks``) stops the steps; the tick also sends it on as a PagerDuty
``acknowledge`` to every receiver of the group.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import structlog

from alerts import groups
from alerts.decision import Reason
from alerts.fanout import enqueue_to_receiver, idempotency_key
from alerts.model import Alert
from alerts.muting import Muter
from alerts.payload import build_payload
from alerts.schema import alerts_escalations as t
from alerts.stage import FlushContext
from config.escalation import EscalationPolicy
from config.receivers import Receiver

log = structlog.get_logger(__name__)


def open_row(conn: sa.Connection, group_id: str) -> Any:
    return conn.execute(sa.select(t).where(t.c.group_id == group_id, t.c.closed_at.is_(None))).first()


class EscalationStage:
    def __init__(self, policies: Mapping[str, EscalationPolicy], receivers: Mapping[str, Receiver]) -> None:
        self._policies = policies
        self._receivers = receivers
        self._open: set[str] | None = None  # groups with an open escalation, when prefetched

    def prefetch(self, conn: sa.Connection, group_ids: Sequence[str]) -> None:
        query = sa.select(t.c.group_id).where(t.c.closed_at.is_(None), t.c.group_id.in_(list(group_ids)))
        self._open = set(conn.execute(query).scalars())

    def __call__(self, ctx: FlushContext, alerts: list[Alert]) -> list[Alert]:
        known_closed = self._open is not None and ctx.group.id not in self._open
        row = None if known_closed else open_row(ctx.conn, ctx.group.id)
        if ctx.trace.reason is Reason.ALL_RESOLVED and row is not None:
            self._close(ctx, row, alerts)
        elif row is None and ctx.trace.firing and ctx.route.escalation in self._policies:
            policy = self._policies[ctx.route.escalation or ""]
            # Inserted with the batch's other writes, before the batch runs the due steps (``tick``).
            ctx.writes.escalations.append({
                "group_id": ctx.group.id, "group_key": ctx.group.group_key, "receiver": ctx.receiver.name,
                "policy": policy.name, "opened_at": ctx.now, "step": 0, "round": 0,
                "next_at": ctx.now + policy.steps[0].wait, "notified": [], "ack_sent": False})
            log.info("escalation_opened", group_key=ctx.group.group_key, policy=policy.name)
        return alerts

    def _close(self, ctx: FlushContext, row: Any, alerts: list[Alert]) -> None:
        ctx.conn.execute(t.update().where(t.c.id == row.id).values(closed_at=ctx.now, next_at=None))
        for name in row.notified:
            receiver = self._receivers.get(name)
            if receiver is None:
                continue
            payload = build_payload(name, alerts, ctx.group.group_key, now=ctx.now, kind="escalation",
                                    reason=Reason.ALL_RESOLVED.value, group_id=ctx.group.id,
                                    group_labels=ctx.group.labels, escalation={"policy": row.policy})
            enqueue_to_receiver(ctx.conn, now=ctx.now, receiver=receiver, payload=payload,
                                key=idempotency_key("escalation-resolved", str(row.id)))
        log.info("escalation_closed", group_key=ctx.group.group_key, policy=row.policy, notified=row.notified)


class Escalator:
    def __init__(self, policies: Mapping[str, EscalationPolicy], receivers: Mapping[str, Receiver],
                 muters: Sequence[Muter]) -> None:
        self._policies = policies
        self._receivers = receivers
        self._muters = tuple(muters)

    def tick(self, conn: sa.Connection, now: datetime) -> int:
        """Send acknowledgements on and run due steps; returns how many steps notified."""
        self._send_acks(conn, now)
        due = conn.execute(sa.select(t).where(t.c.closed_at.is_(None), t.c.acked_at.is_(None),
                                              t.c.next_at <= now).order_by(t.c.next_at)).all()
        if not due:
            return 0
        members = groups.members(conn, [row.group_id for row in due])
        notified = 0
        for row in due:
            policy = self._policies.get(row.policy)
            firing = [a for a in members.get(row.group_id, []) if not a.is_resolved(now)]
            if policy is None or not firing:
                conn.execute(t.update().where(t.c.id == row.id).values(closed_at=now, next_at=None))
                log.info("escalation_closed", group_key=row.group_key, policy=row.policy,
                         why="policy removed from the config" if policy is None else "nothing fires")
                continue
            step = policy.steps[row.step]
            if all(any(m.mutes(a.labels) for m in self._muters) for a in firing):
                conn.execute(t.update().where(t.c.id == row.id).values(next_at=now + step.wait))
                log.info("escalation_paused", group_key=row.group_key, policy=policy.name, why="all alerts muted")
                continue
            self._notify(conn, now, row, policy, firing)
            notified += 1
        return notified

    def _notify(self, conn: sa.Connection, now: datetime, row: Any, policy: EscalationPolicy,
                firing: list[Alert]) -> None:
        step = policy.steps[row.step]
        receiver = self._receivers.get(step.receiver)
        escalation = {"policy": policy.name, "step": row.step + 1, "round": row.round + 1}
        if receiver is not None:
            payload = build_payload(receiver.name, firing, row.group_key, now=now, kind="escalation",
                                    reason="escalation", group_id=row.group_id, escalation=escalation)
            enqueue_to_receiver(conn, now=now, receiver=receiver, payload=payload,
                                key=idempotency_key("escalation", str(row.id), str(row.round), str(row.step)))
        next_step, next_round = row.step + 1, row.round
        if next_step == len(policy.steps):
            next_step, next_round = 0, row.round + 1
        more = next_round <= policy.repeat
        notified = list(dict.fromkeys([*row.notified, step.receiver]))
        conn.execute(t.update().where(t.c.id == row.id).values(
            step=next_step if more else row.step, round=next_round if more else row.round,
            next_at=now + policy.steps[next_step].wait if more else None, notified=notified))
        log.info("escalation_notified", group_key=row.group_key, receiver=step.receiver, **escalation)

    def _send_acks(self, conn: sa.Connection, now: datetime) -> None:
        rows = conn.execute(sa.select(t).where(t.c.closed_at.is_(None), t.c.acked_at.is_not(None),
                                               t.c.ack_sent.is_(False))).all()
        for row in rows:
            for name in dict.fromkeys([row.receiver, *row.notified]):
                receiver = self._receivers.get(name)
                if receiver is None:
                    continue
                payload = build_payload(name, [], row.group_key, now=now, kind="acknowledgement",
                                        reason=f"acknowledged by {row.acked_by}", group_id=row.group_id,
                                        status="acknowledged")
                enqueue_to_receiver(conn, now=now, receiver=receiver, payload=payload,
                                    key=idempotency_key("ack", str(row.id)))
            conn.execute(t.update().where(t.c.id == row.id).values(ack_sent=True))
