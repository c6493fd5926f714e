"""A throwaway PostgreSQL server for the test run, and a fresh database per test.

A pytest plugin, registered from ``tests/conftest.py``. One server per run (``postgres_server``, session
scope), started on first use only, so a run that needs no PostgreSQL starts none:

- **Where the server comes from.** ``LAKEWARDEN_TEST_POSTGRES_URL`` (an existing server and a user that may
  ``CREATE DATABASE``) wins; otherwise the system's PostgreSQL binaries (``initdb``, ``pg_ctl``,
  ``postgres``): on ``PATH``, or the newest ``/usr/lib/postgresql/<version>/bin`` (Debian, Ubuntu),
  or ``LAKEWARDEN_TEST_PG_BIN``. Neither found: the test is skipped, with a message that says how to
  get one (CI installs Debian's ``postgresql`` package in ``.ci/run``).
- **As whom.** ``initdb`` refuses to run as root. Run as root (containers, CI), the cluster belongs to an
  unprivileged system user (``postgres``, else ``nobody``) and every server command runs as that user
  (``runuser``); its data lives in a temporary folder that user owns. Otherwise as the current user.
- **How.** 127.0.0.1 only, a free port, no Unix socket, trust authentication (the server is reachable
  from this machine only, for the length of the run), and durability off (``fsync``,
  ``synchronous_commit``, ``full_page_writes``): a crash loses a test run, never data that matters.
  Stopped (``pg_ctl stop -m immediate``) and deleted when the run ends.
- **A database per test.** ``pg_url`` creates an empty database (``CREATE DATABASE ... TEMPLATE
  template0``, a few tens of milliseconds with durability off) and drops it after the test: every test
  starts from an empty database, as a first deployment does, and advisory locks and sequences never
  leak between tests. ``migrated_state_url`` copies a database migrated once per run instead, for the
  many tests that want the tables and are not about migrating.
- **Both databases.** ``state_backend`` is ``sqlite`` unless the test is marked ``both_databases``
  (then it runs once per database), or ``LAKEWARDEN_TEST_STATE`` is ``both`` or ``postgresql`` (every
  test that uses ``state_url``, ``migrated_state_url`` or a fixture built on them).

The server process is started by the session fixture, so a test that uses it must be marked
``integration`` (``tests/marks_guard.py`` enforces it): ``STATE_BACKENDS`` below does that for the
PostgreSQL case of a test that runs on both databases.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy as sa

ENV_URL = "LAKEWARDEN_TEST_POSTGRES_URL"
ENV_BIN = "LAKEWARDEN_TEST_PG_BIN"
ENV_STATE = "LAKEWARDEN_TEST_STATE"  # both | postgresql: the state tests on more than SQLite
_START_TIMEOUT_S = 60
_counter = itertools.count()

# The cases of ``state_url``: the PostgreSQL one is an integration test (it needs the server this module
# starts), the SQLite one is not.
STATE_BACKENDS = ("sqlite", pytest.param("postgresql", marks=pytest.mark.integration))


def _binaries() -> Path | None:
    """The folder holding initdb, pg_ctl and postgres, or None."""
    candidates: list[Path] = []
    if os.environ.get(ENV_BIN):
        candidates.append(Path(os.environ[ENV_BIN]))
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"),
                      key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0, reverse=True)
    candidates.extend(versions)
    for folder in candidates:
        if all((folder / name).is_file() for name in ("initdb", "pg_ctl", "postgres")):
            return folder
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _service_user() -> pwd.struct_passwd | None:
    """The unprivileged user the server runs as when we are root; None when we are not root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError("running as root, and neither a 'postgres' nor a 'nobody' user exists to run "
                       "PostgreSQL as (initdb refuses root); create one, or set " + ENV_URL)


