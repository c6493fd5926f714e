"""Alert state per scope, and the aggregation groups its alerts belong to, written in one transaction.

``sync(scope, firing)`` is called with everything that fires in a scope (typically one model) right
now. New alerts start firing; alerts that fired in the scope before and are absent now are resolved
(``ends_at`` = now); unchanged alerts stay as they are. A change of labels is a different alert (a
new fingerprint): the old one resolves, the new one fires. Every firing alert is a member of one
group per route it matches (``alerts.groups``); notifications are decided later, when a group is
due (``alerts.dispatch``), so an alert that resolves within ``group_wait`` is never sent.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import structlog

from alerts import groups, labelcache
from alerts.model import Alert, LabelSet, plain
from alerts.payload import Status
from alerts.routecache import RouteCache
from alerts.schema import alerts_state as s
from config.basics.clock import Clock
from config.basics.sql import begin_write
from config.receivers import Receiver
from config.routing import Route, referenced_receivers

log = structlog.get_logger(__name__)

# Built once: a statement built per call costs more than executing a cached one.
_STORED_COLUMNS = (s.c.fingerprint, s.c.annotations, s.c.scope, s.c.status, s.c.starts_at, s.c.ends_at)
_FIRING_IN_SCOPE = sa.and_(s.c.scope == sa.bindparam("b_scope"), s.c.status == "firing")
_FIXED = 32  # up to this many fingerprints, a statement with that many parameters
_STORED = sa.select(*_STORED_COLUMNS).where(sa.or_(
    _FIRING_IN_SCOPE, s.c.fingerprint.in_(sa.bindparam("b_fps", expanding=True))))


@functools.lru_cache(maxsize=32)
def _stored_query(count: int) -> sa.Select[Any]:
    """``_STORED`` with ``count`` plain parameters in place of the expanding list (which is rendered
    again at every execution): a scope syncs the same few alerts again and again."""
    fps = [sa.bindparam(f"b_fp{i}", type_=s.c.fingerprint.type) for i in range(count)]
    return sa.select(*_STORED_COLUMNS).where(sa.or_(_FIRING_IN_SCOPE, s.c.fingerprint.in_(fps)))


def _read_stored(conn: sa.Connection, scope: str, fps: list[str]) -> dict[str, Any]:
    """The state rows of ``scope``'s firing alerts and of ``fps`` (wherever they are), by fingerprint."""
    if 0 < len(fps) <= _FIXED:
        params: dict[str, Any] = {"b_scope": scope, **{f"b_fp{i}": fp for i, fp in enumerate(fps)}}
        rows = conn.execute(_stored_query(len(fps)), params)
    else:
        rows = conn.execute(_STORED, {"b_scope": scope, "b_fps": fps})
    return {row.fingerprint: row for row in rows}


_BY_FP = s.c.fingerprint == sa.bindparam("b_fp")
_INSERT = s.insert()
_REFRESH = s.update().where(_BY_FP)  # annotations, scope, updated_at
_REFIRE = s.update().where(_BY_FP)  # every column: a new episode
_RESOLVE = s.update().where(_BY_FP).values(status="resolved", ends_at=sa.bindparam("b_ends"),
                                           updated_at=sa.bindparam("b_now"), last_notified_status=None)


@dataclass(frozen=True)
class Notification:
    """A state change of one alert, for one route it matched: it will be judged in ``group_key``."""

    status: Status
    fingerprint: str
    receiver: str
    group_key: str
    labels: Mapping[str, str] = field(default_factory=dict)


