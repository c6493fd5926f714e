"""Fixtures for the retrain tests: a demo lakehouse, MLflow on SQLite, a state database, a fake clock.

Helpers live in ``lw_support.py`` beside this file; this directory is put on ``sys.path`` so test
modules can import it (pytest runs with --import-mode=importlib).
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lw_support import JOBS, REPO, T0, churn_rows, write_table
from lw_world import World

from config.basics.clock import SimulatedClock
from retrain.backends.local_serving import LocalServingBackend
from retrain.registry import MlflowRegistry
from retrain.schema import MIGRATIONS


@pytest.fixture
def lakehouse(tmp_path: Path) -> Path:
    """Training rows before T0; drifted, labelled inference rows from T0 on (some labels missing)."""
    root = tmp_path / "lakehouse"
    rng = np.random.default_rng(7)
    write_table(
        root, "main.demo.churn_training", churn_rows(500, rng, T0 - timedelta(days=30), drifted=False)
    )
    recent = churn_rows(900, rng, T0, drifted=True)
    labels = np.asarray(recent["label"])
    recent["label"] = pa.array(labels, pa.int32(), mask=rng.random(labels.size) < 0.1)
    recent["model_id"] = np.full(labels.size, "churn@1")
    recent["probability"] = rng.random(labels.size)
    recent["prediction"] = (np.asarray(recent["probability"]) > 0.5).astype(np.int32)
    write_table(root, "main.demo.churn_inference", recent)
    return root


@pytest.fixture(scope="session")
def mlflow_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty MLflow database with its tables made once: creating them costs seconds per database."""
    from mlflow import MlflowClient  # mlflow takes seconds to import: only when a test needs it

    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    uri = f"sqlite:///{path}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.search_experiments()
    client.search_registered_models()
    return path


@pytest.fixture
def mlflow_uri(tmp_path: Path, mlflow_template: Path) -> str:
    shutil.copyfile(mlflow_template, tmp_path / "mlflow.db")
    return f"sqlite:///{tmp_path}/mlflow.db"


@pytest.fixture
def job_env(mlflow_uri: str) -> dict[str, str]:
    """What the composition root would give the local backend."""
    return {
        "MLFLOW_TRACKING_URI": mlflow_uri,
        "MLFLOW_REGISTRY_URI": mlflow_uri,
        "PYTHONPATH": os.pathsep.join([str(REPO), str(JOBS)]),
    }


def _migrate_retrain(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for migrate in MIGRATIONS:
            migrate(conn)
    engine.dispose()


@pytest.fixture
def engine(migrated_state_url: Callable[[str, Callable[[str], None]], str]) -> Iterator[sa.Engine]:
    """The retrain tables, migrated, in a new SQLite file (or PostgreSQL database: tests/pg_server.py)."""
    engine = sa.create_engine(migrated_state_url("retrain", _migrate_retrain))
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(T0)


@pytest.fixture
def world(
    engine: sa.Engine, clock: SimulatedClock, mlflow_uri: str, job_env: dict[str, str], tmp_path: Path
) -> World:
    """Real MLflow, state database, local jobs and serving records, a fake clock (``lw_world``)."""
    return World(engine, clock, MlflowRegistry(mlflow_uri), LocalServingBackend(engine, clock),
                 tmp_path / "jobs", job_env, tmp_path)
