"""Jobs that outlive the lakewarden that started them: reported at its stop, adopted by the next, failed once dead.

Real local jobs (``lw_fake_job`` held on a gate file), one state database, and two ``Lifecycle``
objects on it: the daemon that stops and the one that starts after it (``World.lifecycle``).
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
from lw_support import drive
from lw_world import World, job_outcome, settings
from structlog.testing import capture_logs

from retrain.runs import RunState

pytestmark = pytest.mark.integration


def started(world: World, gate: Path) -> tuple[object, str]:
    """A run whose retraining job runs (held on ``gate``), started by a first lifecycle."""
    world.champion()
    first = world.lifecycle(settings(retrain={"parameters": {"gate": str(gate)}}))
    run_id = world.start(first)
    drive(first, run_id, until=lambda run: "job_external_id" in run.external)
    return first, run_id


def test_a_job_outliving_a_stop_is_reported_then_adopted_by_the_next_start(world: World) -> None:
    gate = world.tmp / "gate"
    first, run_id = started(world, gate)
    with capture_logs() as logs:
        assert first.report_outliving_jobs() == [(run_id, run_id)]  # the daemon's stop
    (outlives,) = [e for e in logs if e["event"] == "lifecycle_job_outlives_daemon"]
    assert (outlives["run_id"], outlives["job"], outlives["backend"]) == (run_id, run_id, "local")
    assert outlives["status"].startswith("claimed and running as pid")
    run = first.get(run_id)
    assert run is not None and run.external["job_outlived_daemon"]["by"] == first.owner

    second = world.lifecycle(settings(retrain={"parameters": {"gate": str(gate)}}))  # the next start
    with capture_logs() as logs:
        second.advance()
        second.advance()  # adopted once, not on every tick
    (adopted,) = [e for e in logs if e["event"] == "lifecycle_job_adopted"]
    assert (adopted["started_by"], adopted["adopted_by"]) == (first.owner, second.owner)
    run = second.get(run_id)
    assert run is not None and run.state is RunState.RUNNING
    assert [a["by"] for a in run.external["job_adoptions"]] == [second.owner]
    assert run.external["job_owner"] == second.owner
    gate.touch()
    assert drive(second, run_id).external["job_status"] == "exited with code 0"
    assert len(list(world.jobs_dir.glob("*.claim"))) == 1  # adopted, never started again


def test_a_job_whose_runner_died_fails_the_run_at_the_next_tick_not_at_its_timeout(world: World) -> None:
    first, run_id = started(world, world.tmp / "never")
    claim = json.loads((world.jobs_dir / f"{run_id}.claim").read_text())
    os.killpg(claim["pid"], signal.SIGKILL)  # the runner and its job, as an OOM kill or a reboot would
    job_outcome(first.backend, run_id)  # once the kill landed (and the runner, a child of this process, is reaped)
    second = world.lifecycle()
    second.advance()  # the clock has not moved: the 10 minute timeout is far away
    run = second.get(run_id)
    assert run is not None and run.state is RunState.FAILED, run
    assert f"started and died: the job's runner (pid {claim['pid']}) is gone" in str(run.decision)
    assert run.external["job_status"].startswith("started and died")  # what ``lifecycle show`` prints
    assert not (world.jobs_dir / f"{run_id}.exit").exists()
