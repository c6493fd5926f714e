"""``lakewarden alerts test RECEIVER``: a clearly marked test notification through the real path.

The test payload (``kind: test``, ``alertname="LakewardenTest"``, severity info) is enqueued in the
outbox for every channel of the receiver, then sent at once by a delivery worker: the channels,
their templates and their failure classification are the ones the daemon uses. A failure is not
retried (the row is kept as dead, with the reason, for ``alerts outbox``) and raises no meta-alert.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass

import sqlalchemy as sa

from alerts.channels.base import Delivered, Permanent
from alerts.channels.refs import MessageRefs
from alerts.channels.registry import build_channels
from alerts.delivery import DeliveryWorker
from alerts.fanout import enqueue_to_receiver, idempotency_key
from alerts.model import Alert
from alerts.outbox import Outbox
from alerts.payload import build_payload
from config.basics.clock import Clock, utc_now
from config.basics.sql import begin_write
from config.receivers import Receiver

TEST_ALERTNAME = "LakewardenTest"


@dataclass(frozen=True)
class TestOutcome:
    kind: str
    index: int
    outcome: str  # delivered | permanent failure | retryable failure
    detail: str


def send_test(engine: sa.Engine, receiver: Receiver,
              clock: Clock = utc_now) -> list[TestOutcome]:
    now = clock()
    token = uuid.uuid4().hex
    alert = Alert(
        labels={"alertname": TEST_ALERTNAME, "severity": "info", "receiver": receiver.name},
        annotations={"summary": f"Test notification from lakewarden to receiver {receiver.name}: "
                                "if you can read this, the channel works. No action needed."},
        starts_at=now)
    payload = build_payload(receiver.name, [alert], f"lakewarden/test:{token}", now=now, kind="test",
                            reason="test", group_id=token[:20])
    with begin_write(engine) as conn:
        ids = enqueue_to_receiver(conn, now=now, receiver=receiver, payload=payload, key=idempotency_key("test", token))
    outbox = Outbox(engine, clock)
    rows = {row.id: row for row in outbox.rows() if row.id in set(ids)}
    worker = DeliveryWorker(outbox, build_channels([receiver], clock, MessageRefs(engine, clock)), clock,
                            worker_id=f"alerts-test-{os.getpid()}")
    out = []
    for row_id, result in sorted(worker.send_now(ids).items()):
        row = rows[row_id]
        if isinstance(result, Delivered):
            out.append(TestOutcome(row.channel_kind, row.channel_index, "delivered", result.detail))
        else:
            kind = "permanent failure" if isinstance(result, Permanent) else "retryable failure"
            out.append(TestOutcome(row.channel_kind, row.channel_index, kind, result.reason))
    return out
