"""A stage of the notification path: one verb, ``__call__(ctx, alerts) -> alerts that go on``.

Alertmanager's ``notify.Stage`` in Python. ``ctx`` is frozen; what stages decide goes into its
``trace``. A stage that returns no alerts ends the flush of that group.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

import sqlalchemy as sa

from alerts.decision import Trace
from alerts.groups import Group
from alerts.model import Alert
from alerts.routing import ResolvedRoute
from alerts.writes import Writes
from config.receivers import Receiver


@dataclass(frozen=True)
class FlushContext:
    now: datetime
    group: Group
    route: ResolvedRoute
    receiver: Receiver
    conn: sa.Connection  # the flush's write transaction: decisions and outbox rows commit together
    trace: Trace
    writes: Writes  # what the batch writes at its end, in the same transaction


class Stage(Protocol):
    def __call__(self, ctx: FlushContext, alerts: list[Alert]) -> list[Alert]: ...


@runtime_checkable
class RefreshingStage(Protocol):
    def refresh(self, conn: sa.Connection, now: datetime) -> None: ...


@runtime_checkable
class PrefetchingStage(Protocol):
    def prefetch(self, conn: sa.Connection, group_ids: Sequence[str]) -> None: ...


class Pipeline:
    """Stages in order; stops at the first that leaves no alerts."""

    def __init__(self, stages: Sequence[Stage]) -> None:
        self.stages = tuple(stages)

    def refresh(self, conn: sa.Connection, now: datetime) -> None:
        """Once per flush: stages that read state (silences, firing sources) read it now."""
        for stage in self.stages:
            if isinstance(stage, RefreshingStage):
                stage.refresh(conn, now)

    def prefetch(self, conn: sa.Connection, group_ids: Sequence[str]) -> None:
        """Once per batch of due groups: stages read what they need for all of them in one query."""
        for stage in self.stages:
            if isinstance(stage, PrefetchingStage):
                stage.prefetch(conn, group_ids)

    def __call__(self, ctx: FlushContext, alerts: list[Alert]) -> list[Alert]:
        for stage in self.stages:
            alerts = stage(ctx, alerts)
            if not alerts:
                break
        return alerts
