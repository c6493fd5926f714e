"""Flushing due aggregation groups through the pipeline, and running due escalation steps.

The daemon calls :meth:`Dispatcher.flush` on its delivery tick (and after each sync). Each batch of
due groups is judged in one write transaction: the decisions, the notification log and the outbox
rows commit together or not at all. The muters' state (silences, firing inhibition sources) is read
once per flush, in its first batch, and judges all of its batches. Every decision is logged
(``alert_group_decision``) with its reason and counted (``Dispatcher.counts``); decisions other than
``suppressed`` are also kept in ``alerts_decisions`` for audit.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import structlog

from alerts import groups
from alerts.decision import Reason, Trace
from alerts.escalation import Escalator
from alerts.routing import ResolvedRoute, parse_path, resolve_path, resolve_routes
from alerts.schema import alerts_decisions, alerts_escalations
from alerts.stage import FlushContext, Pipeline
from alerts.writes import Writes
from config.basics.clock import Clock
from config.basics.fence import Gate, always
from config.basics.sql import begin_write
from config.receivers import Receiver
from config.routing import Route

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class FlushReport:
    groups: int = 0
    notified: int = 0
    outbox_rows: int = 0
    escalation_steps: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


class Dispatcher:
    def __init__(self, engine: sa.Engine, route: Route, receivers: Sequence[Receiver], pipeline: Pipeline,
                 escalator: Escalator, clock: Clock, batch: int = 500) -> None:
        self._engine = engine
        self._route = route
        self._receivers = {r.name: r for r in receivers}
        self._pipeline = pipeline
        self._escalator = escalator
        self._clock = clock
        self._batch = batch
        self.counts: Counter[str] = Counter()  # decisions by reason since start
        self._lock = threading.Lock()
        # Enter before judging: False means another replica judges the groups now (``config.basics.fence``).
        self.gate: Gate = always

    def flush(self, max_batches: int = 20) -> FlushReport:
        """Judge every due group (up to ``max_batches`` transactions of ``batch`` groups).

        Safe to call from several threads (the daemon's handler and delivery threads both do):
        the stages keep per-flush state, so one flush runs at a time in this process, and the write
        transaction keeps other processes out.
        """
        total: Counter[str] = Counter()
        sums = {"groups": 0, "notified": 0, "outbox_rows": 0, "escalation_steps": 0}
        with self._lock, self.gate() as held:
            if not held:
                return FlushReport()
            for index in range(max_batches):
                found = self._flush_batch(total, sums, refresh=index == 0)
                if found < self._batch:
                    break
        return FlushReport(reasons=dict(total), **sums)

    def _flush_batch(self, total: Counter[str], sums: dict[str, int], *, refresh: bool) -> int:
        now = self._clock()
        with begin_write(self._engine) as conn:
            due = groups.due(conn, now, self._batch)
            if not due and not self._escalations_due(conn, now):
                return 0
            if refresh:  # one snapshot of silences and firing sources per flush, read in its first batch
                self._pipeline.refresh(conn, now)
            self._pipeline.prefetch(conn, [g.id for g in due])
            members = groups.members(conn, [g.id for g in due])
            decisions: list[dict[str, Any]] = []
            routes: dict[str, ResolvedRoute] = {}
            writes = Writes()
            for group in due:
                route = routes.get(group.route_path) or self._route_of(group)
                routes[group.route_path] = route
                receiver = self._receivers.get(route.receiver) or self._receivers.get(group.receiver)
                if receiver is None:  # routes are checked at start; only a removed receiver gets here
                    receiver = self._receivers[resolve_routes(self._route, {})[0].receiver]
                ctx = FlushContext(now, group, route, receiver, conn, Trace(), writes)
                alerts = members.get(group.id, [])
                self._pipeline(ctx, list(alerts))
                reason = ctx.trace.final()
                drop = [a.fingerprint for a in alerts if a.is_resolved(now)] if ctx.trace.judged else []
                next_at = ctx.trace.next_flush(now, route.timers.group_interval, route.timers.repeat_interval)
                writes.after_flush(group.id, now, next_at, drop, len(alerts))
                self._record(ctx, reason, decisions, total, sums)
            writes.apply(conn)
            if decisions:
                conn.execute(alerts_decisions.insert(), decisions)
            sums["escalation_steps"] += self._escalator.tick(conn, now)
        sums["groups"] += len(due)
        return len(due)

    def _record(self, ctx: FlushContext, reason: Reason, decisions: list[dict[str, Any]],
                total: Counter[str], sums: dict[str, int]) -> None:
        trace = ctx.trace
        muted = sum(trace.muted.values())
        self.counts[reason.value] += 1
        total[reason.value] += 1
        sums["outbox_rows"] += trace.outbox_rows
        sums["notified"] += reason.notifies
        log.info("alert_group_decision", group_key=ctx.group.group_key, receiver=ctx.receiver.name,
                 reason=reason.value, firing=trace.firing, resolved=trace.resolved,
                 muted={k.value: v for k, v in trace.muted.items()}, outbox_rows=trace.outbox_rows)
        if reason is not Reason.SUPPRESSED:
            decisions.append({"at": ctx.now, "group_id": ctx.group.id, "receiver": ctx.receiver.name,
                              "reason": reason.value, "firing": trace.firing, "resolved": trace.resolved,
                              "muted": muted, "outbox_rows": trace.outbox_rows})

    def _route_of(self, group: groups.Group) -> ResolvedRoute:
        route = resolve_path(self._route, parse_path(group.route_path))
        if route is None:  # the config changed: keep the group's receiver with the root's timers
            root = resolve_path(self._route, ())
            assert root is not None  # noqa: S101 - the root path always exists
            route = ResolvedRoute(group.receiver, root.group_by, root.group_by_all, root.timers, root.key, ())
        return route

    @staticmethod
    def _escalations_due(conn: sa.Connection, now: datetime) -> bool:
        t = alerts_escalations
        query = sa.select(t.c.id).where(t.c.closed_at.is_(None), sa.or_(
            sa.and_(t.c.acked_at.is_(None), t.c.next_at <= now),
            sa.and_(t.c.acked_at.is_not(None), t.c.ack_sent.is_(False)))).limit(1)
        return conn.execute(query).first() is not None
