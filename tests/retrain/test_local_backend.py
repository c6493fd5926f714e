"""LocalJobBackend with real subprocesses: arguments, environment, status, idempotent start, cancel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lw_support import JOBS, REPO

from retrain.backends.base import JobState, JobStatus
from retrain.backends.local import RUNNER, LocalJobBackend

pytestmark = pytest.mark.integration


@pytest.fixture
def backend(tmp_path: Path) -> LocalJobBackend:
    parent = {**os.environ, "DATABRICKS_TOKEN": "dapi-secret", "DATABRICKS_HOST": "https://x"}
    env = {"MLFLOW_TRACKING_URI": "sqlite:///m.db", "PYTHONPATH": f"{REPO}{os.pathsep}{JOBS}"}
    return LocalJobBackend(workdir=tmp_path / "jobs", env=env, parent_env=parent)


def wait(backend: LocalJobBackend, external_id: str) -> JobStatus:
    deadline = time.monotonic() + 60
    while (status := backend.status(external_id)).state is JobState.RUNNING:
        assert time.monotonic() < deadline, "job did not finish"
        time.sleep(0.02)
    return status


def test_job_gets_named_parameters_and_a_clean_environment(backend: LocalJobBackend, tmp_path: Path) -> None:
    dump = tmp_path / "dump.json"
    params = {"model_name": "churn", "reason": "drift: a b", "dump": str(dump), "register": "no"}
    external_id = backend.start("run1", "lw_fake_job", params)
    assert wait(backend, external_id) == JobStatus(JobState.SUCCEEDED, "exited with code 0")
    seen = json.loads(dump.read_text())
    assert seen["argv"] == ["--model_name=churn", "--reason=drift: a b", f"--dump={dump}", "--register=no"]
    env = seen["env"]
    assert not [name for name in env if name.startswith("DATABRICKS_")]
    assert env["MLFLOW_TRACKING_URI"] == env["MLFLOW_REGISTRY_URI"] == "sqlite:///m.db"
    assert env["MLFLOW_DISABLE_TELEMETRY"] == "true"


def test_a_second_start_for_the_same_run_does_not_start_another_job(
    backend: LocalJobBackend, tmp_path: Path
) -> None:
    starts = tmp_path / "starts.txt"
    params = {"starts": str(starts), "register": "no"}
    first = backend.start("run1", "lw_fake_job", params)
    again = backend.start("run1", "lw_fake_job", params)
    wait(backend, first)
    restarted = LocalJobBackend(workdir=backend.workdir, env={"MLFLOW_TRACKING_URI": "sqlite:///m.db"})
    assert restarted.start("run1", "lw_fake_job", params) == again == first
    assert len(starts.read_text().splitlines()) == 1


def test_a_failed_job_reports_its_exit_code_and_log_tail(backend: LocalJobBackend) -> None:
    status = wait(backend, backend.start("run1", "lw_fake_job", {"fail": "no training data"}))
    assert status.state is JobState.FAILED
    assert status.message == "exited with code 3"
    assert "fatal: no training data" in status.log_tail
    assert "training step 29" in status.log_tail
    assert "training step 5\n" not in status.log_tail  # only the tail


def test_status_survives_a_restart_of_the_daemon(backend: LocalJobBackend) -> None:
    external_id = backend.start("run1", "lw_fake_job", {"fail": "boom"})
    wait(backend, external_id)
    restarted = LocalJobBackend(workdir=backend.workdir, env={"MLFLOW_TRACKING_URI": "sqlite:///m.db"})
    status = restarted.status(external_id)
    assert (status.state, status.message) == (JobState.FAILED, "exited with code 3")


def test_a_running_job_seen_by_a_restarted_backend_is_running_and_cancellable(
    backend: LocalJobBackend, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    external_id = backend.start("run1", "lw_fake_job", {"gate": str(gate), "register": "no"})
    restarted = LocalJobBackend(workdir=backend.workdir, env={"MLFLOW_TRACKING_URI": "sqlite:///m.db"})
    assert restarted.status(external_id).state is JobState.RUNNING
    restarted.cancel(external_id)
    status = wait(restarted, external_id)
    assert (status.state, status.message) == (JobState.FAILED, "cancelled")
    assert backend.status(external_id).message == "cancelled"


def test_cancel_of_a_finished_job_changes_nothing(backend: LocalJobBackend) -> None:
    external_id = backend.start("run1", "lw_fake_job", {"register": "no"})
    wait(backend, external_id)
    backend.cancel(external_id)
    assert backend.status(external_id).state is JobState.SUCCEEDED


def test_unknown_job_is_failed_not_running(backend: LocalJobBackend) -> None:
    status = backend.status("never-started")
    assert status.state is JobState.FAILED
    assert "no local job" in status.message


@pytest.mark.parametrize("bad", ["../escape", "a b", ""])
def test_run_ids_that_are_not_file_names_are_refused(backend: LocalJobBackend, bad: str) -> None:
    with pytest.raises(ValueError, match="run id"):
        backend.start(bad, "lw_fake_job", {})


def test_tracking_uri_is_required(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="MLFLOW_TRACKING_URI"):
        LocalJobBackend(workdir=tmp_path, env={}, parent_env={})


def test_a_runner_that_loses_the_claim_race_answers_taken_and_starts_nothing(
    backend: LocalJobBackend, tmp_path: Path
) -> None:
    """Two runners for one run (two daemons, or a restart while the first was starting): one job."""
    starts, gate = tmp_path / "starts.txt", tmp_path / "gate"
    params = {"starts": str(starts), "gate": str(gate), "register": "no"}
    external_id = backend.start("run1", "lw_fake_job", params)
    claim = backend.workdir / "run1.claim"
    holder = json.loads(claim.read_text())
    # The second runner, started as the backend starts one, after the first took the claim.
    read_end, write_end = os.pipe()
    second = subprocess.run(
        [sys.executable, "-I", str(RUNNER), f"--report-fd={write_end}", str(claim),
         str(backend.workdir / "run1.exit"), "lw_fake_job", f"--starts={starts}", "--register=no"],
        env={**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{JOBS}"}, pass_fds=(write_end,),
        capture_output=True, timeout=60, check=False)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as answer:
        assert answer.read() == b"taken"
    assert second.returncode == 0, second.stderr
    assert json.loads(claim.read_text()) == holder  # the winner's pid and start time, untouched
    assert backend.status(external_id).message == f"claimed and running as pid {holder['pid']}"
    gate.touch()
    assert wait(backend, external_id).state is JobState.SUCCEEDED
    assert len(starts.read_text().splitlines()) == 1
    assert not list(backend.workdir.glob("*.tmp"))  # the loser's claim draft is gone
