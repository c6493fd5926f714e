"""SQLite holds the state of one replica: a second ``lakewarden run`` on the same file is refused.

The daemon takes an exclusive ``flock`` on ``<database file>.replica.lock`` for as long as it runs
(the kernel drops it when the process dies, even by SIGKILL, so a crash never leaves a stale lock).
The lease rows alone could not tell a second replica on the same host, which has the same instance
id and would take the first one's leases over. A second daemon fails at start with an error naming
the file and the other process, and saying to use PostgreSQL for several replicas.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import IO

import sqlalchemy as sa


class SecondReplica(RuntimeError):
    """Another lakewarden daemon runs on this SQLite state database."""


class SqliteReplicaLock:
    def __init__(self, path: Path, handle: IO[str]) -> None:
        self.path = path
        self._handle = handle

    def release(self) -> None:
        with contextlib.suppress(OSError):
            fcntl.flock(self._handle, fcntl.LOCK_UN)
        self._handle.close()


def single_replica(url: str, instance: str) -> SqliteReplicaLock | None:
    """Lock the SQLite database of ``url`` for this daemon (None for other databases and ``:memory:``)."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    database = Path(parsed.database).resolve()
    path = database.with_name(database.name + ".replica.lock")
    handle = path.open("a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        other = handle.read().strip() or "unknown"
        handle.close()
        raise SecondReplica(
            f"the SQLite state database {database} is in use by another lakewarden daemon ({other}); "
            "SQLite holds the state of one replica only: stop the other daemon, or, to run several "
            "replicas, put the state in PostgreSQL (state.url: postgresql+psycopg://..., see "
            "docs/high-availability.md)") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}, instance id {instance}\n")
    handle.flush()
    return SqliteReplicaLock(path, handle)
