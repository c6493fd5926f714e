"""LifecycleSettings: defaults, the durations it parses, and the errors a user sees."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from config.lifecycle import LifecycleSettings

ENABLED: dict[str, Any] = {
    "enabled": True,
    "registered_model": "main.ml.churn",
    "retrain": {"module": "monitor.demo.train"},
}


def test_defaults_are_disabled_and_valid() -> None:
    settings = LifecycleSettings()
    assert not settings.enabled
    assert settings.trigger.min_severity == "high"
    assert settings.trigger.cooldown == timedelta(hours=6)
    assert settings.trigger.max_runs_per_day == 3
    assert settings.retrain.backend == "local"
    assert settings.retrain.timeout == timedelta(hours=1)
    assert settings.validate_.metric == "roc_auc"
    assert settings.validate_.greater_is_better
    assert settings.promote.previous_alias == "previous_champion"


def test_a_full_block_parses_with_the_validate_key() -> None:
    settings = LifecycleSettings.model_validate(
        {
            **ENABLED,
            "trigger": {"min_severity": "critical", "cooldown": "30m", "max_runs_per_day": 1},
            "retrain": {
                "module": "monitor.demo.train",
                "parameters": {"lakehouse_root": "/data/lake"},
                "timeout": "90m",
            },
            "validate": {"metric": "log_loss", "greater_is_better": False, "min_improvement": 0.01},
            "promote": {"champion_alias": "prod"},
        }
    )
    assert settings.trigger.cooldown == timedelta(minutes=30)
    assert settings.retrain.timeout == timedelta(minutes=90)
    assert settings.retrain.parameters == {"lakehouse_root": "/data/lake"}
    assert settings.validate_.metric == "log_loss"
    assert not settings.validate_.greater_is_better
    assert settings.promote.champion_alias == "prod"
    assert settings.model_dump(by_alias=True)["validate"]["min_improvement"] == 0.01


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"enabled": True, "retrain": {"module": "m"}}, "registered_model is not set"),
        ({"enabled": True, "registered_model": "churn"}, "retrain.module is not set"),
        (
            {"enabled": True, "registered_model": "churn", "retrain": {"backend": "databricks"}},
            "retrain.job_id is not set",
        ),
        ({**ENABLED, "trigger": {"min_severity": "urgent"}}, "min_severity"),
        ({**ENABLED, "trigger": {"cooldown": "soon"}}, "a duration such as"),
        ({**ENABLED, "trigger": {"max_runs_per_day": 0}}, "max_runs_per_day"),
        ({**ENABLED, "retrain": {"module": "m", "timeout": "0s"}}, "a positive duration"),
        ({**ENABLED, "retrain": {"module": "not a module"}}, "dotted Python module name"),
        (
            {**ENABLED, "retrain": {"module": "m", "parameters": {"model_name": "x"}}},
            "set by lakewarden itself",
        ),
        ({**ENABLED, "retrain": {"module": "m", "parameters": {"bad key": "x"}}}, "parameter name"),
        ({**ENABLED, "validate": {"min_improvement": -0.1}}, "min_improvement"),
        ({**ENABLED, "promote": {"challenger_alias": "champion"}}, "must differ"),
        ({**ENABLED, "promote": {"champion_alias": "has space"}}, "an alias of letters"),
        ({**ENABLED, "registered_model": "it's"}, "without quotes"),
        ({**ENABLED, "retrian": {}}, "Extra inputs are not permitted"),
    ],
)
def test_invalid_settings_say_what_is_wrong(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        LifecycleSettings.model_validate(data)


def test_disabled_settings_need_no_model_or_module() -> None:
    assert LifecycleSettings.model_validate({"enabled": False, "retrain": {"backend": "databricks"}})


def test_settings_are_frozen() -> None:
    settings = LifecycleSettings.model_validate(ENABLED)
    with pytest.raises(ValidationError):
        settings.enabled = False  # type: ignore[misc]


# -- issue 7: steps, trigger policy, gates, rollout, emergency -------------------------------------------------

ROLLOUT: dict[str, Any] = {"endpoint": "churn"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        # steps: retrain first, each once, each after what it needs (STEP_NEEDS), each with its block
        ({**ENABLED, "steps": []}, r"steps start with retrain \(the run's challenger comes from it\), got \[\]"),
        ({**ENABLED, "steps": ["validate", "retrain"]}, r"steps start with retrain .*got \['validate', 'retrain'\]"),
        ({**ENABLED, "steps": ["retrain", "validate", "retrain"]}, "each step at most once"),
        ({**ENABLED, "steps": ["retrain", "promote"]},
         r"step promote needs validate before it, got \['retrain', 'promote'\]"),
        ({**ENABLED, "steps": ["retrain", "promote", "validate"]}, "step promote needs validate before it"),
        ({**ENABLED, "steps": ["retrain", "rollout"], "rollout": ROLLOUT}, "step rollout needs validate before it"),
        ({**ENABLED, "steps": ["retrain", "validate", "batch_score"], "batch_score": {"module": "m"}},
         "step batch_score needs promote before it"),
        ({**ENABLED, "steps": ["retrain", "deploy"]}, "steps.1"),
        ({**ENABLED, "steps": ["retrain", "validate", "rollout"]},
         "steps include rollout but there is no rollout block: give at least rollout.endpoint"),
        ({**ENABLED, "steps": ["retrain", "validate", "promote", "batch_score"]},
         r"steps include batch_score but there is no batch_score block \(module or job_id\)"),
        # trigger policy
        ({**ENABLED, "trigger": {"held_for": {"windows": 3, "of": 2}}}, r"windows \(3\) cannot exceed of \(2\)"),
        ({**ENABLED, "trigger": {"held_for": {"windows": 0}}}, "held_for.windows"),
        ({**ENABLED, "trigger": {"held_for": {"of": 101}}}, "held_for.of"),
        ({**ENABLED, "trigger": {"on_signals": {"drift": "high"}}},
         r"unknown signal\(s\) \['drift'\]; known: feature_drift, prediction_drift"),
        ({**ENABLED, "trigger": {"on_signals": {"model_quality": "high"}}}, r"unknown signal\(s\) \['model_quality'\]"),
        ({**ENABLED, "trigger": {"on_signals": {"quality": "urgent"}}}, "on_signals.quality"),
        ({**ENABLED, "trigger": {"schedule": "30m"}}, "a schedule of at least 1h, such as 7d"),
        ({**ENABLED, "trigger": {"max_data_age": "stale"}}, "a duration such as"),
        ({**ENABLED, "trigger": {"require_labels": "sometimes"}}, "require_labels"),
        # validate: one margin, floors with a bound, business metrics under the same rules, its job
        ({**ENABLED, "validate": {"tolerance": 0.01, "min_improvement": 0.02}},
         r"give min_improvement \(the challenger must be better by\) or tolerance \(it may be worse by\), not both"),
        ({**ENABLED, "validate": {"tolerance": -0.01}}, "tolerance"),
        ({**ENABLED, "validate": {"floors": {"roc_auc": {}}}}, r"give min or max \(or both\)"),
        ({**ENABLED, "validate": {"floors": {"roc_auc": {"min": 0.9, "max": 0.8}}}}, "min 0.9 is above max 0.8"),
        ({**ENABLED, "validate": {"floors": {"bad metric": {"min": 0.5}}}}, "floor metric 'bad metric'"),
        ({**ENABLED, "validate": {"business_metrics": [{"metric": "expected_loss", "tolerance": 1,
                                                         "min_improvement": 1}]}}, "not both"),
        ({**ENABLED, "validate": {"business_metrics": [{"metric": "expected loss"}]}}, "business_metrics.0.metric"),
        ({**ENABLED, "validate": {"job": {"timeout": "10m"}}},
         "validate.job.backend is local but validate.job.module is not set"),
        ({**ENABLED, "validate": {"timeout": "0s"}}, "a positive duration"),
        # rollout
        ({**ENABLED, "rollout": {"endpoint": "has space"}}, "rollout.endpoint"),
        ({**ENABLED, "rollout": {**ROLLOUT, "canary_percent": 100}}, "canary_percent"),
        ({**ENABLED, "rollout": {**ROLLOUT, "observe_windows": 0}}, "observe_windows"),
        ({**ENABLED, "rollout": {**ROLLOUT, "rollback_on": "ok"}}, "rollback_on"),
        ({**ENABLED, "rollout": {**ROLLOUT, "watch": []}}, r"watch at least one signal, or \[any\]"),
        ({**ENABLED, "rollout": {**ROLLOUT, "watch": ["Quality!"]}}, "a signal name such as quality"),
        ({**ENABLED, "rollout": {**ROLLOUT, "update_timeout": "0s"}}, "a positive duration"),
        ({**ENABLED, "refresh_monitor": {"timeout": "-1m"}}, "refresh_monitor.timeout"),
        # emergency moves the rollout endpoint's traffic
        ({**ENABLED, "emergency": {"enabled": True}}, "emergency needs a rollout block"),
        ({**ENABLED, "emergency": {"enabled": True, "min_risk": 101}, "rollout": ROLLOUT}, "min_risk"),
        # every job the lifecycle may run says how it runs
        ({**ENABLED, "steps": ["retrain", "validate", "promote", "batch_score"],
          "batch_score": {"backend": "databricks"}},
         "batch_score.backend is databricks but batch_score.job_id is not set: give the job's id"),
        ({**ENABLED, "retrain": {"backend": "databricks", "job_id": 0}}, "retrain.job_id"),
    ],
)
def test_issue_7_settings_say_what_is_wrong(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        LifecycleSettings.model_validate(data)


def test_a_full_issue_7_block_parses() -> None:
    settings = LifecycleSettings.model_validate({
        **ENABLED,
        "steps": ["retrain", "validate", "promote", "rollout", "refresh_monitor", "batch_score"],
        "trigger": {"held_for": {"windows": 3, "of": 5}, "on_signals": {"quality": "medium", "volume": "high"},
                    "schedule": "7d", "max_data_age": "6h", "require_labels": True},
        "validate": {"tolerance": 0.005, "floors": {"roc_auc": {"min": 0.7}},
                     "business_metrics": [{"metric": "expected_loss", "greater_is_better": False}],
                     "job": {"backend": "local", "module": "jobs.validate"}},
        "rollout": {"endpoint": "churn", "canary_percent": 0, "watch": ["any"]},
        "batch_score": {"module": "jobs.score", "timeout": "2h"},
        "emergency": {"enabled": True, "min_risk": 95},
    })
    assert settings.trigger.schedule == timedelta(days=7)
    assert settings.trigger.max_data_age == timedelta(hours=6)
    assert settings.trigger.on_signals == {"quality": "medium", "volume": "high"}
    assert settings.rollout is not None and settings.rollout.canary_percent == 0
    assert [job.target for job in settings.jobs()] == ["monitor.demo.train", "jobs.validate", "jobs.score"]


def test_disabled_settings_still_check_the_steps_and_the_emergency_brake() -> None:
    with pytest.raises(ValidationError, match="emergency needs a rollout block"):
        LifecycleSettings.model_validate({"enabled": False, "emergency": {"enabled": True}})
    with pytest.raises(ValidationError, match="step promote needs validate"):
        LifecycleSettings.model_validate({"enabled": False, "steps": ["retrain", "promote"]})
