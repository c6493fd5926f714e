"""Dedup against the notification log (docs/external/alertmanager-semantics.md, "Dedup decision").

In this order: (1) no log entry: notify if anything fires (``first``), else nothing; (2) a firing
alert the last notification did not have: ``new_alerts`` (``first`` when the last one had nothing
firing, i.e. the group fires again); (3) nothing fires: ``all_resolved`` if the last notification
had firing alerts (whatever ``send_resolved`` says, so the log forgets them); (4) ``send_resolved``
and a resolved alert the last notification did not list as resolved: ``resolved``; (5) the last
notification is older than ``repeat_interval``: ``repeat``. Else ``suppressed``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa

from alerts import nflog
from alerts.decision import Reason
from alerts.fanout import sends_resolved
from alerts.model import Alert
from alerts.stage import FlushContext


def decide(entry: nflog.Entry | None, firing: frozenset[str], resolved: frozenset[str], *,
           send_resolved: bool, repeat_interval: timedelta, now: datetime) -> Reason:
    if entry is None:
        return Reason.FIRST if firing else Reason.SUPPRESSED
    if not firing <= entry.firing:
        return Reason.NEW_ALERTS if entry.firing else Reason.FIRST
    if not firing:
        return Reason.ALL_RESOLVED if entry.firing else Reason.SUPPRESSED
    if send_resolved and not resolved <= entry.resolved:
        return Reason.RESOLVED
    if entry.notified_at <= now - repeat_interval:
        return Reason.REPEAT
    return Reason.SUPPRESSED


class DedupStage:
    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], nflog.Entry] = {}
        self._prefetched: set[str] = set()

    def prefetch(self, conn: sa.Connection, group_ids: Sequence[str]) -> None:
        self._entries = nflog.get_many(conn, group_ids)
        self._prefetched = set(group_ids)

    def __call__(self, ctx: FlushContext, alerts: list[Alert]) -> list[Alert]:
        firing = frozenset(a.fingerprint for a in alerts if not a.is_resolved(ctx.now))
        resolved = frozenset(a.fingerprint for a in alerts if a.is_resolved(ctx.now))
        if ctx.group.id in self._prefetched:
            entry = self._entries.get((ctx.group.id, ctx.receiver.name))
        else:
            entry = nflog.get(ctx.conn, ctx.group.id, ctx.receiver.name)
        reason = decide(entry, firing, resolved, send_resolved=sends_resolved(ctx.receiver),
                        repeat_interval=ctx.route.timers.repeat_interval, now=ctx.now)
        ctx.trace.decide(reason, len(firing), len(resolved))
        ctx.trace.last_notified = entry.notified_at if entry is not None else None
        return alerts if reason.notifies else []
