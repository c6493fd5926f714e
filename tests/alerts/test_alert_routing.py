"""Route-tree matching, table-driven against the rules of docs/external/alertmanager-semantics.md."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.routing import ResolvedRoute, resolve_routes
from config.routing import Route

TREE = Route.model_validate({
    "receiver": "default",
    "group_by": ["model"],
    "mute_time_intervals": [],
    "routes": [
        # 0: pages on critical, and lets the scan go on.
        {"matchers": ['severity="critical"'], "receiver": "pager", "continue": True, "group_wait": "10s"},
        # 1: critical or high; groups by every label; stops the scan.
        {"matchers": ['severity=~"critical|high"'], "receiver": "chat-high", "group_by": ["..."]},
        # 2: legacy match; an empty group_by is "not set" (Alertmanager <= 0.30): inherits the parent's.
        {"match": {"team": "ml"}, "receiver": "ml", "group_by": [], "mute_time_intervals": ["nights"],
         "routes": [
             {"match_re": {"env": "prod|staging"}, "receiver": "ml-prod", "repeat_interval": "1h"},
             {"matchers": ['env=""']},  # no receiver: inherits "ml"
         ]},
        # 3: anchored regex: "churn" does not match "churn@1".
        {"matchers": ['model=~"churn"'], "receiver": "churn-exact"},
        # 4: a missing label is "": job=~".*" matches alerts without a job.
        {"matchers": ['job=~".*"', 'severity="info"'], "receiver": "info"},
    ],
})

CASES = [
    # (labels, [(receiver, path)])
    ({"severity": "critical", "team": "ml"}, [("pager", (0,)), ("chat-high", (1,))]),
    ({"severity": "high", "team": "ml"}, [("chat-high", (1,))]),
    ({"severity": "low", "team": "ml", "env": "prod"}, [("ml-prod", (2, 0))]),
    ({"severity": "low", "team": "ml", "env": "staging"}, [("ml-prod", (2, 0))]),
    ({"severity": "low", "team": "ml", "env": "production"}, [("ml", (2,))]),
    ({"severity": "low", "team": "ml"}, [("ml", (2, 1))]),
    ({"severity": "low"}, [("default", ())]),
    ({"severity": "low", "model": "churn@1"}, [("default", ())]),
    ({"severity": "low", "model": "churn"}, [("churn-exact", (3,))]),
    ({"severity": "info"}, [("info", (4,))]),
    ({"severity": "info", "job": "scorer"}, [("info", (4,))]),
]


@pytest.mark.parametrize(("labels", "expected"), CASES)
def test_receivers_in_tree_order(labels: dict[str, str], expected: list[tuple[str, tuple[int, ...]]]) -> None:
    assert [(r.receiver, r.path) for r in resolve_routes(TREE, labels)] == expected


def by_path(labels: dict[str, str], path: tuple[int, ...]) -> ResolvedRoute:
    return next(r for r in resolve_routes(TREE, labels) if r.path == path)


def test_root_defaults_apply_when_nothing_is_set() -> None:
    route = resolve_routes(Route.model_validate({"receiver": "r"}), {"a": "1"})[0]
    assert (route.timers.group_wait, route.timers.group_interval, route.timers.repeat_interval) == (
        timedelta(seconds=30), timedelta(minutes=5), timedelta(hours=4))
    assert route.group_by == ()
    assert not route.group_by_all


def test_child_overrides_only_what_it_sets() -> None:
    pager = by_path({"severity": "critical"}, (0,))
    assert pager.timers.group_wait == timedelta(seconds=10)
    assert pager.timers.group_interval == timedelta(minutes=5)
    assert pager.timers.repeat_interval == timedelta(hours=4)
    assert pager.group_by == ("model",)


def test_group_by_all_labels() -> None:
    route = by_path({"severity": "high", "model": "churn"}, (1,))
    assert route.group_by_all
    labels = {"severity": "high", "model": "churn"}
    assert route.group_labels(labels) == {"model": "churn", "severity": "high"}


def test_empty_group_by_inherits_the_parents_and_passes_it_down() -> None:
    assert by_path({"team": "ml"}, (2, 1)).group_by == ("model",)
    ml_prod = by_path({"team": "ml", "env": "prod"}, (2, 0))
    assert ml_prod.group_by == ("model",)
    assert ml_prod.timers.repeat_interval == timedelta(hours=1)


def test_receiver_is_inherited_and_time_intervals_are_not() -> None:
    ml = by_path({"team": "ml", "env": "dev"}, (2,))
    assert ml.mute_time_intervals == ("nights",)
    child = by_path({"team": "ml"}, (2, 1))
    assert child.receiver == "ml"
    assert child.mute_time_intervals == ()


def test_continue_only_affects_later_siblings_of_its_own_level() -> None:
    tree = Route.model_validate({
        "receiver": "root",
        "routes": [
            {"matchers": ['a="1"'], "receiver": "p", "routes": [
                {"matchers": ['b="1"'], "receiver": "p1", "continue": True},
                {"matchers": ['c="1"'], "receiver": "p2"},
                {"receiver": "p3"},
            ]},
            {"receiver": "after"},
        ],
    })
    assert [r.receiver for r in resolve_routes(tree, {"a": "1", "b": "1", "c": "1"})] == ["p1", "p2"]
    assert [r.receiver for r in resolve_routes(tree, {"a": "1", "b": "1"})] == ["p1", "p3"]
    assert [r.receiver for r in resolve_routes(tree, {"a": "2"})] == ["after"]


def test_a_non_matching_continue_route_does_not_stop_the_scan() -> None:
    tree = Route.model_validate({"receiver": "root", "routes": [
        {"matchers": ['a="x"'], "receiver": "x"}, {"matchers": ['a="1"'], "receiver": "one"}]})
    assert [r.receiver for r in resolve_routes(tree, {"a": "1"})] == ["one"]


def test_root_matches_everything() -> None:
    assert [r.receiver for r in resolve_routes(Route.model_validate({"receiver": "r"}), {"x": "y"})] == ["r"]


def test_route_key_is_the_path_of_matchers_and_group_key_adds_group_labels() -> None:
    ml_prod = by_path({"team": "ml", "env": "prod", "model": "churn"}, (2, 0))
    assert ml_prod.key == '{}/{team="ml"}/{env=~"prod|staging"}'
    default = resolve_routes(TREE, {"model": "fraud", "severity": "low"})[0]
    assert default.group_key({"model": "fraud", "severity": "low"}) == '{}:{model="fraud"}'
    # group_by labels the alert does not have are left out.
    assert default.group_key({"severity": "low"}) == "{}:{}"


def test_root_without_receiver_is_an_error() -> None:
    tree = Route.model_validate({"routes": [{"matchers": ['a="1"'], "receiver": "a"}]})
    assert resolve_routes(tree, {"a": "1"})[0].receiver == "a"
    with pytest.raises(ValueError, match="needs a receiver"):
        resolve_routes(tree, {"a": "2"})


def _on_path(path: tuple[int, ...]) -> list[Route]:
    nodes, node = [], TREE
    for index in path:
        node = node.routes[index]
        nodes.append(node)
    return nodes


LABELS = st.dictionaries(
    st.sampled_from(["severity", "team", "env", "model", "job"]),
    st.sampled_from(["critical", "high", "low", "info", "ml", "prod", "staging", "", "churn", "churn@1"]),
)


@given(LABELS)
def test_every_alert_gets_routes_whose_whole_path_matches(labels: dict[str, str]) -> None:
    routes = resolve_routes(TREE, labels)
    assert routes
    assert len({r.path for r in routes}) == len(routes)
    for route in routes:
        assert all(m.matches(labels) for node in _on_path(route.path) for m in node.matchers)
