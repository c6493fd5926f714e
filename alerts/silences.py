"""Silences: matchers over a time span that mute the firing alerts they match.

A silence is ``pending`` before ``starts_at``, ``active`` until ``ends_at``, then ``expired``.
Expiring sets the end to now (and the start too, for a pending one). Expired silences are kept for
``silence_retention`` for audit, then deleted. They live in the state database: the CLI writes them
and a running daemon reads them at its next flush.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from alerts.schema import alerts_silences as t
from config.basics.clock import Clock
from config.basics.sql import begin_write
from config.matchers import Matcher, matches_all


class SilenceState(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Silence:
    id: str
    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str
    created_at: datetime
    updated_at: datetime

    def state(self, now: datetime) -> SilenceState:
        if now < self.starts_at:
            return SilenceState.PENDING
        return SilenceState.ACTIVE if now < self.ends_at else SilenceState.EXPIRED

    def matches(self, labels: Mapping[str, str]) -> bool:
        return matches_all(self.matchers, labels)

    @classmethod
    def from_row(cls, row: Any) -> Silence:
        return cls(row.id, tuple(Matcher.parse(m) for m in row.matchers), row.starts_at, row.ends_at,
                   row.created_by, row.comment, row.created_at, row.updated_at)


def check_matchers(matchers: Sequence[Matcher]) -> None:
    """At least one matcher, and not only matchers that an empty label satisfies (they would
    silence every alert), as in Alertmanager."""
    if not matchers:
        raise ValueError('a silence needs at least one matcher, such as model="churn"')
    if all(m.matches({}) for m in matchers):
        raise ValueError("these matchers match every alert (each also matches a missing label); "
                         'add one that needs a value, such as model="churn"')


class SilenceStore:
    def __init__(self, engine: sa.Engine, clock: Clock,
                 retention: timedelta = timedelta(days=5)) -> None:
        self._engine = engine
        self._clock = clock
        self._retention = retention

    def add(self, matchers: Sequence[Matcher], ends_at: datetime, *, created_by: str, comment: str,
            starts_at: datetime | None = None) -> Silence:
        now = self._clock()
        check_matchers(matchers)
        starts = starts_at or now
        if ends_at <= starts or ends_at <= now:
            raise ValueError(f"a silence must end after it starts and in the future (ends {ends_at.isoformat()})")
        if not created_by.strip() or not comment.strip():
            raise ValueError("a silence needs who made it (created_by; --author on the command line) and a comment "
                             "saying why")
        silence_id = str(uuid.uuid4())
        values = {"id": silence_id, "matchers": [str(m) for m in matchers], "starts_at": starts,
                  "ends_at": ends_at, "created_by": created_by.strip(), "comment": comment.strip(),
                  "created_at": now, "updated_at": now}
        with begin_write(self._engine) as conn:
            conn.execute(t.insert().values(**values))
        return self.get(silence_id)

    def update(self, silence_id: str, *, ends_at: datetime | None = None, starts_at: datetime | None = None,
               comment: str | None = None, updated_by: str | None = None) -> Silence:
        """Change a pending or active silence's times or comment in place (like ``amtool silence update``;
        its matchers stay: a silence on other labels is a new one). ``updated_by`` becomes its author,
        as Alertmanager records the last one to change it."""
        now = self._clock()
        silence = self.get(silence_id)
        state = silence.state(now)
        if state is SilenceState.EXPIRED:
            raise ValueError(f"silence {silence.id} has expired; add a new one")
        if starts_at is not None and state is SilenceState.ACTIVE and starts_at != silence.starts_at:
            raise ValueError(f"silence {silence.id} is active: its start cannot move (change its end, or expire it "
                             "and add a new one)")
        starts = starts_at or silence.starts_at
        ends = ends_at or silence.ends_at
        if ends <= starts or ends <= now:
            raise ValueError(f"a silence must end after it starts and in the future (ends {ends.isoformat()})")
        values: dict[str, Any] = {"starts_at": starts, "ends_at": ends, "updated_at": now}
        if comment is not None:
            if not comment.strip():
                raise ValueError("a silence's comment says why: it cannot be empty")
            values["comment"] = comment.strip()
        if updated_by is not None and updated_by.strip():
            values["created_by"] = updated_by.strip()
        with begin_write(self._engine) as conn:
            conn.execute(t.update().where(t.c.id == silence.id).values(**values))
        return self.get(silence.id)

    def get(self, silence_id: str) -> Silence:
        """By id or a unique prefix of it."""
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(t).where(t.c.id.startswith(silence_id, autoescape=True))).all()
        if len(rows) != 1:
            raise KeyError(f"no silence with id {silence_id!r}" if not rows
                           else f"{silence_id!r} is the start of {len(rows)} silence ids; give more of it")
        return Silence.from_row(rows[0])

    def expire(self, silence_id: str) -> Silence:
        now = self._clock()
        silence = self.get(silence_id)
        if silence.state(now) is SilenceState.EXPIRED:
            raise ValueError(f"silence {silence.id} has already expired")
        values: dict[str, Any] = {"ends_at": now, "updated_at": now}
        if silence.state(now) is SilenceState.PENDING:
            values["starts_at"] = now
        with begin_write(self._engine) as conn:
            conn.execute(t.update().where(t.c.id == silence.id).values(**values))
        return self.get(silence.id)

    def list(self, states: Sequence[SilenceState] | None = None) -> list[Silence]:
        now = self._clock()
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(t).order_by(t.c.starts_at, t.c.id)).all()
        silences = [Silence.from_row(row) for row in rows]
        return [x for x in silences if states is None or x.state(now) in states]

    def prune(self, conn: sa.Connection, now: datetime) -> int:
        """Delete silences expired longer than the retention ago."""
        return int(conn.execute(t.delete().where(t.c.ends_at < now - self._retention)).rowcount)


class Silencer:
    """The muter: active silences, read from the state database at each flush."""

    def __init__(self, store: SilenceStore) -> None:
        self._store = store
        self._active: list[Silence] = []

    def refresh(self, conn: sa.Connection, now: datetime) -> None:
        self._store.prune(conn, now)
        rows = conn.execute(sa.select(t).where(t.c.starts_at <= now, t.c.ends_at > now)).all()
        self._active = [Silence.from_row(row) for row in rows]

    def mutes(self, labels: Mapping[str, str]) -> bool:
        return any(silence.matches(labels) for silence in self._active)
