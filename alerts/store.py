"""The alerts package's view of the state database: one engine, one clock, the stores on them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

from alerts.acks import EscalationStore
from alerts.channels.refs import MessageRefs
from alerts.silences import SilenceStore
from config.basics.clock import Clock


@dataclass(frozen=True)
class AlertStore:
    engine: sa.Engine
    clock: Clock

    def silences(self, retention: timedelta = timedelta(days=5)) -> SilenceStore:
        return SilenceStore(self.engine, self.clock, retention)

    def escalations(self) -> EscalationStore:
        return EscalationStore(self.engine, self.clock)

    def message_refs(self) -> MessageRefs:
        return MessageRefs(self.engine, self.clock)
