"""The durable outbox: notifications waiting to be sent, claimed one at a time by workers under a lease.

A row is ``pending`` until a worker claims it (``in_flight``, with ``lease_owner``/``lease_until``),
then ``done``, back to ``pending`` with a later ``next_attempt_at``, or ``dead`` with a reason. A
claim covers the one row being sent; the worker renews its lease while the send runs (a heartbeat),
so the lease can be short. A worker that crashes leaves its one row to be reclaimed once the lease
has run out, or at once by the same instance when it starts again (``take_back``). A row is thus
sent at least once; the idempotency key (PagerDuty's ``dedup_key``, Slack message metadata) makes
"again" safe for receivers that can deduplicate. Every replica delivers: on PostgreSQL the claim reads
its candidates ``FOR UPDATE SKIP LOCKED``, so replicas claiming at once take different rows.

Order per group: rows of one ``group_ref`` (one group at one channel: one PagerDuty ``dedup_key``,
one Slack message) go out in id order, which is decision order. A newer row with ``latest_wins``
(a notification or escalation: the group's whole state) supersedes older ones not delivered yet:
they end ``done`` with ``superseded_by`` and are never sent, so a trigger cannot land after its
resolve. A row waits while an older row of its group is being sent (a live lease), and an
acknowledgement (no ``latest_wins``) neither supersedes nor is superseded: it waits for the rows
before it, and the rows after it wait for it.

Whenever a row goes dead, ``on_dead(conn, row, reason, now)`` runs in the same transaction (the
daemon enqueues a meta-alert to the fallback receiver there), so a dead letter is never silent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
import structlog

from alerts.retry import RetryPolicy
from alerts.schema import alerts_outbox as t
from config.basics.clock import Clock
from config.basics.sql import begin_write

_MAX_ERROR = 2000
_CANDIDATES = 20  # due rows looked at per claim; superseded ones are skipped, blocked ones not read
_UNDELIVERED = ("pending", "in_flight")
log = structlog.get_logger(__name__)
DeadHook = Callable[[sa.Connection, "OutboxRow", str, datetime], None]


class OutboxStatus(StrEnum):
    PENDING = "pending"
    IN_FLIGHT = "in_flight"
    DONE = "done"
    DEAD = "dead"


@dataclass(frozen=True)
class OutboxRow:
    id: int
    created_at: datetime
    receiver: str
    channel_kind: str
    channel_index: int
    idempotency_key: str
    payload: Mapping[str, Any]
    status: OutboxStatus
    attempts: int
    next_attempt_at: datetime
    lease_owner: str | None
    lease_until: datetime | None
    last_error: str | None
    delivered_at: datetime | None
    group_ref: str | None = None
    latest_wins: bool = False
    superseded_by: int | None = None
    first_attempt_at: datetime | None = None
    # Set by ``claim_one``: when an earlier send of this row, or of a row it superseded, began (None:
    # this is the first send of the group's state). A channel that can look for what an earlier
    # attempt left behind (Slack) does so only then.
    resend_since: datetime | None = None

    @classmethod
    def from_row(cls, row: sa.RowMapping, resend_since: datetime | None = None) -> OutboxRow:
        values = {key: value for key, value in dict(row).items() if key in _FIELDS}
        values["status"] = OutboxStatus(values["status"])
        values["latest_wins"] = bool(values.get("latest_wins"))
        return cls(**values, resend_since=resend_since)


_FIELDS = frozenset(OutboxRow.__dataclass_fields__) - {"resend_since"}
_ORDERED_KINDS = {"notification": True, "escalation": True, "acknowledgement": False}


def ordering(
    payload: Mapping[str, Any], receiver: str, channel_kind: str, channel_index: int
) -> tuple[str | None, bool]:
    """``(group_ref, latest_wins)`` of a row: the group at this channel, and whether a newer row
    replaces older undelivered ones. Test and meta notifications are not ordered (``None``)."""
    kind = str(payload.get("kind", "notification"))
    group = str(payload.get("groupId") or payload.get("groupKey") or "")
    if kind not in _ORDERED_KINDS or not group:
        return None, False
    ref = hashlib.sha256("\x1f".join((group, receiver, channel_kind, str(channel_index))).encode()).hexdigest()[:32]
    return ref, _ORDERED_KINDS[kind]


@dataclass(frozen=True)
class RetryOutcome:
    status: OutboxStatus
    next_attempt_at: datetime | None
    reason: str


def enqueue(
    conn: sa.Connection, *, now: datetime, receiver: str, channel_kind: str, channel_index: int,
    idempotency_key: str, payload: Mapping[str, Any],
) -> int | None:
    """Insert a pending row inside the caller's transaction; ``None`` if the key is already there."""
    exists = conn.execute(sa.select(t.c.id).where(t.c.idempotency_key == idempotency_key)).first()
    if exists is not None:
        return None
    group_ref, latest_wins = ordering(payload, receiver, channel_kind, channel_index)
    result = conn.execute(t.insert().values(
        created_at=now, receiver=receiver, channel_kind=channel_kind, channel_index=channel_index,
        idempotency_key=idempotency_key, payload=dict(payload), status=OutboxStatus.PENDING.value,
        attempts=0, next_attempt_at=now, group_ref=group_ref, latest_wins=latest_wins,
    ))
    key = result.inserted_primary_key
    return None if key is None else int(key[0])


