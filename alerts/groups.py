"""Aggregation groups, kept in the state database so that their timers survive a restart.

An alert joins one group per route it matches: the route's path plus the values of its
``group_by`` labels (Alertmanager's group key). A new group is due after ``group_wait``. A change
(an alert fires or resolves) makes it due again ``group_interval`` after its last flush (at once
when that has passed); an unchanged firing group is due when its ``repeat_interval`` runs out, and a
muted one at every ``group_interval``. So idle groups cost nothing, and a group is never notified
twice within ``group_interval``. Resolved alerts leave their groups once a flush has judged them,
and a group with no alerts left is deleted.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from alerts.model import Alert
from alerts.routing import ResolvedRoute
from alerts.schema import alerts_group_members as m
from alerts.schema import alerts_groups as g
from alerts.schema import alerts_state as s


def group_id(route: ResolvedRoute, group_key: str) -> str:
    """20 hex digits, stable across restarts: the route's path (siblings may share matchers) and key."""
    return hashlib.sha256(f"{route.path_text}\x1f{group_key}".encode()).hexdigest()[:20]


@dataclass(frozen=True)
class Group:
    id: str
    group_key: str
    route_path: str
    receiver: str
    labels: dict[str, str]
    created_at: datetime
    next_flush_at: datetime
    last_flush_at: datetime | None

    @classmethod
    def from_row(cls, row: Any) -> Group:
        return cls(row.id, row.group_key, row.route_path, row.receiver, dict(row.labels), row.created_at,
                   row.next_flush_at, row.last_flush_at)


@dataclass(frozen=True)
class Membership:
    route: ResolvedRoute
    alert: Alert
    changed: bool = False  # the alert started firing or resolved in this sync
    group_key: str = ""  # route.group_key(alert.labels), when the caller has it already

    def key(self) -> str:
        return self.group_key or self.route.group_key(self.alert.labels)


def join(conn: sa.Connection, now: datetime, memberships: Iterable[Membership]) -> bool:
    """Put each alert in its route's group, making groups as needed, and mark the groups whose
    alerts changed; returns whether a group is due now (so the caller may flush at once)."""
    wanted: dict[tuple[str, str], Membership] = {}
    groups: dict[str, tuple[str, Membership]] = {}
    for item in memberships:
        key = item.key()
        gid = group_id(item.route, key)
        wanted[(gid, item.alert.fingerprint)] = item
        groups.setdefault(gid, (key, item))
    if not wanted:
        return False
    ids = list(groups)
    existing_groups = set(conn.execute(sa.select(g.c.id).where(g.c.id.in_(ids))).scalars())
    fps = list({fp for _, fp in wanted})
    existing = {(row.group_id, row.fingerprint) for row in conn.execute(
        sa.select(m.c.group_id, m.c.fingerprint).where(m.c.group_id.in_(ids), m.c.fingerprint.in_(fps)))}
    created = [gid for gid in ids if gid not in existing_groups]
    due_now = _mark_changed(conn, now, {gid: item for (gid, _), item in wanted.items()
                                        if item.changed and gid in existing_groups})
    if created:
        conn.execute(g.insert(), [
            {"id": gid, "group_key": groups[gid][0], "route_path": groups[gid][1].route.path_text,
             "receiver": groups[gid][1].route.receiver,
             "labels": groups[gid][1].route.group_labels(groups[gid][1].alert.labels), "created_at": now,
             "next_flush_at": now + groups[gid][1].route.timers.group_wait, "last_flush_at": None}
            for gid in created
        ])
    missing = [{"group_id": gid, "fingerprint": fp, "added_at": now}
               for (gid, fp) in wanted if (gid, fp) not in existing]
    if missing:
        conn.execute(m.insert(), missing)
    return due_now or any(groups[gid][1].route.timers.group_wait.total_seconds() <= 0 for gid in created)


def _mark_changed(conn: sa.Connection, now: datetime, changed: dict[str, Membership]) -> bool:
    """A changed group is due ``group_interval`` after its last flush, or now if that has passed."""
    if not changed:
        return False
    due_now = False
    rows = conn.execute(sa.select(g.c.id, g.c.next_flush_at, g.c.last_flush_at).where(g.c.id.in_(list(changed))))
    for row in rows:
        if row.last_flush_at is None:
            continue  # still in its group_wait
        due_at = max(now, row.last_flush_at + changed[row.id].route.timers.group_interval)
        if due_at < row.next_flush_at:
            conn.execute(g.update().where(g.c.id == row.id).values(next_flush_at=due_at))
        due_now = due_now or min(due_at, row.next_flush_at) <= now
    return due_now


def due(conn: sa.Connection, now: datetime, limit: int) -> list[Group]:
    rows = conn.execute(sa.select(g).where(g.c.next_flush_at <= now)
                        .order_by(g.c.next_flush_at, g.c.id).limit(limit))
    return [Group.from_row(row) for row in rows]


def members(conn: sa.Connection, group_ids: Sequence[str]) -> dict[str, list[Alert]]:
    """The alerts of each group (firing, and resolved ones not yet judged), by fingerprint order."""
    out: dict[str, list[Alert]] = defaultdict(list)
    if not group_ids:
        return out
    query = (sa.select(m.c.group_id, m.c.fingerprint, s.c.labels, s.c.annotations, s.c.starts_at, s.c.ends_at,
                       s.c.status)
             .join(s, s.c.fingerprint == m.c.fingerprint)
             .where(m.c.group_id.in_(list(group_ids)))
             .order_by(m.c.group_id, m.c.fingerprint))
    for row in conn.execute(query):
        out[row.group_id].append(Alert.restore(row.labels, row.annotations, row.starts_at,
                                               row.ends_at if row.status == "resolved" else None, row.fingerprint))
    return out
