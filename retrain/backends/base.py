"""What every job backend offers the lifecycle: start a job once per run, ask how it went, cancel it."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol


class JobState(enum.Enum):
    """Where a job is: still running, or finished one way or the other."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True)
class JobStatus:
    """A job's state, a one-line message, and for a failure the end of its log."""

    state: JobState
    message: str = ""
    log_tail: str = ""


class JobBackend(Protocol):
    """Runs lifecycle jobs. ``kind`` matches ``retrain.backend`` in the settings."""

    @property
    def kind(self) -> str: ...

    def start(self, run_id: str, target: str, params: Mapping[str, str]) -> str:
        """Start the job for ``run_id`` (or return the one already started for it); the external id."""
        ...

    def status(self, external_id: str) -> JobStatus:
        """The job's state now, without waiting."""
        ...

    def cancel(self, external_id: str) -> None:
        """Ask the job to stop; a finished or unknown job is left alone."""
        ...

    def find(self, key: str, target: str, params: Mapping[str, str]) -> list[str]:
        """External ids of running jobs that ``start(key, target, ...)`` started, found without starting one.

        For a start whose external id was never recorded (the daemon was killed between the start
        and its record) and a run cancelled since: what ``cancel`` must still stop. ``params`` are
        parameters every such job was given (the lifecycle run id among them).
        """
        ...


def job_arguments(params: Mapping[str, str]) -> list[str]:
    """Parameters as ``--key=value`` arguments, the shape of Databricks python_wheel_task named parameters."""
    return [f"--{key}={value}" for key, value in params.items()]
