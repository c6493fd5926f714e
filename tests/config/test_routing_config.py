"""Route tree, inhibit rule and time interval settings: what loads, and what fails with which message."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from config import ConfigError, parse_settings
from config.errors import format_path
from config.matchers import Matcher
from config.routing import (
    InhibitRule,
    Route,
    TimeInterval,
    TimeSpec,
    referenced_escalations,
    referenced_receivers,
    referenced_time_intervals,
)


def error_text(model: Any, data: Any) -> str:
    with pytest.raises(ValidationError) as info:
        model.model_validate(data)
    return str(info.value)


def test_legacy_match_and_match_re_become_matchers() -> None:
    route = Route.model_validate(
        {"matchers": ['env="prod"'], "match": {"team": "ml"}, "match_re": {"model": "churn.*"}}
    )
    assert route.matchers == (
        Matcher.parse('env="prod"'),
        Matcher.parse('team="ml"'),
        Matcher.parse('model=~"churn.*"'),
    )
    assert route.matchers[2].matches({"model": "churn@2"})
    assert not route.matchers[2].matches({"model": "xchurn"})


def test_continue_is_read_from_its_yaml_name_and_written_back_under_it() -> None:
    route = Route.model_validate({"receiver": "a", "continue": True})
    assert route.continue_ is True
    assert route.model_dump(by_alias=True)["continue"] is True


def test_timers_parse_as_durations_and_default_to_inherit() -> None:
    route = Route.model_validate({"group_wait": "10s", "repeat_interval": "1h30m"})
    assert route.group_wait == timedelta(seconds=10)
    assert route.repeat_interval == timedelta(minutes=90)
    assert route.group_interval is None
    assert route.group_by is None


def test_nested_routes_parse() -> None:
    route = Route.model_validate(
        {"receiver": "root", "routes": [{"matchers": ['severity="critical"'], "routes": [{"receiver": "x"}]}]}
    )
    assert route.routes[0].routes[0].receiver == "x"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"matchers": ["severity critical"]}, 'a matcher like severity="critical"'),
        ({"matchers": ['team=~"ml-("']}, "invalid regular expression"),
        ({"match_re": {"team": "ml-("}}, "match_re.team: invalid regular expression"),
        ({"match": {"1team": "ml"}}, "'1team' is not a label name"),
        ({"match": {"team": 3}}, "match.team: the value must be a string"),
        ({"match": ["team=ml"]}, "match must be a map"),
        ({"group_by": ["...", "model"]}, "'...' (all labels) cannot be mixed"),
        ({"group_by": ["model", "model"]}, "listed twice"),
        ({"group_by": ["bad-name"]}, "'bad-name' is not a label name"),
        ({"group_interval": "0s"}, "must be greater than 0"),
        ({"repeat_interval": "soon"}, "a duration such as 30s"),
        ({"receiver": " "}, "receiver must be a receiver name"),
        ({"reciever": "x"}, "Extra inputs are not permitted"),
        ({"mute_time_intervals": [""]}, "time interval names must not be empty"),
    ],
)
def test_bad_routes_fail_with_a_message_that_says_what_is_allowed(data: dict[str, Any], message: str) -> None:
    assert message in error_text(Route, data)


def test_bad_child_route_is_reported_with_its_path() -> None:
    text = error_text(Route, {"receiver": "a", "routes": [{}, {"matchers": ["nope"]}]})
    assert "routes.1.matchers.0" in text


def test_group_by_all_labels_is_kept_and_an_empty_list_means_inherit() -> None:
    assert Route.model_validate({"group_by": ["..."]}).group_by == ("...",)
    assert Route.model_validate({"group_by": []}).group_by is None


def test_referenced_names_cover_the_whole_tree() -> None:
    route = Route.model_validate({
        "receiver": "root",
        "routes": [
            {"receiver": "a", "mute_time_intervals": ["nights"]},
            {"routes": [{"receiver": "b", "active_time_intervals": ["office"]}]},
        ],
    })
    assert referenced_receivers(route) == {"root", "a", "b"}
    assert referenced_time_intervals(route) == {"nights", "office"}


def test_inhibit_rule_accepts_matchers_and_legacy_maps() -> None:
    rule = InhibitRule.model_validate({
        "source_match": {"severity": "critical"},
        "target_matchers": ['severity=~"high|medium"'],
        "equal": ["model"],
    })
    assert rule.source_matchers == (Matcher.parse('severity="critical"'),)
    assert rule.target_matchers[0].matches({"severity": "medium"})
    assert rule.equal == ("model",)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"target_matchers": ['severity="high"']}, "needs source_matchers"),
        ({"source_matchers": ['severity="critical"']}, "needs target_matchers"),
        ({"source_matchers": ['a="1"'], "target_matchers": ['b="2"'], "equal": ["a b"]}, "not a label name"),
        ({"source_match_re": {"a": "("}, "target_matchers": ['b="2"']}, "source_match_re.a: invalid regular"),
    ],
)
def test_bad_inhibit_rules_fail(data: dict[str, Any], message: str) -> None:
    assert message in error_text(InhibitRule, data)


def test_time_interval_in_alertmanager_form_parses() -> None:
    interval = TimeInterval.model_validate({
        "name": "office-hours",
        "time_intervals": [{
            "times": [
                {"start_time": "09:00", "end_time": "17:30"},
                {"start_time": "22:00", "end_time": "24:00"},
            ],
            "weekdays": ["monday:friday", "Saturday"],
            "days_of_month": ["1:5", "-3:-1", "15"],
            "months": ["january:march", "5:6", "december"],
            "years": ["2025:2027"],
            "location": "Europe/Berlin",
        }],
    })
    spec = interval.time_intervals[0]
    assert [(r.start, r.end) for r in spec.weekdays] == [(1, 5), (6, 6)]
    assert [(r.start, r.end) for r in spec.days_of_month] == [(1, 5), (-3, -1), (15, 15)]
    assert [(r.start, r.end) for r in spec.months] == [(1, 3), (5, 6), (12, 12)]
    assert [(r.start, r.end) for r in spec.years] == [(2025, 2027)]
    assert spec.times[1].end_time == "24:00"
    dumped = spec.model_dump(mode="json")
    assert dumped["weekdays"] == ["monday:friday", "Saturday"]
    assert TimeSpec.model_validate(dumped) == spec


def test_unquoted_yaml_times_and_ranges_read_as_base_60_numbers_still_parse() -> None:
    spec = TimeSpec.model_validate(yaml.safe_load(
        "times: [{start_time: 9:00, end_time: 17:30}]\ndays_of_month: [1:5, 7]\nmonths: [1:3]\n"
    ))
    assert (spec.times[0].start_time, spec.times[0].end_time) == ("09:00", "17:30")
    assert [(r.start, r.end, str(r)) for r in spec.days_of_month] == [(1, 5, "1:5"), (7, 7, "7")]
    assert [(r.start, r.end) for r in spec.months] == [(1, 3)]


def test_time_spec_defaults_to_utc_and_all_times() -> None:
    spec = TimeSpec.model_validate({})
    assert spec.location == "UTC"
    assert spec.times == ()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"times": [{"start_time": "17:00", "end_time": "09:00"}]}, "must be before end_time"),
        ({"times": [{"start_time": "09:00", "end_time": "09:00"}]}, "must be before end_time"),
        ({"times": [{"start_time": "9am", "end_time": "17:00"}]}, "is not a time of day HH:MM"),
        ({"times": [{"start_time": "00:00", "end_time": "24:30"}]}, "is not a time of day HH:MM"),
        ({"weekdays": ["friday:monday"]}, "ends before it starts"),
        ({"weekdays": ["funday"]}, "'funday' is not a day name"),
        ({"weekdays": ["monday:"]}, "a value or a range 'start:end'"),
        ({"days_of_month": ["5:1"]}, "ends before it starts"),
        ({"days_of_month": ["-1:-3"]}, "ends before it starts"),
        ({"days_of_month": ["-3:5"]}, "starts from the end but ends from the start"),
        ({"days_of_month": ["0"]}, "0 is not a day"),
        ({"days_of_month": ["32"]}, "32 is not a day"),
        ({"days_of_month": ["first"]}, "'first' is not a whole number"),
        ({"months": ["december:january"]}, "ends before it starts"),
        ({"months": ["13"]}, "'13' is not a month"),
        ({"years": ["2026:2024"]}, "ends before it starts"),
        ({"years": ["0"]}, "must be positive years"),
        ({"location": "Mars/Olympus_Mons"}, "is not an IANA time zone"),
        ({"location": "Europe"}, "is not an IANA time zone"),
        ({"location": "../etc/passwd"}, "is not an IANA time zone"),
        ({"weekday": ["monday"]}, "Extra inputs are not permitted"),
    ],
)
def test_bad_time_specs_fail_at_load(spec: dict[str, Any], message: str) -> None:
    assert message in error_text(TimeInterval, {"name": "x", "time_intervals": [spec]})


def test_time_interval_needs_a_name() -> None:
    assert "name" in error_text(TimeInterval, {"name": "", "time_intervals": []})


@pytest.mark.parametrize(("spec", "message"), [
    ({"times": [{"start_time": "09:00", "end_time": "12:00"}, {"start_time": "11:00", "end_time": "13:00"}]},
     "09:00-12:00 and 11:00-13:00 overlap"),
    ({"weekdays": ["monday:wednesday", "tuesday"]}, "weekdays: monday:wednesday and tuesday overlap"),
    ({"months": ["1:3", "march"]}, "months: 1:3 and march overlap"),
])
def test_overlapping_ranges_are_rejected(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        TimeSpec.model_validate(spec)


def test_adjacent_time_ranges_are_fine() -> None:
    spec = TimeSpec.model_validate({"times": [{"start_time": "00:00", "end_time": "06:00"},
                                              {"start_time": "06:00", "end_time": "09:00"}]})
    assert len(spec.times) == 2


def test_a_route_names_its_escalation_policy_and_children_do_not_inherit_it() -> None:
    route = Route.model_validate({"receiver": "a", "escalation": "oncall", "routes": [{"receiver": "b"}]})
    assert route.escalation == "oncall" and route.routes[0].escalation is None
    assert referenced_escalations(route) == {"oncall"}


ALERTING = """\
models: [{name: churn, sources: {lakehouse: {table: main.ml.churn}}}]
route:
  receiver: log
  routes: [{matchers: ['severity="critical"'], receiver: log, escalation: %s}]
