"""Signal, source and risk settings: documented defaults, and errors that name the path and what is allowed."""

from __future__ import annotations

import pytest

from config import ConfigError, parse_settings
from config.signals import Floors, RiskSettings, Signals, Tiers

BASE = """\
models:
  - name: churn
    sources:
      lakehouse: {{table: main.ml.churn}}
{extra}
route: {{receiver: log}}
receivers:
  - name: log
    file_configs: [{{path: /tmp/a.jsonl}}]
"""


def problems(extra: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_settings(BASE.format(extra=extra), "t.yaml", {})
    return [issue.render("t.yaml") for issue in caught.value.issues]


def test_documented_defaults() -> None:
    s, r = Signals(), RiskSettings()
    assert s.prediction_drift.thresholds == Tiers(low=0.1, medium=0.15, high=0.2, critical=0.4)
    assert (s.feature_drift.weight, s.feature_drift.test, s.feature_drift.alpha) == (0.8, "auto", 0.05)
    assert s.label_drift.thresholds.high == 0.3
    assert [m.metric for m in s.model_quality.classification] == ["f1_score.macro"]
    assert [m.metric for m in s.model_quality.regression] == ["r2_score"]
    assert s.trend.horizon == Floors(low=24, medium=12, high=6, critical=2)
    assert s.volume.drop == Tiers(low=0.8, medium=0.95, critical=0.999)
    assert s.operational.server_errors.thresholds.high == 0.05
    assert (r.alert_from, r.exit_level, r.enter.m, r.enter.n, r.exit.m, r.exit.n) == ("medium", "low", 2, 3, 2, 2)


def test_the_v1_source_keys_still_load_and_new_ones_add_to_them() -> None:
    settings = parse_settings(BASE.format(extra="").replace(
        "{table: main.ml.churn}", "{table: main.ml.churn, granularity: 1 hour, granularities: [1 day, 1 hour], "
        "drift_type: BASELINE, model_id_column: mv, model_id: '*', model_ids: ['7']}"), "t.yaml", {})
    source = settings.models[0].sources.lakehouse
    assert source is not None
    assert source.all_granularities == ("1 hour", "1 day")
    assert source.all_model_ids == ("*", "7")


def test_an_inference_source_alone_is_enough() -> None:
    text = BASE.format(extra="").replace("lakehouse: {table: main.ml.churn}",
                                         "inference: {table: main.ml.churn_payload}")
    settings = parse_settings(text, "t.yaml", {})
    assert settings.models[0].sources.inference is not None
    assert settings.models[0].sources.inference.settle.total_seconds() == 600


@pytest.mark.parametrize(("extra", "says"), [
    ("    signals: {feature_drift: {statistic: ks_pvalue, thresholds: {low: 0.1}}}",
     "signals.feature_drift.statistic: found 'ks_pvalue'; expected 'js_distance'"),
    ("    signals: {feature_drift: {thresholds: {low: 0.3, high: 0.2}}}",
     "tiers must increase: high (0.2) is not above low (0.3)"),
    ("    signals: {model_quality: {metrics: [{metric: accuracy_score, ceiling: {high: 0.9}}]}}",
     "expected a floor (decreasing tiers) for accuracy_score"),
    ("    signals: {model_quality: {metrics: [{metric: accuracy_score, floor: {low: 0.7, high: 0.8}}]}}",
     "tiers must decrease"),
    ("    signals: {model_quality: {metrics: [{metric: gini, drop: {high: 0.1}}]}}",
     "expected a greater_is_better (true or false) for metric 'gini'"),
    ("    signals: {custom_metrics: [{name: expected_loss}]}",
     "give either thresholds (higher is worse) or floors (lower is worse) for 'expected_loss'"),
    ("    signals: {feature_weights: {weights: {age: 3}}}", "weights between 0 and 1"),
    ("    risk: {enter: {m: 4, n: 3}}", "risk.enter: found a mapping; expected at most n (3) for m, not 4"),
    ("    risk: {alert_from: medium, resolve_below: critical}", "a resolve_below at or under alert_from (medium)"),
    ("    signals: {operational: {freshness: {age: {high: soon}}}}", "a duration such as 30s"),
])
def test_bad_signal_settings_say_where_and_what_is_allowed(extra: str, says: str) -> None:
    found = problems(extra)
    assert any(says in p for p in found), found
