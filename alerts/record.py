"""The last stage: the notification log entry and the outbox rows, written with the flush's batch
(``alerts.writes``), in its transaction."""

from __future__ import annotations

from collections.abc import Mapping

from alerts import nflog
from alerts.fanout import idempotency_key, outbox_rows
from alerts.model import Alert, iso
from alerts.payload import build_payload
from alerts.stage import FlushContext
from config.receivers import Receiver


class RecordStage:
    def __init__(self, receivers: Mapping[str, Receiver]) -> None:
        self._receivers = receivers

    def __call__(self, ctx: FlushContext, alerts: list[Alert]) -> list[Alert]:
        reason = ctx.trace.final()
        group = ctx.group
        payload = build_payload(ctx.receiver.name, alerts, group.group_key, now=ctx.now, reason=reason.value,
                                group_id=group.id, group_labels=group.labels)
        # Unique per group, flush time and reason: a group is judged once per flush (it is rescheduled
        # in the same transaction), so these rows can be inserted in bulk without a lookup.
        key = idempotency_key("group", group.id, iso(ctx.now), reason.value)
        rows = outbox_rows(now=ctx.now, receiver=ctx.receiver, payload=payload, key=key)
        ctx.writes.outbox.extend(rows)
        firing = frozenset(a.fingerprint for a in alerts if not a.is_resolved(ctx.now))
        resolved = frozenset(a.fingerprint for a in alerts if a.is_resolved(ctx.now))
        ctx.writes.log(group.id, ctx.receiver.name, group.group_key,
                       nflog.Entry(firing, resolved, ctx.now, reason.value), exists=ctx.trace.last_notified is not None)
        ctx.trace.outbox_rows += len(rows)
        return alerts
