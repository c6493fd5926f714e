"""The alerts package's view of the state database: one engine, one clock, the stores on them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from alerts.acks import EscalationStore
from alerts.channels.refs import MessageRefs
from alerts.silences import SilenceStore


@dataclass(frozen=True)
class AlertStore:
    engine: sa.Engine
    clock: Callable[[], datetime]

    def silences(self, retention: timedelta = timedelta(days=5)) -> SilenceStore:
        return SilenceStore(self.engine, self.clock, retention)

    def escalations(self) -> EscalationStore:
        return EscalationStore(self.engine, self.clock)

    def message_refs(self) -> MessageRefs:
        return MessageRefs(self.engine, self.clock)
