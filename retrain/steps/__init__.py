"""The lifecycle's steps, one module each, registered by name (see ``retrain.steps.base``)."""

from retrain.runs import Step
from retrain.steps.base import Deps, End, Next, Outcome, Revert, StepContext, StepHandler, Wait
from retrain.steps.batch_score import batch_score
from retrain.steps.emergency import emergency
from retrain.steps.promote import promote
from retrain.steps.refresh import refresh_monitor
from retrain.steps.retrain_job import retrain
from retrain.steps.rollback import rollback
from retrain.steps.rollout import rollout
from retrain.steps.validate import validate


def handlers() -> dict[Step, StepHandler]:
    return {
        Step.RETRAIN: retrain,
        Step.VALIDATE: validate,
        Step.PROMOTE: promote,
        Step.ROLLOUT: rollout,
        Step.REFRESH_MONITOR: refresh_monitor,
        Step.BATCH_SCORE: batch_score,
        Step.ROLLBACK: rollback,
        Step.EMERGENCY: emergency,
    }


__all__ = ["Deps", "End", "Next", "Outcome", "Revert", "StepContext", "StepHandler", "Wait", "handlers"]
