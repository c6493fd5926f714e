"""Shared pieces for the alerts tests: a simulated clock, a migrated SQLite file, loopback HTTP servers
(a lenient one here, the strict contract servers of ``alert_fakes.py``), a loopback certificate."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from alerts.schema import MIGRATIONS
from config.basics.clock import SimulatedClock
from tests.alerts.alert_fakes import AlertmanagerServer, PagerDutyServer, SlackServer, TeamsServer

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(T0)


def migrate_alerts(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for migrate in MIGRATIONS:
            migrate(conn)
    engine.dispose()


@pytest.fixture
def engine(migrated_state_url: Callable[[str, Callable[[str], None]], str]) -> Iterator[sa.Engine]:
    """The alerts tables, migrated, in a new SQLite file (or PostgreSQL database: tests/pg_server.py)."""
    eng = sa.create_engine(migrated_state_url("alerts", migrate_alerts))

    if eng.dialect.name == "sqlite":
        @sa.event.listens_for(eng, "connect")
        def _wal(dbapi_conn: Any, _record: Any) -> None:  # as the daemon's store: WAL, synchronous=NORMAL
            dbapi_conn.execute("PRAGMA journal_mode=WAL")
            dbapi_conn.execute("PRAGMA synchronous=NORMAL")

    yield eng
    eng.dispose()


@dataclass
class Reply:
    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: bytes


class Loopback:
    """A real HTTP server on 127.0.0.1 that answers with queued replies (200 "ok" when none)."""

    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.seen: list[Seen] = []
        self.release = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                owner.seen.append(Seen(self.path, dict(self.headers.items()), body))
                reply = owner.replies.pop(0) if owner.replies else Reply()
                if reply.hang:
                    owner.release.wait(10)
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (the timeout test)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def reply(
        self, status: int, body: bytes = b"", headers: dict[str, str] | None = None, *, hang: bool = False
    ) -> None:
        """Queue the answer to the next request; ``hang`` waits for ``release`` (or 10 s) first."""
        self.replies.append(Reply(status, body, headers or {}, hang))

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def loopback() -> Iterator[Loopback]:
    server = Loopback()
    server.thread.start()
    yield server
    server.release.set()
    server.server.shutdown()
    server.server.server_close()


# --- contract servers (tests/alerts/alert_fakes.py) --------------------------------------------------

@pytest.fixture(scope="session")
def loopback_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from tests.alerts.alert_servers import make_cert

    return make_cert(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def slack_server() -> Iterator[SlackServer]:
    server = SlackServer()
    with server.running():
        yield server


@pytest.fixture
def teams_server() -> Iterator[TeamsServer]:
    server = TeamsServer()
    with server.running():
        yield server


@pytest.fixture
def pagerduty_server(loopback_cert: tuple[Path, Path]) -> Iterator[PagerDutyServer]:
    from tests.alerts.alert_servers import server_context

    server = PagerDutyServer(server_context(*loopback_cert))
    with server.running():
        yield server


@pytest.fixture
def pagerduty_http_server() -> Iterator[PagerDutyServer]:
    """The Events API stand-in over plain HTTP on 127.0.0.1 (accepted for loopback addresses only)."""
    server = PagerDutyServer()
    with server.running():
        yield server


@pytest.fixture
def alertmanager_server() -> Iterator[AlertmanagerServer]:
    server = AlertmanagerServer()
    with server.running():
        yield server