class Outbox:
    def __init__(
        self, engine: sa.Engine, clock: Clock, policy: RetryPolicy | None = None,
        on_dead: DeadHook | None = None,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self.policy = policy or RetryPolicy()
        self._on_dead = on_dead

    def claim(self, worker_id: str, limit: int, lease: timedelta, ids: Iterable[int] | None = None) -> list[OutboxRow]:
        """Lease up to ``limit`` rows, one ``claim_one`` after another (for tools and tests: the
        delivery worker claims a row only when it is about to send it)."""
        wanted = None if ids is None else list(ids)
        rows: list[OutboxRow] = []
        while len(rows) < limit:
            row = self.claim_one(worker_id, lease, wanted)
            if row is None:
                break
            rows.append(row)
        return rows

    def claim_one(self, worker_id: str, lease: timedelta, ids: Iterable[int] | None = None) -> OutboxRow | None:
        """Lease the next due row that may go now (pending and due, or in flight with an expired
        lease; only among ``ids`` when given), superseding older or newer rows of its group on the
        way (see the module docstring). ``None``: nothing may go now."""
        now = self._clock()
        expired = sa.and_(t.c.status == OutboxStatus.IN_FLIGHT.value, t.c.lease_until <= now)
        claimable = sa.or_(sa.and_(t.c.status == OutboxStatus.PENDING.value, t.c.next_attempt_at <= now),
                           expired)
        if ids is not None:
            claimable = sa.and_(claimable, t.c.id.in_(list(ids)))
        o = t.alias("older")
        undelivered = o.c.status.in_(_UNDELIVERED)
        blocked = sa.exists().where(
            o.c.group_ref == t.c.group_ref, o.c.id < t.c.id,
            sa.or_(sa.and_(o.c.status == OutboxStatus.IN_FLIGHT.value, o.c.lease_until > now),
                   sa.and_(undelivered, sa.or_(sa.not_(o.c.latest_wins), sa.not_(t.c.latest_wins)))))
        # FOR UPDATE SKIP LOCKED (PostgreSQL; SQLite writes one transaction at a time and has no such
        # clause): replicas claiming at the same moment take different rows instead of queueing.
        due = (sa.select(t).where(claimable, sa.not_(blocked)).order_by(t.c.next_attempt_at, t.c.id)
               .limit(_CANDIDATES).with_for_update(skip_locked=True, of=t))
        with begin_write(self._engine, serialize=False) as conn:  # rows locked one by one, skipped if taken
            self._expire_dying(conn, expired, now)
            for candidate in conn.execute(due).mappings().all():
                row = OutboxRow.from_row(candidate)
                # Read again: an older candidate superseded by this one may have passed its first attempt on.
                since = conn.execute(sa.select(t.c.first_attempt_at).where(t.c.id == row.id)).scalar()
                if row.group_ref is not None and row.latest_wins:
                    newer = conn.execute(
                        sa.select(t.c.id).where(t.c.group_ref == row.group_ref, t.c.id > row.id, t.c.latest_wins,
                                                t.c.status.in_(_UNDELIVERED)).order_by(t.c.id.desc()).limit(1)
                    ).scalar()
                    if newer is not None:
                        self._supersede(conn, [row.id], newer, since)
                        continue
                    since = self._supersede_older(conn, row, since)
                claimed = conn.execute(
                    t.update()
                    # The condition is repeated so that a database that re-checks rows after a lock wait
                    # (PostgreSQL) skips rows another worker claimed meanwhile.
                    .where(t.c.id == row.id, claimable)
                    .values(status=OutboxStatus.IN_FLIGHT.value, lease_owner=worker_id, lease_until=now + lease,
                            attempts=t.c.attempts + 1, first_attempt_at=since or now)
                    .returning(*t.c)
                ).mappings().first()
                if claimed is not None:
                    return OutboxRow.from_row(claimed, resend_since=since)
        return None

    def _expire_dying(self, conn: sa.Connection, expired: sa.ColumnElement[bool], now: datetime) -> None:
        # A row whose worker keeps dying mid-send would otherwise be retried forever.
        why = f"lease expired after {self.policy.max_attempts} attempts (worker crash or hang?)"
        gone = conn.execute(t.update().where(expired, t.c.attempts >= self.policy.max_attempts).values(
            status=OutboxStatus.DEAD.value, lease_owner=None, lease_until=None, last_error=why,
        ).returning(*t.c)).mappings().all()
        for row in gone:
            self._dead_hook(conn, OutboxRow.from_row(row), why, now)

    def _supersede_older(self, conn: sa.Connection, row: OutboxRow, since: datetime | None) -> datetime | None:
        """Supersede the older undelivered ``latest_wins`` rows of ``row``'s group (none is being sent:
        ``row`` would be blocked); returns the earliest first attempt among them and ``since``."""
        older = conn.execute(sa.select(t.c.id, t.c.first_attempt_at).where(
            t.c.group_ref == row.group_ref, t.c.id < row.id, t.c.latest_wins, t.c.status.in_(_UNDELIVERED))).all()
        if not older:
            return since
        self._supersede(conn, [r.id for r in older], row.id, None)
        starts = [r.first_attempt_at for r in older if r.first_attempt_at is not None]
        return min([*starts, *([since] if since else [])], default=None)

    @staticmethod
    def _supersede(conn: sa.Connection, ids: list[int], by: int, since: datetime | None) -> None:
        conn.execute(t.update().where(t.c.id.in_(ids)).values(
            status=OutboxStatus.DONE.value, superseded_by=by, lease_owner=None, lease_until=None))
        if since is not None:  # the newer row inherits the earlier attempt: it may have to adopt its message
            conn.execute(t.update().where(t.c.id == by, sa.or_(t.c.first_attempt_at.is_(None),
                                                                t.c.first_attempt_at > since))
                         .values(first_attempt_at=since))
        log.info("notifications_superseded", outbox_ids=ids, superseded_by=by)

    def renew(self, row_id: int, worker_id: str, lease: timedelta) -> bool:
        """Extend the lease of a row this worker is sending (the heartbeat). ``False``: not held any more."""
        with begin_write(self._engine) as conn:
            updated = conn.execute(t.update().where(*self._held(row_id, worker_id))
                                   .values(lease_until=self._clock() + lease))
        return updated.rowcount == 1

    def take_back(self, worker_id: str) -> int:
        """Hand back, due at once, the rows this worker identity left in flight in an earlier life
        (a crash, an OOM kill, a node restart): a restarted instance need not wait for its own leases.
        Their attempt counts (it may have been sent); returns how many."""
        with begin_write(self._engine) as conn:
            return int(conn.execute(
                t.update().where(t.c.status == OutboxStatus.IN_FLIGHT.value, t.c.lease_owner == worker_id)
                .values(status=OutboxStatus.PENDING.value, lease_owner=None, lease_until=None,
                        next_attempt_at=self._clock())).rowcount)

    def ack(self, row_id: int, worker_id: str) -> bool:
        """Mark delivered. ``False`` if this worker no longer holds the row (another reclaimed it)."""
        return self._finish(row_id, worker_id, status=OutboxStatus.DONE, delivered_at=self._clock())

    def dead(self, row_id: int, worker_id: str, reason: str) -> bool:
        """Give up on the row with ``reason``. ``False`` if this worker no longer holds it."""
        return self._finish(row_id, worker_id, status=OutboxStatus.DEAD, last_error=reason[:_MAX_ERROR])

    def defer(self, row_id: int, worker_id: str, until: datetime, reason: str) -> bool:
        """Hand a claimed, unsent row back as pending until ``until`` (a rate limit): no attempt counted."""
        with begin_write(self._engine) as conn:
            updated = conn.execute(t.update().where(*self._held(row_id, worker_id)).values(
                status=OutboxStatus.PENDING.value, lease_owner=None, lease_until=None, next_attempt_at=until,
                attempts=sa.case((t.c.attempts > 0, t.c.attempts - 1), else_=0), last_error=reason[:_MAX_ERROR]))
        return updated.rowcount == 1

    def _dead_hook(self, conn: sa.Connection, row: OutboxRow, reason: str, now: datetime) -> None:
        if self._on_dead is not None:
            self._on_dead(conn, row, reason, now)

    def retry(
        self, row_id: int, worker_id: str, reason: str, retry_after: float | None = None
    ) -> RetryOutcome | None:
        """Schedule another try per the policy, or mark dead when attempts or age run out.

        ``None`` if this worker no longer holds the row.
        """
        now = self._clock()
        with begin_write(self._engine) as conn:
            row = conn.execute(
                sa.select(t.c.attempts, t.c.created_at).where(*self._held(row_id, worker_id))
            ).first()
            if row is None:
                return None
            attempts, created_at = int(row.attempts), row.created_at
            next_at = now + self.policy.delay(attempts, retry_after)
            if attempts >= self.policy.max_attempts or next_at - created_at > self.policy.max_age:
                why = f"{reason} (gave up after {attempts} attempts over {now - created_at})"
                values: dict[str, Any] = {"status": OutboxStatus.DEAD.value, "last_error": why[:_MAX_ERROR]}
                outcome = RetryOutcome(OutboxStatus.DEAD, None, why)
            else:
                values = {"status": OutboxStatus.PENDING.value, "next_attempt_at": next_at,
                          "last_error": reason[:_MAX_ERROR]}
                outcome = RetryOutcome(OutboxStatus.PENDING, next_at, reason)
            updated = conn.execute(
                t.update().where(*self._held(row_id, worker_id))
                .values(lease_owner=None, lease_until=None, **values).returning(*t.c)
            ).mappings().all()
            if len(updated) != 1:
                return None
            if outcome.status is OutboxStatus.DEAD:
                self._dead_hook(conn, OutboxRow.from_row(updated[0]), outcome.reason, now)
            return outcome

    def release(self, worker_id: str, row_ids: Iterable[int] | None = None, *, unsent: bool = True) -> int:
        """Hand rows this worker holds (``row_ids``, or all of them) back as ``pending``, due as before.

        For a worker that stops with a batch half sent: the next worker (or the next start) sends them
        without waiting for the lease to expire. ``unsent`` rows were claimed but never sent, so their
        claim does not count as an attempt. Returns how many rows were released.
        """
        held = [t.c.status == OutboxStatus.IN_FLIGHT.value, t.c.lease_owner == worker_id]
        if row_ids is not None:
            held.append(t.c.id.in_(list(row_ids)))
        values: dict[str, Any] = {"status": OutboxStatus.PENDING.value, "lease_owner": None, "lease_until": None}
        if unsent:
            values["attempts"] = sa.case((t.c.attempts > 0, t.c.attempts - 1), else_=0)
        with begin_write(self._engine) as conn:
            return int(conn.execute(t.update().where(*held).values(**values)).rowcount)

    def counts(self) -> dict[str, int]:
        """Rows per status, every status present."""
        with self._engine.connect() as conn:
            query = sa.select(t.c.status, sa.func.count()).group_by(t.c.status)
            found: dict[str, int] = dict(conn.execute(query).all())
        return {status.value: int(found.get(status.value, 0)) for status in OutboxStatus}

    def rows(self, status: OutboxStatus | str | None = None) -> list[OutboxRow]:
        query = sa.select(t).order_by(t.c.id)
        if status is not None:
            query = query.where(t.c.status == OutboxStatus(status).value)
        with self._engine.connect() as conn:
            return [OutboxRow.from_row(row) for row in conn.execute(query).mappings()]

    def _finish(self, row_id: int, worker_id: str, *, status: OutboxStatus, **values: Any) -> bool:
        with begin_write(self._engine) as conn:
            updated = conn.execute(
                t.update().where(*self._held(row_id, worker_id))
                .values(status=status.value, lease_owner=None, lease_until=None, **values).returning(*t.c)
            ).mappings().all()
            if len(updated) == 1 and status is OutboxStatus.DEAD:
                self._dead_hook(conn, OutboxRow.from_row(updated[0]), str(values.get("last_error", "")),
                                self._clock())
        return len(updated) == 1

    @staticmethod
    def _held(row_id: int, worker_id: str) -> tuple[sa.ColumnElement[bool], ...]:
        # The lease is held until another worker reclaims the row: a late ack from the owner still
        # counts (the send did happen), one from a worker that was displaced does not.
        return (t.c.id == row_id, t.c.status == OutboxStatus.IN_FLIGHT.value, t.c.lease_owner == worker_id)