class AlertService:
    def __init__(
        self, engine: sa.Engine, route: Route, receivers: Sequence[Receiver], clock: Clock,
        after_sync: Callable[[], object] | None = None,
    ) -> None:
        """``after_sync`` runs after a committed sync that made a group due at once (the daemon passes
        the dispatcher's ``flush``, so a ``group_wait: 0s`` group is judged without delay)."""
        self._receivers = {r.name: r for r in receivers}
        missing = referenced_receivers(route) - set(self._receivers)
        if missing:
            raise ValueError(f"routes name receivers that are not defined: {', '.join(sorted(missing))}")
        if route.receiver is None:
            raise ValueError("the root route needs a receiver")
        self._engine = engine
        self._route = route
        self._clock = clock
        self._after_sync = after_sync
        self._routing = RouteCache(route)  # routes and group keys, remembered

    def sync(self, scope: str, firing: Sequence[Alert]) -> list[Notification]:
        """Make ``firing`` the set of firing alerts of ``scope``; return the state changes by route.

        An alert passed with ``ends_at`` already past counts as absent (it resolves at its own
        ``ends_at``). An alert firing again after it resolved starts a new episode: at its own
        ``starts_at`` if that is after the previous end, else now.
        """
        now = self._clock()
        current: dict[str, Alert] = {}
        ended: dict[str, Alert] = {}
        for alert in firing:
            (ended if alert.is_resolved(now) else current)[alert.fingerprint] = alert
        changes: list[tuple[Status, Alert]] = []
        writes = _StateWrites()
        with begin_write(self._engine) as conn:
            stored = _read_stored(conn, scope, list(current))
            memberships: list[groups.Membership] = []
            for fp, alert in current.items():
                row = stored.get(fp)
                if row is not None and row.status == "firing":
                    writes.refresh(row, alert, scope, now)
                    episode = alert.with_times(row.starts_at)
                else:
                    starts_at = alert.starts_at
                    if row is not None and (row.ends_at is None or starts_at <= row.ends_at):
                        starts_at = now
                    writes.fire(alert, scope, starts_at, now, exists=row is not None)
                    episode = alert.with_times(starts_at)
                    changes.append(("firing", episode))
                # Every firing alert is (re)placed in its groups: after a restart or a config change
                # it joins the groups its routes now give.
                started = row is None or row.status != "firing"
                memberships += self._memberships(episode, started)
            gone = [fp for fp, row in stored.items()
                    if fp not in current and row.scope == scope and row.status == "firing"]
            labels = labelcache.lookup(gone, lambda fps: groups.read_labels(conn, fps)) if gone else {}
            for fp in gone:
                row = stored[fp]
                ends_at = ended[fp].ends_at if fp in ended else now
                writes.resolves.append({"b_fp": fp, "b_ends": ends_at, "b_now": now})
                resolved = Alert.restore(labels[fp], row.annotations, row.starts_at, ends_at, fp)
                changes.append(("resolved", resolved))
                # Normally already a member; after an upgrade from a version without groups it is not.
                memberships += self._memberships(resolved, True)
            writes.apply(conn)
            due_now = groups.join(conn, now, memberships)
        out: list[Notification] = [
            Notification("resolved" if m.alert.ends_at is not None else "firing", m.alert.fingerprint,
                         m.route.receiver, m.group_key, plain(m.alert.labels))
            for m in memberships if m.changed]
        if changes:
            log.info("alerts_synced", scope=scope, firing=len(current),
                     started=sum(status == "firing" for status, _ in changes),
                     resolved=sum(status == "resolved" for status, _ in changes))
        if due_now:
            self._flush_now(scope)
        return out

    def _flush_now(self, scope: str) -> None:
        if self._after_sync is None:
            return
        try:
            self._after_sync()
        except Exception:
            # The state change is committed; the next delivery tick judges the group.
            log.exception("flush_after_sync_failed", scope=scope)

    def _memberships(self, alert: Alert, changed: bool) -> list[groups.Membership]:
        labels = alert.labels
        assert isinstance(labels, LabelSet)  # noqa: S101 - Alert makes its labels a LabelSet
        labelcache.remember(alert.fingerprint, labels)  # the flush that judges its groups needs them
        return [groups.Membership(r, alert, changed, self._routing.group_key(r, labels))
                for r in self._routing.routes(labels)]

    def firing(self, scope: str | None = None) -> list[Alert]:
        """Currently firing alerts, in one scope or all, ordered by scope then fingerprint."""
        query = sa.select(s).where(s.c.status == "firing").order_by(s.c.scope, s.c.fingerprint)
        if scope is not None:
            query = query.where(s.c.scope == scope)
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [Alert(row.labels, row.annotations, row.starts_at, row.ends_at) for row in rows]


@dataclass
class _StateWrites:
    """The state rows one sync changes, written with one ``executemany`` per kind of change."""

    refreshes: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    resolves: list[dict[str, Any]] = field(default_factory=list)
    inserts: list[dict[str, Any]] = field(default_factory=list)

    def refresh(self, row: Any, alert: Alert, scope: str, now: datetime) -> None:
        """Still firing: keep the episode, take new annotations (and the scope, if it moved)."""
        if row.annotations != plain(alert.annotations) or row.scope != scope:
            self.refreshes.append({"b_fp": row.fingerprint, "annotations": plain(alert.annotations), "scope": scope,
                                   "updated_at": now})

    def fire(self, alert: Alert, scope: str, starts_at: datetime, now: datetime, *, exists: bool) -> None:
        values = {"labels": plain(alert.labels), "annotations": plain(alert.annotations), "scope": scope,
                  "status": "firing", "starts_at": starts_at, "ends_at": None, "updated_at": now,
                  "last_notified_status": None}
        if exists:
            self.updates.append({"b_fp": alert.fingerprint, **values})
        else:
            self.inserts.append({"fingerprint": alert.fingerprint, **values})

    def apply(self, conn: sa.Connection) -> None:
        for statement, params in ((_REFRESH, self.refreshes), (_REFIRE, self.updates), (_RESOLVE, self.resolves),
                                  (_INSERT, self.inserts)):
            if params:
                conn.execute(statement, params)
