"""Message references a channel keeps to update what it sent (Slack's channel id and ``ts``).

Keyed by group, receiver and channel, in the state database, so a resolve after a restart still
updates the message that announced the alert.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import sqlalchemy as sa

from alerts.schema import alerts_message_refs as t
from config.basics.clock import Clock, utc_now
from config.basics.sql import begin_write


@dataclass(frozen=True)
class MessageRef:
    channel: str
    ts: str


def ref_key(group: str, receiver: str, kind: str, index: int) -> str:
    return hashlib.sha256("\x1f".join((group, receiver, kind, str(index))).encode()).hexdigest()


class MessageRefs:
    def __init__(self, engine: sa.Engine, clock: Clock = utc_now) -> None:
        self._engine = engine
        self._clock = clock

    def get(self, key: str) -> MessageRef | None:
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(t.c.channel, t.c.ts).where(t.c.ref_key == key)).first()
        return None if row is None else MessageRef(row.channel, row.ts)

    def put(self, key: str, ref: MessageRef) -> None:
        with begin_write(self._engine) as conn:
            conn.execute(t.delete().where(t.c.ref_key == key))
            conn.execute(t.insert().values(ref_key=key, channel=ref.channel, ts=ref.ts, updated_at=self._clock()))

    def forget(self, key: str) -> None:
        with begin_write(self._engine) as conn:
            conn.execute(t.delete().where(t.c.ref_key == key))
