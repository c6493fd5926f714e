"""Dead letters are never silent: each one raises a meta-alert to the fallback receiver.

The hook runs inside the transaction that marks the row dead. The meta-alert
(``alertname="NotificationDeadLettered"``) names the receiver, channel and reason, and goes to every
channel of ``alerting.fallback_receiver`` straight through the outbox. A dead letter of the
fallback receiver itself (or of a test notification) is only logged, so nothing loops.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import structlog

from alerts.fanout import enqueue_to_receiver, idempotency_key
from alerts.model import Alert
from alerts.outbox import OutboxRow
from alerts.payload import build_payload
from config.receivers import Receiver

log = structlog.get_logger(__name__)

META_ALERTNAME = "NotificationDeadLettered"


def forwarded(fallback: str | None, receiver: str, payload: Mapping[str, Any]) -> bool:
    """Whether a dead row of ``receiver`` raises a meta-alert to the ``fallback`` receiver: not when
    there is none, not for the fallback's own rows, not for test notifications (the sender sees those)."""
    return fallback is not None and receiver != fallback and payload.get("kind") != "test"


class DeadLetters:
    def __init__(self, fallback: Receiver | None) -> None:
        self._fallback = fallback

    def __call__(self, conn: sa.Connection, row: OutboxRow, reason: str, now: datetime) -> None:
        fields = {"outbox_id": row.id, "receiver": row.receiver, "channel": row.channel_kind,
                  "channel_index": row.channel_index, "reason": reason}
        fallback = self._fallback
        if fallback is None or not forwarded(fallback.name, row.receiver, row.payload):
            log.error("dead_letter_not_forwarded", fallback=fallback.name if fallback else None, **fields)
            return
        alert = Alert(
            labels={"alertname": META_ALERTNAME, "severity": "high", "receiver": row.receiver,
                    "channel": row.channel_kind},
            annotations={"summary": f"a notification to {row.receiver} ({row.channel_kind} #{row.channel_index}) "
                                    "could not be delivered", "reason": reason,
                         "group_key": str(row.payload.get("groupKey", "")), "outbox_id": str(row.id)},
            starts_at=now)
        payload = build_payload(fallback.name, [alert], f"lakewarden/dead-letters:{row.receiver}", now=now,
                                kind="meta", reason="dead_letter")
        ids = enqueue_to_receiver(conn, now=now, receiver=fallback, payload=payload,
                                  key=idempotency_key("dead-letter", str(row.id)))
        log.error("dead_letter_forwarded", fallback=fallback.name, meta_rows=ids, **fields)
