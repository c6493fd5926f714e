"""The validation gate: challenger against champion on the same holdout."""

from __future__ import annotations

import pytest

from config.lifecycle import ValidateStep
from retrain.validation import ValidationOutcome, judge

AUC = ValidateStep()
AUC_MARGIN = ValidateStep(min_improvement=0.02)
LOSS = ValidateStep(metric="log_loss", greater_is_better=False)


@pytest.mark.parametrize(
    ("metrics", "settings", "champion", "outcome", "words"),
    [
        ({"holdout_roc_auc": 0.8}, AUC, None, ValidationOutcome.PASSED, "no champion yet"),
        ({"holdout_roc_auc": 0.8, "champion_holdout_roc_auc": 0.7}, AUC, "1", ValidationOutcome.PASSED, "+0.1000"),
        ({"holdout_roc_auc": 0.7, "champion_holdout_roc_auc": 0.7}, AUC, "1", ValidationOutcome.PASSED, "+0.0000"),
        ({"holdout_roc_auc": 0.6, "champion_holdout_roc_auc": 0.7}, AUC, "1", ValidationOutcome.REJECTED, "-0.1000"),
        (
            {"holdout_roc_auc": 0.71, "champion_holdout_roc_auc": 0.7},
            AUC_MARGIN,
            "1",
            ValidationOutcome.REJECTED,
            "0.0200",
        ),
        (
            {"holdout_roc_auc": 0.73, "champion_holdout_roc_auc": 0.7},
            AUC_MARGIN,
            "1",
            ValidationOutcome.PASSED,
            "better",
        ),
        ({"holdout_log_loss": 0.3, "champion_holdout_log_loss": 0.4}, LOSS, "1", ValidationOutcome.PASSED, "+0.1000"),
        ({"holdout_log_loss": 0.5, "champion_holdout_log_loss": 0.4}, LOSS, "1", ValidationOutcome.REJECTED, "-0.1000"),
        ({}, AUC, None, ValidationOutcome.INVALID, "no finite holdout_roc_auc"),
        ({"holdout_roc_auc": float("nan")}, AUC, None, ValidationOutcome.INVALID, "no finite holdout_roc_auc"),
        ({"holdout_roc_auc": 0.8}, AUC, "1", ValidationOutcome.INVALID, "no finite champion_holdout_roc_auc"),
        ({"holdout_accuracy": 0.8, "champion_holdout_accuracy": 0.7}, AUC, "1", ValidationOutcome.INVALID, "roc_auc"),
    ],
)
def test_judge(
    metrics: dict[str, float], settings: ValidateStep, champion: str | None, outcome: ValidationOutcome, words: str
) -> None:
    verdict = judge(metrics, settings, "2", champion)
    assert verdict.outcome is outcome
    assert words in verdict.message
