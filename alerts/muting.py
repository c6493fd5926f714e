"""One interface for "should this be muted": ``mutes(labels) -> bool``.

Silences and inhibition rules are muters; a new rule (a maintenance window, a model in retraining)
is one more muter in ``build_pipeline`` and needs no other pipeline code. A muter that depends on
the state database is refreshed once per flush (``refresh(conn, now)``), then answers from memory.

Only firing alerts are muted: a resolve always goes through, so a receiver that heard an alert fire
also hears that it is over. Time intervals mute a whole group (they belong to its route).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol, runtime_checkable

import sqlalchemy as sa

from alerts.decision import Reason
from alerts.model import Alert
from alerts.stage import FlushContext
from alerts.timeintervals import any_active
from config.routing import TimeInterval


class Muter(Protocol):
    def mutes(self, labels: Mapping[str, str]) -> bool: ...


@runtime_checkable
class Refreshing(Protocol):
    def refresh(self, conn: sa.Connection, now: datetime) -> None: ...


class MuteStage:
    """Drops the firing alerts ``muter`` mutes, counting them under ``reason``."""

    def __init__(self, muter: Muter, reason: Reason) -> None:
        self.muter = muter
        self.reason = reason

    def refresh(self, conn: sa.Connection, now: datetime) -> None:
        if isinstance(self.muter, Refreshing):
            self.muter.refresh(conn, now)

    def __call__(self, ctx: FlushContext, alerts: list[Alert]) -> list[Alert]:
        kept = [a for a in alerts if a.is_resolved(ctx.now) or not self.muter.mutes(a.labels)]
        ctx.trace.mute(self.reason, len(alerts) - len(kept))
        return kept


class TimeMuteStage:
    """Mutes the whole group while one of its route's ``mute_time_intervals`` is active, or while
    none of its ``active_time_intervals`` is (when it has some)."""

    reason = Reason.MUTED_BY_TIME

    def __init__(self, intervals: Mapping[str, TimeInterval]) -> None:
        self._intervals = dict(intervals)
        self._at: datetime | None = None
        self._muted: dict[tuple[tuple[str, ...], tuple[str, ...]], bool] = {}  # at ``_at``, by route intervals

    def __call__(self, ctx: FlushContext, alerts: list[Alert]) -> list[Alert]:
        route = ctx.route
        if ctx.now != self._at:
            self._at, self._muted = ctx.now, {}
        key = (route.mute_time_intervals, route.active_time_intervals)
        muted = self._muted.get(key)
        if muted is None:
            muted = self._muted[key] = any_active(route.mute_time_intervals, self._intervals, ctx.now) or (
                bool(route.active_time_intervals)
                and not any_active(route.active_time_intervals, self._intervals, ctx.now))
        if muted:
            ctx.trace.mute(self.reason, len(alerts))
            return []
        return alerts
