"""The notification log: per group and receiver, what the last notification said and when.

Durable (a table in the state database, written in the transaction that enqueues the
notification), so a restart loses neither a resolve nor the knowledge that something was sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from alerts.schema import alerts_nflog as t


@dataclass(frozen=True)
class Entry:
    firing: frozenset[str]
    resolved: frozenset[str]
    notified_at: datetime
    reason: str


def get(conn: sa.Connection, group_id: str, receiver: str) -> Entry | None:
    row = conn.execute(sa.select(t).where(t.c.group_id == group_id, t.c.receiver == receiver)).first()
    if row is None:
        return None
    return Entry(frozenset(row.firing), frozenset(row.resolved), row.notified_at, row.reason)


_OF_GROUPS = sa.select(t).where(t.c.group_id.in_(sa.bindparam("b_ids", expanding=True)))


def get_many(conn: sa.Connection, group_ids: Sequence[str]) -> dict[tuple[str, str], Entry]:
    """Every entry of these groups, by (group id, receiver)."""
    if not group_ids:
        return {}
    rows = conn.execute(_OF_GROUPS, {"b_ids": list(group_ids)}).all()
    return {(row.group_id, row.receiver): Entry(frozenset(row.firing), frozenset(row.resolved), row.notified_at,
                                                row.reason) for row in rows}


def put(conn: sa.Connection, group_id: str, receiver: str, group_key: str, entry: Entry,
        exists: bool | None = None) -> None:
    """Write the entry; ``exists`` (when the caller knows) saves the update that finds nothing."""
    values = {"group_key": group_key, "firing": sorted(entry.firing), "resolved": sorted(entry.resolved),
              "notified_at": entry.notified_at, "reason": entry.reason}
    if exists is not False:
        updated = conn.execute(t.update().where(t.c.group_id == group_id, t.c.receiver == receiver).values(**values))
        if updated.rowcount:
            return
    conn.execute(t.insert().values(group_id=group_id, receiver=receiver, **values))
