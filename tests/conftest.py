"""Test-wide set-up: a quiet, offline, loopback-only environment.

Tests that start Spark share one session for the whole run (``spark_engine`` below).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from monitor.engines.local_spark import LocalSparkEngine

# pytester: tests/test_marks_guard.py; marks_guard: a test that starts Spark, a subprocess or a server
# fails unless it is marked integration; pg_server: one throwaway PostgreSQL server per run, a database
# per test (postgres_server, pg_url, state_url).
pytest_plugins = ["pytester", "tests.marks_guard", "tests.pg_server"]

os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
os.environ["PYSPARK_PYTHON"] = sys.executable
os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
os.environ["DO_NOT_TRACK"] = "1"
for _name in [n for n in os.environ if n.startswith("DATABRICKS_")]:
    del os.environ[_name]


@pytest.fixture(scope="session")
def spark_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSparkEngine]:
    """One local Spark engine per test run, its lakehouse under a session temporary folder.

    Tests share it: each test writes tables under its own schema (e.g. ``main.<test name>.t``).
    """
    from monitor.engines.local_spark import LocalSparkEngine

    engine = LocalSparkEngine(tmp_path_factory.mktemp("lakehouse"))
    _ = engine.spark  # start once, here, so that the first test does not pay for it
    yield engine
    engine.close()


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """For tests that run the CLI's ``main`` in-process: it points logging at the sys.stderr of the
    moment (capsys's), so point it back afterwards. Use with ``pytest.mark.usefixtures``."""
    yield
    from monitor.logs import configure_logging

    configure_logging(stream=sys.__stderr__)
