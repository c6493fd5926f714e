"""Helpers for the retrain tests: demo churn data, running the demo job, driving runs."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from retrain.lifecycle import Lifecycle
from retrain.registry import MlflowRegistry
from retrain.runs import RunRecord

REPO = Path(__file__).resolve().parents[2]
JOBS = Path(__file__).resolve().parent / "jobs"
T0 = datetime(2026, 3, 1, tzinfo=UTC)
CONTRACTS = np.array(["month-to-month", "one-year", "two-year"])
PAYMENTS = np.array(["card", "bank", "check", "wallet"])


def churn_rows(n: int, rng: np.random.Generator, start: datetime, *, drifted: bool) -> dict[str, object]:
    """Churn-like rows in the brief's schema; ``drifted`` changes how payment method drives churn."""
    tenure = rng.uniform(0, 72, n)
    charges = rng.uniform(20, 120, n)
    calls = rng.poisson(2, n).astype(np.int32)
    age = rng.uniform(18, 80, n)
    contract = rng.choice(CONTRACTS, n, p=[0.5, 0.3, 0.2])
    payment = rng.choice(PAYMENTS, n)
    logit = -0.5 - 0.04 * tenure + 0.015 * charges + 0.3 * calls
    logit += np.select([contract == "month-to-month", contract == "two-year"], [1.0, -1.2], 0.0)
    if drifted:
        logit += np.select([payment == "wallet", payment == "card"], [3.0, -2.5], 0.5)
    label = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int32)
    stamps = [start + timedelta(minutes=i) for i in range(n)]
    return {
        "timestamp": pa.array(stamps, pa.timestamp("us", tz="UTC")),
        "tenure_months": tenure,
        "monthly_charges": charges,
        "support_calls": calls,
        "age": age,
        "contract": contract,
        "payment_method": payment,
        "label": label,
    }


def write_table(root: Path, name: str, columns: dict[str, object]) -> None:
    folder = root.joinpath(*name.split("."))
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), folder / "part-00000.parquet")


def run_demo_train(job_env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m monitor.demo.train ARGS`` with the job environment."""
    return subprocess.run(
        [sys.executable, "-m", "monitor.demo.train", *args],
        env={**os.environ, **job_env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def drive(
    lifecycle: Lifecycle, run_id: str, *, until: Callable[[RunRecord], bool] | None = None
) -> RunRecord:
    """Call ``advance`` until the run is final (or ``until`` holds), waiting for real subprocesses."""
    deadline = time.monotonic() + 120
    while True:
        lifecycle.advance()
        run = lifecycle.get(run_id)
        assert run is not None
        if until(run) if until else run.state.final:
            return run
        assert time.monotonic() < deadline, f"run {run_id} stuck at {run.state} / {run.step}"
        time.sleep(0.05)


def make_version(
    registry: MlflowRegistry,
    model: str,
    metrics: dict[str, float] | None = None,
    tags: dict[str, str] | None = None,
) -> str:
    """A registered version of ``model`` whose MLflow run carries ``metrics`` (no model files)."""
    client = registry.client
    if not client.search_registered_models(f"name = '{model}'"):
        client.create_registered_model(model)
    experiment = client.get_experiment_by_name("lw-tests")
    if experiment is None:
        uri = registry.tracking_uri.removeprefix("sqlite:///")
        experiment_id = client.create_experiment("lw-tests", artifact_location=str(Path(uri).parent / "art"))
    else:
        experiment_id = experiment.experiment_id
    run = client.create_run(experiment_id)
    for key, value in (metrics or {}).items():
        client.log_metric(run.info.run_id, key, value)
    client.set_terminated(run.info.run_id)
    version = client.create_model_version(model, f"{run.info.artifact_uri}/model", run.info.run_id, tags=tags)
    return str(version.version)
