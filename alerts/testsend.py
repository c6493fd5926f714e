"""``lakewarden alerts test RECEIVER``: a clearly marked test notification through the real path.

The test payload (``kind: test``, ``alertname="LakewardenTest"``, severity info) is enqueued in the
outbox for every channel of the receiver, then sent at once by the delivery worker of ``delivery``
(built by the composition root, ``monitor.app.build_notifier``): the channels, their templates and
their failure classification, the outbox's retry policy and its dead-letter hook are the daemon's.
A failure is not retried: the row goes dead with the reason (for ``alerts outbox``) through the
dead-letter hook, which only logs a test notification (no meta-alert to the fallback receiver).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from alerts.channels.base import Delivered, Permanent
from alerts.fanout import enqueue_to_receiver, idempotency_key
from alerts.model import Alert
from alerts.payload import build_payload
from alerts.pipeline import Notifier
from alerts.store import AlertStore
from config.basics.sql import begin_write
from config.receivers import Receiver

TEST_ALERTNAME = "LakewardenTest"


@dataclass(frozen=True)
class TestOutcome:
    kind: str
    index: int
    outcome: str  # delivered | permanent failure | retryable failure
    detail: str


def send_test(store: AlertStore, delivery: Notifier, receiver: Receiver) -> list[TestOutcome]:
    """Enqueue the test notification on ``store`` and send it now through ``delivery`` (its outbox,
    channels and worker); one outcome per channel of ``receiver``."""
    now = store.clock()
    token = uuid.uuid4().hex
    alert = Alert(
        labels={"alertname": TEST_ALERTNAME, "severity": "info", "receiver": receiver.name},
        annotations={"summary": f"Test notification from lakewarden to receiver {receiver.name}: "
                                "if you can read this, the channel works. No action needed."},
        starts_at=now)
    payload = build_payload(receiver.name, [alert], f"lakewarden/test:{token}", now=now, kind="test",
                            reason="test", group_id=token[:20])
    with begin_write(store.engine) as conn:
        ids = enqueue_to_receiver(conn, now=now, receiver=receiver, payload=payload, key=idempotency_key("test", token))
    rows = {row.id: row for row in delivery.outbox.rows() if row.id in set(ids)}
    out = []
    for row_id, result in sorted(delivery.worker.send_now(ids).items()):
        row = rows[row_id]
        if isinstance(result, Delivered):
            out.append(TestOutcome(row.channel_kind, row.channel_index, "delivered", result.detail))
        else:
            kind = "permanent failure" if isinstance(result, Permanent) else "retryable failure"
            out.append(TestOutcome(row.channel_kind, row.channel_index, kind, result.reason))
    return out
