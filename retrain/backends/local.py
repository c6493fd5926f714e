"""Local job backend: lifecycle jobs as detached subprocesses on this machine.

Job contract (the same for a local module and a Databricks job)
----------------------------------------------------------------
Parameters reach the job as ``--key=value`` arguments, which is what Databricks
``python_wheel_task`` named parameters look like. They always include

- ``model_name``: the MLflow registered model to add a version to,
- ``lakewarden_run_id``: the lifecycle run asking for the job,
- ``reason``: why (the trigger's reason text),
- ``window_start``, ``window_end``: the monitored window that triggered it (ISO 8601 UTC, empty
  when the trigger had none),

plus the ``retrain.parameters`` of the model's settings. The job then

1. registers a new version of ``model_name`` in MLflow and tags that version with
   ``lakewarden.run_id=<lakewarden_run_id>``;
2. logs on the version's MLflow run ``holdout_<metric>`` (the new model, the challenger, on its
   holdout) and ``champion_holdout_<metric>`` (the model under the champion alias on the SAME
   holdout; not logged when there is no champion);
3. exits 0, or non-zero with a message on stderr.

The lifecycle finds the version by its tag, so a job that finished is never run again to learn its
result; and a job is started at most once per lifecycle run (``start`` is idempotent on the run id).

Environment of the job: the parent's environment minus every ``DATABRICKS_*`` variable (secrets
stay out of local jobs), then the backend's ``env`` (``MLFLOW_TRACKING_URI``,
``MLFLOW_REGISTRY_URI``, ``PYTHONPATH``...), then ``MLFLOW_DISABLE_TELEMETRY=true`` and
``PYTHONUNBUFFERED=1``.

Files under ``workdir`` per run: ``<run_id>.log`` (stdout and stderr), ``<run_id>.claim`` (written
by the runner that took the job: its pid and start time, see ``runner.py``), ``<run_id>.exit``
(written by the runner when the job ends), ``<run_id>.cancel`` (cancel was asked); an older
release also wrote ``<run_id>.pid``, still read. They outlive the daemon, so status survives a
restart, and the three claimed states are told apart:

- a claim whose runner lives (same pid, same start time): ``claimed and running``, adopted;
- a claim whose runner is gone and no exit file: ``started and died``, FAILED at once (not at the
  timeout). It is not started again: a job that died half-way may have registered a version or
  written outputs, and the contract is one start per run; the run fails, pages, and a new run
  starts after the cooldown (or ``lakewarden lifecycle start``);
- no claim: never started, whatever moment the daemon was killed at; ``start`` starts it.
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import structlog

from retrain.backends.base import JobState, JobStatus, job_arguments
from retrain.backends.runner import process_start

log = structlog.get_logger(__name__)

RUNNER = Path(__file__).with_name("runner.py")
_RUN_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_TARGET = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_ANSWER_TIMEOUT = 30.0  # seconds a runner may take to claim its job (python start-up on a busy host)


def job_environment(env: Mapping[str, str], parent: Mapping[str, str]) -> dict[str, str]:
    """The environment a local job gets (see the module docstring)."""
    merged = {key: value for key, value in parent.items() if not key.startswith("DATABRICKS_")}
    merged.update(env)
    merged["MLFLOW_DISABLE_TELEMETRY"] = "true"
    merged["PYTHONUNBUFFERED"] = "1"
    if "MLFLOW_TRACKING_URI" not in merged:
        raise ValueError(
            "local jobs need MLFLOW_TRACKING_URI (pass it in env): without it a job "
            "registers its model in ./mlruns where lakewarden cannot find it"
        )
    merged.setdefault("MLFLOW_REGISTRY_URI", merged["MLFLOW_TRACKING_URI"])
    return merged


class LocalJobBackend:
    """Runs ``python -m <module> --key=value ...`` detached, one job per lifecycle run id."""

    kind = "local"

    def __init__(
        self,
        *,
        workdir: Path,
        env: Mapping[str, str],
        python: str = sys.executable,
        parent_env: Mapping[str, str] | None = None,
        log_tail_lines: int = 20,
    ) -> None:
        self.workdir = workdir
        self.python = python
        self._env = job_environment(env, os.environ if parent_env is None else parent_env)
        self._tail_lines = log_tail_lines
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        workdir.mkdir(parents=True, exist_ok=True)

    def _path(self, run_id: str, suffix: str) -> Path:
        if not _RUN_ID.fullmatch(run_id):
            raise ValueError(f"a run id of letters, digits, '_' and '-', not {run_id!r}")
        return self.workdir / f"{run_id}.{suffix}"

    def start(self, run_id: str, target: str, params: Mapping[str, str]) -> str:
        """Start ``target`` (a module, or a ``.py`` path) for ``run_id``; the external id is the run id.

        The runner claims the job itself (``runner.py``): a claim that exists means a runner took the
        job, so it is adopted, never started again; no claim means no job, whatever happened before.
        """
        if not (_TARGET.fullmatch(target) or target.endswith(".py")):
            raise ValueError(f"a module name or a .py path, not {target!r}")
        claim = self._path(run_id, "claim")
        if claim.exists():
            if self._process(run_id) is not None or self._path(run_id, "exit").exists():
                log.info("local_job_already_started", run_id=run_id)
                return run_id
            # An empty claim and no pid file: an older release claimed the job and stopped before
            # starting it. Nothing runs for it, so it is started now.
            log.warning("local_job_claimed_never_started", run_id=run_id, claim=str(claim),
                        note="claimed by an earlier lakewarden that stopped before starting it; starting it now")
            claim.unlink(missing_ok=True)
        answer = self._spawn(run_id, target, params)
        if answer == "taken":
            log.info("local_job_already_started", run_id=run_id)
        return run_id

    def _spawn(self, run_id: str, target: str, params: Mapping[str, str]) -> str:
        """Spawn a runner and wait for its answer: ``claimed`` (it runs the job) or ``taken`` (another does)."""
        proc, read_end = self._launch(run_id, target, params)
        try:
            answer = _read_answer(read_end, _ANSWER_TIMEOUT)
        finally:
            os.close(read_end)
        if answer == "claimed":
            self._procs[run_id] = proc
            log.info("local_job_started", run_id=run_id, target=target, pid=proc.pid)
            return answer
        if answer == "taken":
            proc.wait()
            return answer
        if proc.poll() is None:
            # Slow, not dead: it may still claim. Nothing is recorded; the next start adopts its claim.
            raise RuntimeError(f"the local job runner for run {run_id} (pid {proc.pid}) did not claim the job "
                               f"within {_ANSWER_TIMEOUT:.0f} s; the next lifecycle tick looks again")
        raise RuntimeError(f"the local job runner for run {run_id} exited with code {proc.returncode} before "
                           f"claiming the job; see {self._path(run_id, 'log')}")

    def _launch(self, run_id: str, target: str, params: Mapping[str, str]) -> tuple[subprocess.Popen[bytes], int]:
        """Spawn the runner; its process and the read end of its report pipe."""
        read_end, write_end = os.pipe()
        argv = [self.python, "-I", str(RUNNER), f"--report-fd={write_end}", str(self._path(run_id, "claim")),
                str(self._path(run_id, "exit")), target, *job_arguments(params)]
        try:
            with self._path(run_id, "log").open("ab") as out:
                proc = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    cwd=self.workdir,
                    env=self._env,
                    start_new_session=True,
                    pass_fds=(write_end,),
                )
        except OSError:
            os.close(read_end)
            raise
        finally:
            os.close(write_end)
        return proc, read_end

    def status(self, external_id: str) -> JobStatus:
        """RUNNING, SUCCEEDED, or FAILED with a message and the end of the job's log.

        The message tells the three claimed states apart: ``claimed and running as pid N``,
        ``started and died`` (the runner is gone without an exit record: failed at once, not at the
        timeout), and ``claimed and never started`` (a claim of an older release without a pid).
        """
        exit_status = self._exit_status(external_id)
        if exit_status is not None:
            return exit_status
        pid = self._pid(external_id)
        if pid is None:
            if self._path(external_id, "claim").exists():
                return JobStatus(JobState.FAILED, "claimed and never started: an older lakewarden claimed the job "
                                 "and stopped before starting it")
            return JobStatus(JobState.FAILED, f"no local job for run {external_id} in {self.workdir}")
        if self._alive(external_id, pid):
            return JobStatus(JobState.RUNNING, f"claimed and running as pid {pid}")
        # The runner may have written its exit file between the two checks.
        exit_status = self._exit_status(external_id)
        if exit_status is not None:
            return exit_status
        if self._path(external_id, "cancel").exists():
            return JobStatus(JobState.FAILED, "cancelled", self._log_tail(external_id))
        return JobStatus(
            JobState.FAILED,
            f"started and died: the job's runner (pid {pid}) is gone without writing an exit status "
            "(killed, out of memory, or the machine restarted); the job is not started again for this run",
            self._log_tail(external_id),
        )

    def find(self, key: str, target: str, params: Mapping[str, str]) -> list[str]:
        """``[key]`` when a runner claimed the job of ``key`` and it still runs (the external id is the key)."""
        if not self._path(key, "claim").exists():
            return []
        return [key] if self.status(key).state is JobState.RUNNING else []

    def cancel(self, external_id: str) -> None:
        """SIGTERM to the job's process group; a second cancel of a job still alive sends SIGKILL."""
        marker = self._path(external_id, "cancel")
        again = marker.exists()
        marker.touch()
        pid = self._pid(external_id)
        if pid is None or not self._alive(external_id, pid):
            return
        sig = signal.SIGKILL if again else signal.SIGTERM
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        log.info("local_job_cancelled", run_id=external_id, pid=pid, signal=sig.name)

    def _exit_status(self, run_id: str) -> JobStatus | None:
        path = self._path(run_id, "exit")
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            return JobStatus(JobState.FAILED, f"unreadable exit status {path}: {exc}", self._log_tail(run_id))
        proc = self._procs.pop(run_id, None)
        if proc is not None:
            proc.poll()  # reap the runner
        returncode = int(record.get("returncode", -1))
        if returncode == 0:
            return JobStatus(JobState.SUCCEEDED, "exited with code 0")
        if self._path(run_id, "cancel").exists():
            message = "cancelled"
        elif record.get("signal"):
            message = f"killed by {record['signal']}"
        elif record.get("error"):
            message = f"could not start: {record['error']}"
        else:
            message = f"exited with code {returncode}"
        return JobStatus(JobState.FAILED, message, self._log_tail(run_id))

    def _pid(self, run_id: str) -> int | None:
        return None if (process := self._process(run_id)) is None else process[0]

    def _process(self, run_id: str) -> tuple[int, str | None] | None:
        """The runner's pid and start time from its claim (or the ``.pid`` file of an older release)."""
        for suffix in ("claim", "pid"):
            try:
                record = json.loads(self._path(run_id, suffix).read_text(encoding="utf-8"))
                return int(record["pid"]), record.get("started")
            except (FileNotFoundError, ValueError, KeyError, TypeError):
                continue
        return None

    def _alive(self, run_id: str, pid: int) -> bool:
        proc = self._procs.get(run_id)
        if proc is not None:
            return proc.poll() is None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return False  # not ours: the pid was reused
        process = self._process(run_id)
        recorded = None if process is None else process[1]
        if recorded is None:
            return True  # no procfs when it started (macOS): trust the pid
        # Same pid and same start time: the same process, not a reuse of its pid.
        return process_start(pid) == recorded

    def _log_tail(self, run_id: str) -> str:
        path = self._path(run_id, "log")
        try:
            with path.open("rb") as handle:
                handle.seek(max(0, path.stat().st_size - 16384))
                text = handle.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.rstrip().splitlines()[-self._tail_lines :])


def _read_answer(fd: int, timeout: float) -> str:
    """What the runner wrote to its report pipe before closing it ("" when it closed without a word)."""
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            break
        chunk = os.read(fd, 64)
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode("ascii", errors="replace")
