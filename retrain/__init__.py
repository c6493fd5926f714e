"""Lifecycle runs for ML models: retrain, validate the challenger, promote it, within guardrails."""

from retrain.backends import JobBackend, JobState, JobStatus, LocalJobBackend
from retrain.guardrails import StartDecision, StartReason
from retrain.lifecycle import RUN_ID_TAG, VALIDATION_TAG, Lifecycle
from retrain.registry import MlflowRegistry, ModelRegistry
from retrain.runs import LifecycleEvent, RunRecord, RunState, Step
from retrain.schema import MIGRATIONS
from retrain.trigger import Trigger

__all__ = [
    "MIGRATIONS",
    "RUN_ID_TAG",
    "VALIDATION_TAG",
    "JobBackend",
    "JobState",
    "JobStatus",
    "Lifecycle",
    "LifecycleEvent",
    "LocalJobBackend",
    "MlflowRegistry",
    "ModelRegistry",
    "RunRecord",
    "RunState",
    "StartDecision",
    "StartReason",
    "Step",
    "Trigger",
]
