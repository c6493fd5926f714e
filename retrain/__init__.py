"""Lifecycle runs for ML models: retrain, validate the challenger, promote it, within guardrails."""

from retrain.backends import JobBackend, JobState, JobStatus, LocalJobBackend
from retrain.backends.local_serving import LocalServingBackend
from retrain.guardrails import StartDecision, StartReason
from retrain.lifecycle import RUN_ID_TAG, VALIDATION_TAG, Lifecycle
from retrain.ports import AssessmentReader, MonitorRefresher, RefreshState, WindowVerdict
from retrain.registry import MlflowRegistry, ModelRegistry
from retrain.runbook import RunBook
from retrain.runs import LifecycleEvent, RunRecord, RunState, Step
from retrain.schema import MIGRATIONS
from retrain.serving import EndpointMissing, ServedEntity, ServingBackend, ServingError, entity_name_for
from retrain.trigger import Trigger

__all__ = [
    "MIGRATIONS",
    "RUN_ID_TAG",
    "VALIDATION_TAG",
    "AssessmentReader",
    "EndpointMissing",
    "JobBackend",
    "JobState",
    "JobStatus",
    "Lifecycle",
    "LifecycleEvent",
    "LocalJobBackend",
    "LocalServingBackend",
    "MlflowRegistry",
    "ModelRegistry",
    "MonitorRefresher",
    "RefreshState",
    "RunBook",
    "RunRecord",
    "RunState",
    "ServedEntity",
    "ServingBackend",
    "ServingError",
    "StartDecision",
    "StartReason",
    "Step",
    "Trigger",
    "WindowVerdict",
    "entity_name_for",
]
