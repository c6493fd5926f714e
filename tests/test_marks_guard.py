"""The marks guard (tests/marks_guard.py): an unmarked test that starts a server, a process or Spark fails
with a message that says to mark it; the same test marked ``integration`` passes. Runs pytest in process
(pytester), with nothing actually started for the unmarked tests."""

from __future__ import annotations

import pytest

CONFTEST = '''
import pytest

pytest_plugins = ["tests.marks_guard"]


@pytest.fixture(scope="session")
def spark_engine():
    raise AssertionError("the guard refuses the Spark fixture before it is set up")


@pytest.fixture
def server():
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    yield sock
    sock.close()
'''

TESTS = '''
import multiprocessing
import socket
import subprocess
import sys
import threading

import pytest


def test_subprocess():
    subprocess.run([sys.executable, "-c", "pass"], check=True)


def test_process():
    multiprocessing.get_context("spawn").Process(target=print).start()


def test_server_socket():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()


def test_server_fixture(server):
    pass


def test_spark_fixture(spark_engine):
    pass


def test_swallowed_in_a_thread():
    def start():
        try:
            subprocess.run([sys.executable, "-c", "pass"], check=True)
        except Exception:
            pass

    thread = threading.Thread(target=start)
    thread.start()
    thread.join()


def test_plain():
    assert sum([1, 2]) == 3


@pytest.mark.integration
def test_marked_server_fixture(server):
    assert server.getsockname()[0] == "127.0.0.1"
'''


def test_unmarked_tests_that_start_things_fail_with_a_message_to_mark_them(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nmarkers =\n    integration: starts a real component\n")
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_marks=TESTS)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-rfE")
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed") == 2, result.stdout.str()  # test_plain, test_marked_server_fixture
    assert outcomes.get("failed", 0) + outcomes.get("errors", outcomes.get("error", 0)) == 6, result.stdout.str()
    out = result.stdout.str()
    for name, what in [
        ("test_subprocess", "started a subprocess"),
        ("test_process", "started a process"),
        ("test_server_socket", "listened on a server socket (('127.0.0.1', "),
        ("test_server_fixture", "listened on a server socket"),
        ("test_spark_fixture", "uses the Spark fixture 'spark_engine'"),
        ("test_swallowed_in_a_thread", "started a subprocess"),
    ]:
        assert f"test_marks.py::{name} is not marked integration but it {what}" in out, (name, out)
    assert "must be marked: @pytest.mark.integration" in out
