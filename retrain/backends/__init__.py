"""Job backends: where lifecycle jobs run."""

from retrain.backends.base import JobBackend, JobState, JobStatus, job_arguments
from retrain.backends.local import LocalJobBackend, job_environment

__all__ = ["JobBackend", "JobState", "JobStatus", "LocalJobBackend", "job_arguments", "job_environment"]
