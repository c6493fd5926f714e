"""Honest test marks: a test that starts Spark, a process or a server must be marked ``integration``.

A pytest plugin, registered from ``tests/conftest.py``. While a test that is not marked ``integration``
sets up (its fixtures too) and runs, each of these raises :class:`NotMarkedIntegration`, and the test
fails with a message that names what it started and says to mark it:

- a process: ``subprocess.Popen`` (so ``subprocess.run`` and friends), a ``multiprocessing`` process
  (pools and process executors too), ``os.fork``, ``os.posix_spawn[p]``;
- a server: ``socket.listen`` (``http.server``, asyncio servers, aiosmtpd, uvicorn; not ``bind``, which
  clients do too);
- Spark: ``SparkSession.builder.getOrCreate()``, or a Spark fixture requested (``SPARK_FIXTURES``,
  refused before it is set up, so a session-wide Spark is never started for an unmarked test).

The violation is recorded as well as raised, so the test fails even where the code under test catches
the exception (``except Exception``) or a thread it started swallows it. Threads that were already
running when the test began (a server or a pool an earlier integration test left) are not checked: what
they do is not this test's doing. Teardown is not guarded (it stops things), so session-wide fixtures
that integration tests set up are torn down as usual. ``-m "not integration"`` runs what is left fast.
"""

from __future__ import annotations

import multiprocessing.process
import os
import platform
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

import pytest

MARK = "integration"
SPARK_FIXTURES = frozenset({"spark_engine"})
_PATCHED = "__marks_guard__"


class NotMarkedIntegration(RuntimeError):
    """Raised where a test that is not marked ``integration`` starts Spark, a process or a server."""


def message(test: str, seen: list[str]) -> str:
    what = "; ".join(dict.fromkeys(seen))
    return (f"{test} is not marked {MARK} but it {what}. A test that starts Spark, a subprocess or a server "
            f"must be marked: @pytest.mark.{MARK} on the test, or pytestmark = pytest.mark.{MARK} in its module.")


@dataclass
class _Scope:
    """One phase of one test; the innermost (last) scope decides (pytester runs tests inside a test)."""

    test: str
    guarded: bool
    exempt: frozenset[int]  # threads running before the phase began
    seen: list[str] = field(default_factory=list)


_scopes: list[_Scope] = []


def _check(describe: Callable[[], str]) -> None:
    scope = _scopes[-1] if _scopes else None
    if scope is None or not scope.guarded or threading.get_ident() in scope.exempt:
        return
    what = describe()
    scope.seen.append(what)
    raise NotMarkedIntegration(message(scope.test, [what]))


def _guard(owner: Any, name: str, describe: Callable[..., str]) -> None:
    original = getattr(owner, name)
    if getattr(original, _PATCHED, False):
        return

    @wraps(original)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        _check(lambda: describe(*args, **kwargs))
        return original(*args, **kwargs)

    setattr(guarded, _PATCHED, True)
    setattr(owner, name, guarded)


def _command(args: Any) -> str:
    if isinstance(args, str | bytes | os.PathLike):
        return os.fsdecode(args)[:80]
    parts = [os.fsdecode(a) if isinstance(a, str | bytes | os.PathLike) else str(a) for a in args]
    return " ".join(parts[:4]) + (" ..." if len(parts) > 4 else "")


def _address(sock: socket.socket) -> str:
    try:
        return repr(sock.getsockname())
    except OSError:
        return "unbound"


def install() -> None:
    """Wrap the ways a test starts a process or a server (idempotent; the wrappers cost nothing outside a
    guarded test)."""
    # Python asks `uname -p` once per process, for whoever first wants platform.platform() (mlflow does
    # when it is imported): an environment probe, not the test's doing, so ask it here, before any test.
    platform.processor()
    _guard(subprocess.Popen, "__init__", lambda _self, args, *_a, **_k: f"started a subprocess ({_command(args)})")
    _guard(multiprocessing.process.BaseProcess, "start", lambda self: f"started a process ({self.name})")
    _guard(os, "fork", lambda: "forked a process (os.fork)")
    for name in ("posix_spawn", "posix_spawnp"):
        if hasattr(os, name):
            _guard(os, name, lambda path, *_a, **_k: f"started a process ({os.fsdecode(path)})")
    # listen, not bind: clients bind too (urllib3 binds ::1 to probe for IPv6 when it is imported)
    _guard(socket.socket, "listen", lambda sock, *_a: f"listened on a server socket ({_address(sock)})")
    _install_spark()


def _install_spark() -> None:
    """Spark's builder, once pyspark is imported (Spark's first start also runs java, a subprocess)."""
    session = sys.modules.get("pyspark.sql.session")
    if session is not None:
        _guard(session.SparkSession.Builder, "getOrCreate", lambda *_a, **_k: "started or joined a Spark session")


@contextmanager
def _phase(item: pytest.Item, *, guarded: bool) -> Iterator[_Scope]:
    _install_spark()
    me = threading.get_ident()
    exempt = frozenset(t.ident for t in threading.enumerate() if t.ident is not None and t.ident != me)
    scope = _Scope(item.nodeid, guarded and item.get_closest_marker(MARK) is None, exempt)
    _scopes.append(scope)
    try:
        yield scope
    finally:
        _scopes.remove(scope)


def _guarded(item: pytest.Item) -> Generator[None, object, object]:
    with _phase(item, guarded=True) as scope:
        try:
            result = yield
        except BaseException:
            if not scope.seen:
                raise
            result = None  # the guard's exception, or one that followed from it: the message below says it
    if scope.seen:
        pytest.fail(message(item.nodeid, scope.seen), pytrace=False)
    return result


def pytest_configure(config: pytest.Config) -> None:
    install()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Refuse a Spark fixture before it is set up (and Spark started) for a test not marked integration."""
    if item.get_closest_marker(MARK) is None:
        spark = sorted(SPARK_FIXTURES & set(getattr(item, "fixturenames", ())))
        if spark:
            pytest.fail(message(item.nodeid, [f"uses the Spark fixture {name!r}" for name in spark]), pytrace=False)


@pytest.hookimpl(specname="pytest_runtest_setup", wrapper=True)
def pytest_runtest_setup_guarded(item: pytest.Item) -> Generator[None, object, object]:
    return (yield from _guarded(item))


@pytest.hookimpl(specname="pytest_runtest_call", wrapper=True)
def pytest_runtest_call_guarded(item: pytest.Item) -> Generator[None, object, object]:
    return (yield from _guarded(item))


@pytest.hookimpl(specname="pytest_runtest_teardown", wrapper=True)
def pytest_runtest_teardown_unguarded(item: pytest.Item) -> Generator[None, object, object]:
    """Teardown stops things; a scope of its own keeps an outer test's guard (pytester) out of it."""
    with _phase(item, guarded=False):
        return (yield)
