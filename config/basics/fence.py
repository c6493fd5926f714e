"""Fencing: work held under a lease writes only while the lease is still its own.

Several replicas share one state database. A unit of work (one model's polling, judging and
lifecycle; the alert-group flushes) is held by one replica at a time under a lease with a fencing
token (``monitor.leases``). A replica whose lease was taken over (it stalled past the lease's expiry,
and another replica acquired it with the next token) must not write on: every write transaction of
leased work checks, in that same transaction and before its first write, that the lease still has
this replica as holder and this replica's token. The check is :meth:`Fence.check`; it raises
:class:`FenceLost`, which rolls the transaction back.

How work gets fenced without ``alerts`` and ``retrain`` knowing about leases: the fences of the
work in progress are bound to the current context (:func:`fenced`, a ``contextvars`` variable, like
structlog's bound log fields), and :func:`install_fencing` makes an engine check them before the
first INSERT, UPDATE or DELETE of each transaction. Reads are never checked (a stale read is harmless
when the write it leads to is refused). Work that nothing bound (the delivery of outbox rows, which
every replica does, with its own per-row claims; CLI commands) is not fenced.

On PostgreSQL the check reads the lease row ``FOR SHARE``: a replica taking the lease over updates
that row, so it waits until the fenced transaction has committed, and sees its writes. On SQLite
every write transaction holds the database's write lock from its start (``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.sql.dml import UpdateBase

_CHECKED = "lakewarden_fenced"  # in the connection's info: this transaction's fences were checked


class FenceLost(RuntimeError):
    """This replica no longer holds the lease it works under; the write was refused (rolled back)."""

    def __init__(self, name: str, holder: str, token: int, found: str) -> None:
        self.name = name
        self.holder = holder
        self.token = token
        super().__init__(f"lease {name!r} is no longer held by {holder!r} under fencing token #{token} ({found}): "
                         "the write was refused and this replica stops acting on it; the replica that "
                         "holds the lease now does the work")


class Fence(Protocol):
    """A held lease, as the writes of its work see it."""

    @property
    def name(self) -> str: ...

    def check(self, conn: sa.Connection) -> None:
        """Raise :class:`FenceLost` unless the lease is still held with this token (in ``conn``'s transaction)."""


# A unit of leased work, as the code that runs it sees it: enter to learn whether this replica may do
# it now (True: held, its writes are fenced inside the block; False: another replica holds it).
Gate = Callable[[], AbstractContextManager[bool]]

_bound: ContextVar[tuple[Fence, ...]] = ContextVar("lakewarden_fences", default=())


def always() -> AbstractContextManager[bool]:
    """The gate of work that is not leased (one process, tests, CLI commands): always held, no fence."""
    return nullcontext(True)


@contextmanager
def fenced(*fences: Fence) -> Iterator[None]:
    """Fence the writes made in this block (this thread or task) by ``fences``: they replace any
    fences bound outside it (leased work started from other leased work is its own unit)."""
    token = _bound.set(tuple(fences))
    try:
        yield
    finally:
        _bound.reset(token)


def bound() -> tuple[Fence, ...]:
    """The fences of the work in progress here (none: not leased work)."""
    return _bound.get()


def install_fencing(engine: sa.Engine) -> None:
    """Check the bound fences before the first write of every transaction on ``engine`` (idempotent)."""
    if sa.event.contains(engine, "before_execute", _before_execute):
        return
    sa.event.listen(engine, "begin", _on_begin)
    sa.event.listen(engine, "before_execute", _before_execute)


def _on_begin(conn: sa.Connection) -> None:
    conn.info.pop(_CHECKED, None)


def _before_execute(conn: sa.Connection, clause: Any, *_args: Any) -> None:
    if not isinstance(clause, UpdateBase):
        return
    fences = _bound.get()
    if not fences or conn.info.get(_CHECKED) is fences:
        return
    conn.info[_CHECKED] = fences  # first, so the check's own statement does not check again
    try:
        for fence in fences:
            fence.check(conn)
    except BaseException:
        conn.info.pop(_CHECKED, None)
        raise