receivers: [{name: log}]
alerting:
  fallback_receiver: %s
  escalation_policies:
    - {name: oncall, steps: [{wait: 10m, receiver: %s}]}
"""


@pytest.mark.parametrize(("values", "path", "found"), [
    (("nope", "log", "log"), "route.routes[0].escalation", "escalation policy 'nope'"),
    (("oncall", "ghost", "log"), "alerting.fallback_receiver", "receiver 'ghost'"),
    (("oncall", "log", "ghost"), "alerting.escalation_policies[0].steps[0].receiver", "receiver 'ghost'"),
])
def test_alerting_references_are_checked_at_load(values: tuple[str, str, str], path: str, found: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings(ALERTING % values, "t.yaml", {})
    (issue,) = caught.value.issues
    assert format_path(issue.path) == path
    assert found in issue.found


def test_pasted_alertmanager_route_block_loads() -> None:
    text = """\
models: [{name: churn, sources: {lakehouse: {table: main.ml.churn}}}]
route:
  receiver: team-X-mails
  group_by: ['alertname', 'cluster', 'service']
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 3h
  routes:
    - matchers: [service=~"foo1|foo2|baz"]
      receiver: team-X-mails
      routes:
        - matchers: [severity="critical"]
          receiver: team-X-pager
    - match_re: {service: files}
      receiver: team-Y-mails
      continue: true
      mute_time_intervals: [offhours]
inhibit_rules:
  - source_matchers: [severity="critical"]
    target_matchers: [severity="warning"]
    equal: [alertname, cluster, service]
time_intervals:
  - name: offhours
    time_intervals:
      - times: [{start_time: "00:00", end_time: "09:00"}]
        weekdays: ['monday:friday']
receivers: [{name: team-X-mails}, {name: team-X-pager}, {name: team-Y-mails}]
"""
    settings = parse_settings(text, "am.yaml", {})
    assert settings.route.routes[0].routes[0].receiver == "team-X-pager"


def test_a_job_backend_that_is_not_the_workspace_kind_is_reported_with_its_line_and_path() -> None:
    text = """\
models:
  - name: churn
    sources: {lakehouse: {table: main.ml.churn}}
    lifecycle:
      enabled: true
      registered_model: churn
      retrain: {backend: databricks, job_id: 42}
route: {receiver: log}
receivers: [{name: log}]
"""
    with pytest.raises(ConfigError) as caught:
        parse_settings(text, "t.yaml", {})
    (issue,) = caught.value.issues
    assert format_path(issue.path) == "models[0].lifecycle.retrain.backend"
    assert issue.line == 7
    assert "backend 'databricks'" in issue.found and "workspace.kind" in issue.allowed
