"""Lease rows with fencing tokens in the state database (``monitor_leases``), SQLite and PostgreSQL alike.

A lease is a row per name: ``holder`` (a replica's instance id), ``token`` and ``expires_at``.

- **acquire**: the row is made if missing, then taken when it is free (released or expired) or
  already this holder's (a restart under the same instance id): ``token`` goes up by one and the
  expiry is set to now + TTL. One UPDATE with the condition in its WHERE clause: two replicas racing
  for one lease cannot both get it (PostgreSQL re-checks the condition after the row lock; SQLite
  writes one transaction at a time).
- **renew** (the heartbeat): only by the holder with its token; ``False`` means the lease was lost.
- **release**: the holder gives the lease up at once (a graceful stop, rebalancing); the token stays,
  so the next holder's is higher still.
- **check** (:class:`Lease`, a :class:`config.basics.fence.Fence`): in a write transaction, the row
  still names this holder and token. The expiry is deliberately not part of the check: as long as
  nobody took the lease over, the token is still the newest and a late write is still the only one;
  once someone did, the token differs. So safety rests on the token, and clocks only decide how soon
  a dead replica's work moves (hosts' clocks should agree to well within the TTL: NTP).

Times come from ``clock`` (the real clock: never the demo's simulated one).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from alerts.upsert import insert_new
from config.basics.clock import Clock, utc_now
from config.basics.fence import FenceLost
from config.basics.sql import begin_write
from monitor.schema import leases as t

REPLICA = "replica:"  # the prefix of the replicas' own liveness leases
_LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL: lock_timeout ran out


def bound_idle_transactions(engine: sa.Engine, ttl: timedelta) -> None:
    """PostgreSQL: end any session of ``engine`` that sits in an open transaction longer than ``ttl``.

    A fenced write holds a share lock on its lease row until it commits, so that a takeover waits for
    it. A replica frozen in the middle of such a transaction (SIGSTOP, a frozen VM, a GC pause) would
    hold the lease that way for as long as it stays frozen; with this, the server ends its session
    after ``ttl`` (``idle_in_transaction_session_timeout``), the transaction rolls back, the lock goes,
    and the lease moves. The frozen replica finds its connection closed when it wakes. Connections
    already in the pool are replaced. No effect on other databases.
    """
    if engine.dialect.name != "postgresql":
        return
    timeout_ms = max(1000, int(ttl.total_seconds() * 1000))

    @sa.event.listens_for(engine, "connect")
    def _bound(dbapi_conn: Any, _record: Any) -> None:
        autocommit = dbapi_conn.autocommit
        dbapi_conn.autocommit = True  # a SET inside a transaction that is rolled back would not stay
        try:
            with dbapi_conn.cursor() as cursor:
                cursor.execute(f"SET idle_in_transaction_session_timeout = {timeout_ms}")  # an int
        finally:
            dbapi_conn.autocommit = autocommit

    engine.dispose()


@dataclass(frozen=True)
class Lease:
    """A lease this replica holds: its name, token and (last known) expiry; a fence for its writes."""

    name: str
    holder: str
    token: int
    expires_at: datetime

    def check(self, conn: sa.Connection) -> None:
        query = sa.select(t.c.holder, t.c.token).where(t.c.name == self.name)
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(read=True)  # a takeover waits for this transaction
        row = conn.execute(query).first()
        if row is None or row.holder != self.holder or int(row.token) != self.token:
            found = "no lease row" if row is None else (
                "released" if row.holder is None else f"now held by {row.holder!r} under #{row.token}")
            raise FenceLost(self.name, self.holder, self.token, found)


@dataclass(frozen=True)
class Holding:
    """A lease row as anyone sees it (``lakewarden`` status, ``/readyz``, the fair share)."""

    name: str
    holder: str | None
    token: int
    expires_at: datetime


class LeaseStore:
    """The lease rows. On PostgreSQL it also bounds how long a frozen replica can hold a lease row's
    lock (see :func:`bound_idle_transactions`) and never waits long for one when acquiring."""

    def __init__(self, engine: sa.Engine, ttl: timedelta = timedelta(seconds=30), clock: Clock = utc_now) -> None:
        if ttl <= timedelta(0):
            raise ValueError(f"the lease TTL must be positive, not {ttl}")
        self.engine = engine
        self.ttl = ttl
        self.clock = clock

    def acquire(self, name: str, holder: str) -> Lease | None:
        """Take ``name`` for ``holder`` when it is free, expired or ``holder``'s already; None: held by
        another (or, on PostgreSQL, its row is locked by a fenced write of the holder that goes on
        longer than a sixth of the TTL: the next heartbeat tries again)."""
        now = self.clock()
        try:
            with begin_write(self.engine, serialize=False) as conn:  # conditional statements
                if conn.dialect.name == "postgresql":
                    wait_ms = max(1, int(self.ttl.total_seconds() * 1000 / 6))
                    conn.exec_driver_sql(f"SET LOCAL lock_timeout = {wait_ms}")  # an int: nothing to quote
                insert_new(conn, t, [{"name": name, "holder": None, "token": 0, "acquired_at": None,
                                      "expires_at": now}])
                free = sa.or_(t.c.holder.is_(None), t.c.expires_at <= now, t.c.holder == holder)
                token = conn.execute(
                    t.update().where(t.c.name == name, free)
                    .values(holder=holder, token=t.c.token + 1, acquired_at=now, expires_at=now + self.ttl)
                    .returning(t.c.token)
                ).scalar()
        except sa.exc.OperationalError as exc:
            if getattr(exc.orig, "sqlstate", None) != _LOCK_NOT_AVAILABLE:
                raise
            return None
        return None if token is None else Lease(name, holder, int(token), now + self.ttl)

    def renew(self, lease: Lease) -> Lease | None:
        """Extend ``lease`` by the TTL from now; None when it is not held with this token any more."""
        now = self.clock()
        with begin_write(self.engine, serialize=False) as conn:  # conditional statements
            updated = conn.execute(t.update().where(*_held(lease)).values(expires_at=now + self.ttl)).rowcount
        return Lease(lease.name, lease.holder, lease.token, now + self.ttl) if updated == 1 else None

    def renew_all(self, held: Iterable[Lease]) -> tuple[list[Lease], list[Lease]]:
        """Renew every lease in ``held`` in one transaction: ``(renewed, lost)``."""
        now = self.clock()
        renewed: list[Lease] = []
        lost: list[Lease] = []
        with begin_write(self.engine, serialize=False) as conn:  # conditional statements
            for lease in held:
                count = conn.execute(t.update().where(*_held(lease)).values(expires_at=now + self.ttl)).rowcount
                if count == 1:
                    renewed.append(Lease(lease.name, lease.holder, lease.token, now + self.ttl))
                else:
                    lost.append(lease)
        return renewed, lost

    def release(self, leases: Iterable[Lease]) -> int:
        """Give ``leases`` up now (if still held with their tokens); returns how many were."""
        now = self.clock()
        count = 0
        with begin_write(self.engine, serialize=False) as conn:  # conditional statements
            for lease in leases:
                count += conn.execute(t.update().where(*_held(lease)).values(holder=None, expires_at=now)).rowcount
        return count

    def holdings(self, prefix: str = "") -> list[Holding]:
        """Every lease row (whose name starts with ``prefix``), live or not, by name."""
        query = sa.select(t).order_by(t.c.name)
        if prefix:
            query = query.where(t.c.name.startswith(prefix, autoescape=True))
        with self.engine.connect() as conn:
            return [Holding(r.name, r.holder, int(r.token), r.expires_at) for r in conn.execute(query)]

    def live(self, prefix: str, now: datetime | None = None) -> list[Holding]:
        """The leases under ``prefix`` that someone holds and that have not expired."""
        now = now or self.clock()
        return [h for h in self.holdings(prefix) if h.holder is not None and h.expires_at > now]


def _held(lease: Lease) -> tuple[sa.ColumnElement[bool], ...]:
    return t.c.name == lease.name, t.c.holder == lease.holder, t.c.token == lease.token
