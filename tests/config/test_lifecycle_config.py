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
