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

import functools
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa

from alerts import labelcache
from alerts.model import Alert
from alerts.routing import ResolvedRoute
from alerts.schema import alerts_group_members as m
from alerts.schema import alerts_groups as g
from alerts.schema import alerts_state as s
from alerts.upsert import insert_new, insert_new_returning


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


class Membership(NamedTuple):  # a tuple: a sync makes one per alert and route
    route: ResolvedRoute
    alert: Alert
    changed: bool = False  # the alert started firing or resolved in this sync
    group_key: str = ""  # route.group_key(alert.labels), when the caller has it already

    def key(self) -> str:
        return self.group_key or self.route.group_key(self.alert.labels)


def join(conn: sa.Connection, now: datetime, memberships: Iterable[Membership]) -> bool:
    """Put each alert in its route's group, making groups as needed, and mark the groups whose
    alerts changed; returns whether a group is due now (so the caller may flush at once).

    Groups and memberships are inserted with ``ON CONFLICT DO NOTHING`` (``alerts.upsert``), so
    nothing is read first; only groups that were there before and gained or lost an alert are read
    (their timers), and none when the insert's row count says every group is new."""
    wanted: dict[tuple[str, str], Membership] = {}
    groups: dict[str, tuple[str, Membership]] = {}
    ids: dict[tuple[tuple[int, ...], str], str] = {}
    for item in memberships:
        key = item.key()
        gid = ids.get((item.route.path, key))
        if gid is None:
            gid = ids[(item.route.path, key)] = group_id(item.route, key)
        wanted[(gid, item.alert.fingerprint)] = item
        groups.setdefault(gid, (key, item))
    if not wanted:
        return False
    values = [{"id": gid, "group_key": key, "route_path": item.route.path_text, "receiver": item.route.receiver,
               "labels": item.route.group_labels(item.alert.labels), "created_at": now,
               "next_flush_at": now + item.route.timers.group_wait, "last_flush_at": None}
              for gid, (key, item) in groups.items()]
    changed = {gid: item for (gid, _), item in wanted.items() if item.changed}
    if any(item.route.timers.group_wait.total_seconds() <= 0 for _, item in groups.values()):
        # A group made now with no group_wait is due at once: which groups are new matters.
        created = {key[0] for key in insert_new_returning(conn, g, values)}
        due_now = any(groups[gid][1].route.timers.group_wait.total_seconds() <= 0 for gid in created)
    else:
        # A group made now is in its group_wait (changes do not move it), so only the groups that were
        # there before are marked; if every group is new (the row count says so), none is.
        made = insert_new(conn, g, values)
        created = set(groups) if made == len(groups) else set()
        due_now = False
    insert_new(conn, m, [{"group_id": gid, "fingerprint": fp, "added_at": now} for (gid, fp) in wanted])
    changed = {gid: item for gid, item in changed.items() if gid not in created}
    return _mark_changed(conn, now, changed) or due_now


_CHANGED = (sa.select(g.c.id, g.c.next_flush_at, g.c.last_flush_at)
            .where(g.c.id.in_(sa.bindparam("b_ids", expanding=True))))
_RESCHEDULE = g.update().where(g.c.id == sa.bindparam("b_id")).values(next_flush_at=sa.bindparam("b_at"))


def _mark_changed(conn: sa.Connection, now: datetime, changed: dict[str, Membership]) -> bool:
    """A changed group is due ``group_interval`` after its last flush, or now if that has passed."""
    if not changed:
        return False
    due_now = False
    sooner: list[dict[str, Any]] = []
    for row in conn.execute(_CHANGED, {"b_ids": list(changed)}):
        if row.last_flush_at is None:
            continue  # still in its group_wait
        due_at = max(now, row.last_flush_at + changed[row.id].route.timers.group_interval)
        if due_at < row.next_flush_at:
            sooner.append({"b_id": row.id, "b_at": due_at})
        due_now = due_now or min(due_at, row.next_flush_at) <= now
    if sooner:
        conn.execute(_RESCHEDULE, sooner)
    return due_now


@functools.cache
def _due_query(limit: int) -> sa.Select[Any]:
    return (sa.select(g).where(g.c.next_flush_at <= sa.bindparam("b_now"))
            .order_by(g.c.next_flush_at, g.c.id).limit(limit))


def due(conn: sa.Connection, now: datetime, limit: int) -> list[Group]:
    return [Group.from_row(row) for row in conn.execute(_due_query(limit), {"b_now": now}).all()]


_MEMBERS = (sa.select(m.c.group_id, m.c.fingerprint, s.c.annotations, s.c.starts_at, s.c.ends_at, s.c.status)
            .join(s, s.c.fingerprint == m.c.fingerprint)
            .where(m.c.group_id.in_(sa.bindparam("b_ids", expanding=True)))
            .order_by(m.c.group_id, m.c.fingerprint))
_LABELS = sa.select(s.c.fingerprint, s.c.labels).where(s.c.fingerprint.in_(sa.bindparam("b_fps", expanding=True)))
_CHUNK = 500


def members(conn: sa.Connection, group_ids: Sequence[str]) -> dict[str, list[Alert]]:
    """The alerts of each group (firing, and resolved ones not yet judged), by fingerprint order."""
    out: dict[str, list[Alert]] = defaultdict(list)
    if not group_ids:
        return out
    rows = conn.execute(_MEMBERS, {"b_ids": list(group_ids)}).all()
    labels = labelcache.lookup({row.fingerprint for row in rows}, lambda fps: read_labels(conn, fps))
    for group, fp, notes, starts_at, ends_at, status in rows:
        out[group].append(Alert.restore(labels[fp], notes, starts_at, ends_at if status == "resolved" else None, fp))
    return out


def read_labels(conn: sa.Connection, fingerprints: Sequence[str]) -> list[tuple[str, Any]]:
    """``(fingerprint, labels)`` from the state table."""
    out: list[tuple[str, Any]] = []
    for start in range(0, len(fingerprints), _CHUNK):
        out += [(row.fingerprint, row.labels)
                for row in conn.execute(_LABELS, {"b_fps": list(fingerprints[start:start + _CHUNK])}).all()]
    return out
