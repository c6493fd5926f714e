"""Alert state per scope, and the notifications its changes cause, written in one transaction.

``sync(scope, firing)`` is called with everything that fires in a scope (typically one model) right
now. New alerts notify ``firing``; alerts that fired in the scope before and are absent now are
resolved (``ends_at`` = now) and notify ``resolved``; unchanged alerts notify nothing. A change of
labels is a different alert (a new fingerprint): the old one resolves, the new one fires. Each
notification is routed and becomes one outbox row per matching receiver channel, in the same
transaction as the state change, so a crash can neither lose nor duplicate it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import structlog

from alerts.channels.registry import channel_configs
from alerts.model import Alert, iso
from alerts.outbox import enqueue
from alerts.payload import Status, build_payload
from alerts.routing import resolve_routes
from alerts.schema import alerts_state as s
from alerts.transactions import begin_write
from config.receivers import Receiver
from config.routing import Route, referenced_receivers

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Notification:
    """One outbox row written by ``sync``."""

    outbox_id: int
    status: Status
    fingerprint: str
    receiver: str
    channel_kind: str
    channel_index: int
    group_key: str
    idempotency_key: str
    labels: Mapping[str, str] = field(default_factory=dict)


def idempotency_key(
    fingerprint: str, status: str, starts_at: datetime, *, receiver: str, kind: str, index: int
) -> str:
    """sha256 over one alert episode's status and one channel: the same change is enqueued once."""
    text = "\x1f".join((fingerprint, status, iso(starts_at), receiver, kind, str(index)))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class AlertService:
    def __init__(
        self, engine: sa.Engine, route: Route, receivers: Sequence[Receiver], clock: Callable[[], datetime]
    ) -> None:
        self._receivers = {r.name: r for r in receivers}
        missing = referenced_receivers(route) - set(self._receivers)
        if missing:
            raise ValueError(f"routes name receivers that are not defined: {', '.join(sorted(missing))}")
        if route.receiver is None:
            raise ValueError("the root route needs a receiver")
        self._engine = engine
        self._route = route
        self._clock = clock

    def sync(self, scope: str, firing: Sequence[Alert]) -> list[Notification]:
        """Make ``firing`` the set of firing alerts of ``scope``; return what was enqueued.

        An alert passed with ``ends_at`` already past counts as absent (it resolves at its own
        ``ends_at``). An alert firing again after it resolved starts a new episode: at its own
        ``starts_at`` if that is after the previous end, else now.
        """
        now = self._clock()
        current: dict[str, Alert] = {}
        ended: dict[str, Alert] = {}
        for alert in firing:
            (ended if alert.is_resolved(now) else current)[alert.fingerprint] = alert
        out: list[Notification] = []
        with begin_write(self._engine) as conn:
            stored = {
                row.fingerprint: row
                for row in conn.execute(sa.select(s).where(sa.or_(
                    sa.and_(s.c.scope == scope, s.c.status == "firing"), s.c.fingerprint.in_(list(current))
                )))
            }
            for fp, alert in current.items():
                row = stored.get(fp)
                if row is not None and row.status == "firing":
                    self._refresh(conn, row, alert, scope, now)
                    continue
                starts_at = alert.starts_at
                if row is not None and (row.ends_at is None or starts_at <= row.ends_at):
                    starts_at = now
                values = self._firing_state(alert, scope, starts_at, now)
                if row is None:
                    conn.execute(s.insert().values(fingerprint=fp, **values))
                else:
                    conn.execute(s.update().where(s.c.fingerprint == fp).values(**values))
                episode = Alert(alert.labels, alert.annotations, starts_at)
                out += self._notify(conn, "firing", episode, now)
            for fp, row in stored.items():
                if fp in current or row.scope != scope or row.status != "firing":
                    continue
                ends_at = ended[fp].ends_at if fp in ended else now
                conn.execute(s.update().where(s.c.fingerprint == fp).values(
                    status="resolved", ends_at=ends_at, updated_at=now, last_notified_status="resolved"
                ))
                episode = Alert(row.labels, row.annotations, row.starts_at, ends_at)
                out += self._notify(conn, "resolved", episode, now)
        if out:
            log.info("alerts_synced", scope=scope, firing=len(current), enqueued=len(out),
                     resolved_enqueued=sum(n.status == "resolved" for n in out))
        return out

    def firing(self, scope: str | None = None) -> list[Alert]:
        """Currently firing alerts, in one scope or all, ordered by scope then fingerprint."""
        query = sa.select(s).where(s.c.status == "firing").order_by(s.c.scope, s.c.fingerprint)
        if scope is not None:
            query = query.where(s.c.scope == scope)
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [Alert(row.labels, row.annotations, row.starts_at, row.ends_at) for row in rows]

    @staticmethod
    def _firing_state(alert: Alert, scope: str, starts_at: datetime, now: datetime) -> dict[str, Any]:
        return {
            "labels": dict(alert.labels), "annotations": dict(alert.annotations), "scope": scope,
            "status": "firing", "starts_at": starts_at, "ends_at": None, "updated_at": now,
            "last_notified_status": "firing",
        }

    @staticmethod
    def _refresh(conn: sa.Connection, row: sa.Row[Any], alert: Alert, scope: str, now: datetime) -> None:
        """Still firing: keep the episode, take new annotations (and the scope, if it moved)."""
        if row.annotations != dict(alert.annotations) or row.scope != scope:
            conn.execute(s.update().where(s.c.fingerprint == row.fingerprint).values(
                annotations=dict(alert.annotations), scope=scope, updated_at=now
            ))

    def _notify(self, conn: sa.Connection, status: Status, alert: Alert, now: datetime) -> list[Notification]:
        out: list[Notification] = []
        for route in resolve_routes(self._route, alert.labels):
            receiver = self._receivers[route.receiver]
            group_key = route.group_key(alert.labels)
            payload = build_payload(status, receiver.name, [alert], group_key)
            for kind, index, config in channel_configs(receiver):
                if status == "resolved" and not config.send_resolved:
                    continue
                key = idempotency_key(alert.fingerprint, status, alert.starts_at,
                                      receiver=receiver.name, kind=kind, index=index)
                row_id = enqueue(conn, now=now, receiver=receiver.name, channel_kind=kind,
                                 channel_index=index, idempotency_key=key, payload=payload)
                if row_id is not None:
                    out.append(Notification(row_id, status, alert.fingerprint, receiver.name, kind, index,
                                            group_key, key, dict(alert.labels)))
        return out
