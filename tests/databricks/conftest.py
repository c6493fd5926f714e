"""Fixtures for the Databricks backends: the workspace emulator on 127.0.0.1 and SDK clients for it.

The emulator lives in ``tests/emulator`` (its modules are put on ``sys.path`` here, as the retrain
tests do for their helpers); it runs SQL on the test run's one Spark session (``spark_engine``) over
that engine's lakehouse folder, so a table written with ``spark_engine.write`` is visible to both.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "emulator"))

from emu_server import Emulator

from tests.databricks.dbx_support import settings_for, start_spark_connect, stop_spark_connect

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient

    from monitor.engines.local_spark import LocalSparkEngine


@pytest.fixture
def emulator(spark_engine: LocalSparkEngine) -> Iterator[Emulator]:
    """A fresh emulated workspace per test (its state is cheap; the Spark session is shared)."""
    emu = Emulator(spark_engine.root, lambda: spark_engine.spark)
    emu.start()
    yield emu
    emu.stop()


@pytest.fixture
def workspace(emulator: Emulator) -> WorkspaceClient:
    """The real databricks-sdk client, pointed at the emulator, with a short retry budget."""
    from retrain.databricks.client import workspace_client

    return workspace_client(settings_for(emulator.url))



@pytest.fixture(scope="session")
def spark_connect_url(spark_engine: LocalSparkEngine) -> Iterator[str]:
    """A Spark Connect server on the run's one SparkContext (same JVM, same lakehouse folder)."""
    url, service = start_spark_connect(spark_engine.spark)
    yield url
    stop_spark_connect(service)
