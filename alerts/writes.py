"""The writes of one flush batch, collected by the stages and applied together at its end.

A batch of due groups is judged in one transaction either way; collecting its outbox rows, log
entries and group updates turns a few statements per group into a few statements per batch (bulk
``executemany``), which is what lets the decision path keep up with thousands of alerts a second.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from alerts.nflog import Entry
from alerts.schema import alerts_escalations as e
from alerts.schema import alerts_group_members as m
from alerts.schema import alerts_groups as g
from alerts.schema import alerts_nflog as n
from alerts.schema import alerts_outbox as o


@dataclass
class Writes:
    outbox: list[dict[str, Any]] = field(default_factory=list)
    log_inserts: list[dict[str, Any]] = field(default_factory=list)
    log_updates: list[dict[str, Any]] = field(default_factory=list)
    reschedules: list[dict[str, Any]] = field(default_factory=list)
    drops: list[dict[str, Any]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    escalations: list[dict[str, Any]] = field(default_factory=list)  # opened in this batch

    def log(self, group_id: str, receiver: str, group_key: str, entry: Entry, exists: bool) -> None:
        values = {"firing": sorted(entry.firing), "resolved": sorted(entry.resolved),
                  "notified_at": entry.notified_at, "reason": entry.reason, "group_key": group_key}
        if exists:
            self.log_updates.append({"b_group": group_id, "b_receiver": receiver, **values})
        else:
            self.log_inserts.append({"group_id": group_id, "receiver": receiver, **values})

    def after_flush(self, group_id: str, now: datetime, next_at: datetime, drop: list[str], members: int) -> bool:
        """Drop the judged resolved alerts; reschedule the group, or delete it when none are left.
        Returns ``False`` when the group will be deleted."""
        self.drops += [{"b_group": group_id, "b_fp": fp} for fp in drop]
        if members - len(drop) <= 0:
            self.deleted.append(group_id)
            return False
        self.reschedules.append({"b_group": group_id, "next_flush_at": next_at, "last_flush_at": now})
        return True

    def apply(self, conn: sa.Connection) -> None:
        for statement, params in ((_OUTBOX, self.outbox), (_LOG_INSERT, self.log_inserts),
                                  (_LOG_UPDATE, self.log_updates), (_RESCHEDULE, self.reschedules),
                                  (_DROP, self.drops), (_ESCALATION, self.escalations)):
            if params:
                conn.execute(statement, params)
        if self.deleted:
            for statement in _DELETE_GROUP:
                conn.execute(statement, {"b_ids": self.deleted})


# Built once: executing a cached statement costs a fraction of building one.
_OUTBOX = o.insert()
_LOG_INSERT = n.insert()
_LOG_UPDATE = n.update().where(n.c.group_id == sa.bindparam("b_group"), n.c.receiver == sa.bindparam("b_receiver"))
_RESCHEDULE = g.update().where(g.c.id == sa.bindparam("b_group"))
_DROP = m.delete().where(m.c.group_id == sa.bindparam("b_group"), m.c.fingerprint == sa.bindparam("b_fp"))
_ESCALATION = e.insert()
_DELETE_GROUP = tuple(table.delete().where(column.in_(sa.bindparam("b_ids", expanding=True)))
                      for table, column in ((m, m.c.group_id), (g, g.c.id), (n, n.c.group_id)))