@dataclass
class PostgresServer:
    """A running server and a maintenance connection to it (AUTOCOMMIT, for CREATE/DROP DATABASE)."""

    url: sa.URL  # to the ``postgres`` maintenance database
    admin: sa.Engine = field(init=False)
    _templates: dict[str, str] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.admin = sa.create_engine(self.url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)

    def create_database(self, prefix: str = "lw", template: str = "template0") -> str:
        """A new database, a copy of ``template`` (empty by default); returns its SQLAlchemy URL (password
        included, as a string)."""
        name = f"{prefix}_{os.getpid()}_{next(_counter)}"
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return self.url.set(database=name).render_as_string(hide_password=False)

    def migrated_template(self, key: str, migrate: Callable[[str], None]) -> str:
        """The name of a database that ``migrate(url)`` brought up to date, made once per run and ``key``:
        copying it is cheaper than migrating each test's database. ``migrate`` must close its connections."""
        if key not in self._templates:
            url = self.create_database(prefix=f"template_{key}")
            migrate(url)
            self._templates[key] = str(sa.make_url(url).database)
        return self._templates[key]

    def drop_database(self, url: str) -> None:
        name = sa.make_url(url).database
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class _LocalCluster:
    """initdb + pg_ctl in a temporary folder, as an unprivileged user when we are root."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.user = _service_user()
        self.root = Path(tempfile.mkdtemp(prefix="lakewarden-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = _free_port()
        if self.user is not None:
            os.chown(self.root, self.user.pw_uid, self.user.pw_gid)

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.user is not None:
            command = ["runuser", "-u", self.user.pw_name, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=_START_TIMEOUT_S, check=False,
                              cwd=self.root)

    def start(self) -> sa.URL:
        done = self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                         "--no-sync", "--no-instructions", "--locale=C")
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
        options = " ".join([
            "-c listen_addresses=127.0.0.1", f"-c port={self.port}", "-c unix_socket_directories=''",
            "-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off", "-c max_connections=200",
            "-c shared_buffers=32MB", "-c log_min_messages=warning",
        ])
        done = self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w",
                         "-t", str(_START_TIMEOUT_S), "start")
        if done.returncode != 0:
            raise RuntimeError(f"pg_ctl start failed ({done.returncode}): {done.stderr.strip()}\n{self._log_tail()}")
        return sa.URL.create("postgresql+psycopg", username="postgres", host="127.0.0.1", port=self.port,
                             database="postgres")

    def _log_tail(self) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-20:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.data.exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


def _wait_ready(url: sa.URL) -> None:
    """pg_ctl -w waits for the server already; this retries the first connection briefly all the same."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    deadline = time.monotonic() + _START_TIMEOUT_S
    try:
        while True:
            try:
                with engine.connect() as conn:
                    conn.exec_driver_sql("SELECT 1")
                return
            except sa.exc.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the whole run (see the module docstring); skips when none can be had."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("PostgreSQL tests need psycopg 3: pip install -e '.[dev]' (or '.[postgres]')")
    if os.environ.get(ENV_URL):
        url = sa.make_url(os.environ[ENV_URL])
        _wait_ready(url)
        server = PostgresServer(url)
        yield server
        server.admin.dispose()
        return
    bindir = _binaries()
    if bindir is None:
        pytest.skip("no PostgreSQL server binaries found (initdb, pg_ctl, postgres): install PostgreSQL "
                    "(Debian/Ubuntu: apt-get install postgresql; macOS: brew install postgresql@15), or set "
                    f"{ENV_BIN} to their folder, or {ENV_URL} to a server where the user may CREATE DATABASE")
    cluster = _LocalCluster(bindir)
    try:
        url = cluster.start()
        _wait_ready(url)
        server = PostgresServer(url)
    except Exception:
        cluster.stop()
        raise
    try:
        yield server
    finally:
        server.admin.dispose()
        cluster.stop()


@pytest.fixture
def pg_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test (dropped afterwards): its SQLAlchemy URL."""
    url = postgres_server.create_database()
    yield url
    postgres_server.drop_database(url)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "both_databases: run each test that uses state_url (or a fixture built on "
                            "it) on SQLite and on PostgreSQL")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``state_backend`` (so ``state_url`` and ``migrated_state_url``) on both databases for a test marked
    ``both_databases``; on SQLite otherwise. The environment widens that: ``LAKEWARDEN_TEST_STATE=both``
    runs every state test on both, ``=postgresql`` on PostgreSQL only."""
    if "state_backend" not in metafunc.fixturenames:
        return
    wanted = os.environ.get(ENV_STATE, "").strip().lower()
    if wanted == "postgresql":
        metafunc.parametrize("state_backend", STATE_BACKENDS[1:], indirect=True)
    elif wanted == "both" or metafunc.definition.get_closest_marker("both_databases"):
        metafunc.parametrize("state_backend", STATE_BACKENDS, indirect=True)


@pytest.fixture
def state_backend(request: pytest.FixtureRequest) -> str:
    """``sqlite`` or ``postgresql`` (see ``pytest_generate_tests``)."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture
def state_url(state_backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty state database: a SQLite file under tmp_path, or a fresh PostgreSQL database."""
    if state_backend == "sqlite":
        return f"sqlite:///{tmp_path}/state.db"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
def migrated_state_url(state_backend: str, request: pytest.FixtureRequest,
                       tmp_path: Path) -> Callable[[str, Callable[[str], None]], str]:
    """``make(key, migrate)``: a state database that ``migrate(url)`` brought up to date, for this test.

    SQLite: a new file, migrated. PostgreSQL: a copy of a template migrated once per run and ``key``
    (dropped after the test)."""
    def make(key: str, migrate: Callable[[str], None]) -> str:
        if state_backend == "sqlite":
            url = f"sqlite:///{tmp_path}/state.db"
            migrate(url)
            return url
        server: PostgresServer = request.getfixturevalue("postgres_server")
        url = server.create_database(template=server.migrated_template(key, migrate))
        request.addfinalizer(lambda: server.drop_database(url))
        return url

    return make
