"""Routing, grouping and matcher parsing with Alertmanager's semantics, case by case.

Each routing case is written from Alertmanager's documented behaviour (docs/external/
alertmanager-semantics.md) and checked against lakewarden; where ``amtool`` is on PATH the same
tree, written as an alertmanager.yml, is checked with ``amtool config routes test`` too.
"""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from alerts.model import Alert
from alerts.routing import resolve_routes
from config import ConfigError, parse_settings
from config.matchers import Matcher, escape_value
from config.routing import Route

RECEIVERS = ["default", "a", "b"]


def tree(*matchers: str, **child: Any) -> dict[str, Any]:
    """A root to ``default`` with one child to ``a`` on ``matchers`` (and ``child``'s other keys)."""
    return {"receiver": "default", "routes": [{"matchers": list(matchers), "receiver": "a", **child}]}


# (case, route tree, alert labels, receivers in order)
ROUTING: list[tuple[str, dict[str, Any], dict[str, str], list[str]]] = [
    # Only \\, \" and \n are escapes in a quoted value; any other backslash stays for the regex.
    ("escaped dot is a literal dot", tree(r'job=~"x\.y"'), {"job": "x.y"}, ["a"]),
    ("escaped dot is not any character", tree(r'job=~"x\.y"'), {"job": "xzy"}, ["default"]),
    ("\\d stays a digit class", tree(r'job=~"\d+"'), {"job": "42"}, ["a"]),
    ("\\d is not the letter d", tree(r'job=~"\d+"'), {"job": "dd"}, ["default"]),
    ("\\n in a quoted value is a line feed", tree(r'job="x\ny"'), {"job": "x\ny"}, ["a"]),
    ("\\\\ is one backslash", tree(r'job="x\\y"'), {"job": "x\\y"}, ["a"]),
    ('\\" is a quote', tree(r'job="say \"hi\""'), {"job": 'say "hi"'}, ["a"]),
    # RE2 (Go regexp): ASCII classes, $ only at the very end, flags anywhere.
    ("\\d is ASCII only", tree(r'job=~"\d+"'), {"job": "٤٢"}, ["default"]),
    ("\\w is ASCII only", tree(r'job=~"\w+"'), {"job": "é"}, ["default"]),
    ("\\w takes ASCII letters, digits, _", tree(r'job=~"\w+"'), {"job": "e_1"}, ["a"]),
    ("$ does not match before a final line feed", tree('job=~"x"'), {"job": "x\n"}, ["default"]),
    ("(?i) at the start is allowed", tree('job=~"(?i)X"'), {"job": "x"}, ["a"]),
    ("alternation is anchored as a whole", tree('job=~"x|y"'), {"job": "xy"}, ["default"]),
    ("!~ is the negation of the anchored match", tree('job!~"x|y"'), {"job": "xy"}, ["a"]),
    # The forms one matchers entry may take.
    ("braces around one matcher", tree('{job="x"}'), {"job": "x"}, ["a"]),
    ("two matchers in one entry, both hold", tree('job="x",env="y"'), {"job": "x", "env": "y"}, ["a"]),
    ("two matchers in one entry, one fails", tree('{job="x", env="y",}'), {"job": "x"}, ["default"]),
    ("a comma inside quotes is part of the value", tree('job="x,y"'), {"job": "x,y"}, ["a"]),
    ("an unquoted value may hold spaces", tree("job=x y"), {"job": "x y"}, ["a"]),
    # An empty label value is the same as no label.
    ('="" matches a missing label', tree('job=""'), {"env": "prod"}, ["a"]),
    ('="" matches an empty value', tree('job=""'), {"job": "", "env": "prod"}, ["a"]),
    ('!="" does not match an empty value', tree('job!=""'), {"job": "", "env": "prod"}, ["default"]),
    # continue, for completeness: the later sibling is reached too.
    ("continue goes on to later siblings",
     {"receiver": "default", "routes": [{"matchers": ['job="x"'], "receiver": "a", "continue": True},
                                        {"matchers": ['job=~".+"'], "receiver": "b"}]},
     {"job": "x"}, ["a", "b"]),
]

# (case, route tree, what lakewarden's error says): Alertmanager refuses these configs too.
REJECTED: list[tuple[str, dict[str, Any], str]] = [
    ("== is not an operator", tree('job=="x"'), "double quote inside its value"),
    ("look-ahead", tree('job=~"(?=x)x"'), "look-ahead and look-behind"),
    ("negative look-behind", tree('job=~"(?<!x)y"'), "are not supported: Alertmanager's regexes are RE2"),
    ("an unclosed quote", tree('job="x'), "opens a double quote it does not close"),
    ("an unbalanced group", tree('job=~"x("'), "missing ): x("),
    ("continue on the root", {"receiver": "default", "continue": True}, "continue: true on the root route"),
]


def lakewarden_config(route: dict[str, Any]) -> str:
    return yaml.safe_dump({
        "models": [{"name": "churn", "sources": {"lakehouse": {"table": "main.ml.churn"}}}],
        "route": route,
        "receivers": [{"name": name} for name in RECEIVERS],
    })


def alertmanager_config(route: dict[str, Any]) -> str:
    """The same tree as an alertmanager.yml: the route block as it is, receivers without channels."""
    return yaml.safe_dump({"route": route, "receivers": [{"name": name} for name in RECEIVERS]})


def labels_with_name(labels: dict[str, str]) -> dict[str, str]:
    return {"alertname": "T", **labels}


@pytest.mark.parametrize(("route", "labels", "receivers"), [c[1:] for c in ROUTING], ids=[c[0] for c in ROUTING])
def test_routing_cases(route: dict[str, Any], labels: dict[str, str], receivers: list[str]) -> None:
    settings = parse_settings(lakewarden_config(route), "t.yaml", {})
    alert = Alert(labels_with_name(labels), {}, datetime(2026, 1, 1, tzinfo=UTC))
    assert [r.receiver for r in resolve_routes(settings.route, alert.labels)] == receivers
    assert [r.receiver for r in resolve_routes(settings.route, labels_with_name(labels))] == receivers


@pytest.mark.parametrize(("route", "says"), [c[1:] for c in REJECTED], ids=[c[0] for c in REJECTED])
def test_configs_alertmanager_refuses_are_refused(route: dict[str, Any], says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings(lakewarden_config(route), "t.yaml", {})
    assert says in str(caught.value)


# --- grouping: amtool does not show it, so these follow the documented behaviour only ---------------

def group_by_of(route: dict[str, Any], labels: dict[str, str]) -> tuple[bool, tuple[str, ...]]:
    (found,) = resolve_routes(Route.model_validate(route), labels)
    return found.group_by_all, found.group_by


@pytest.mark.parametrize(("parent", "child", "expected"), [
    (["model"], [], (False, ("model",))),
    (["..."], [], (True, ())),
    (None, [], (False, ())),
    (["model"], ["team"], (False, ("team",))),
    (["..."], ["team"], (False, ("team",))),
    (["model"], ["..."], (True, ())),
])
def test_empty_group_by_on_a_child_inherits_the_parents(
    parent: list[str] | None, child: list[str], expected: tuple[bool, tuple[str, ...]]
) -> None:
    root: dict[str, Any] = {"receiver": "default", "routes": [
        {"matchers": ['job="x"'], "group_by": child, "routes": [{"matchers": ['env="p"']}]}]}
    if parent is not None:
        root["group_by"] = parent
    assert group_by_of(root, {"job": "x"}) == expected
    assert group_by_of(root, {"job": "x", "env": "p"}) == expected  # and passes it on


def test_an_empty_label_value_is_absent_in_the_alert_its_fingerprint_and_group_keys() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    with_empty = Alert({"alertname": "T", "model": "churn", "team": ""}, {}, at)
    without = Alert({"alertname": "T", "model": "churn"}, {}, at)
    assert dict(with_empty.labels) == dict(without.labels)
    assert with_empty.fingerprint == without.fingerprint
    for group_by in (["team", "model"], ["..."]):
        (route,) = resolve_routes(Route.model_validate({"receiver": "r", "group_by": group_by}), with_empty.labels)
        assert route.group_key(with_empty.labels) == route.group_key(without.labels)
        # a plain label map (as the CLI passes) gets the same key
        assert route.group_key({"alertname": "T", "model": "churn", "team": ""}) == route.group_key(without.labels)
    assert route.group_key(without.labels) == '{}:{alertname="T", model="churn"}'


def test_an_alert_whose_labels_are_all_empty_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one label with a value"):
        Alert({"team": ""}, {}, datetime(2026, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize(("text", "parsed"), [
    (r'a=~"x\.y"', [("a", "=~", r"x\.y")]),
    (r'a="x\\y\"z\n"', [("a", "=", 'x\\y"z\n')]),
    ("a=x\\", [("a", "=", "x\\")]),  # a backslash at the very end is literal
    ('{a="x", b!~"y|z",}', [("a", "=", "x"), ("b", "!~", "y|z")]),
    ('a="x,y" , b=z', [("a", "=", "x,y"), ("b", "=", "z")]),
    ("{}", []),
    ("", []),
    ("a=", [("a", "=", "")]),
    ("ns:job=x", [("ns:job", "=", "x")]),
])
def test_matcher_lists_parse_as_alertmanager_parses_them(text: str, parsed: list[tuple[str, str, str]]) -> None:
    assert [(m.name, m.op.value, m.value) for m in Matcher.parse_list(text)] == parsed


@pytest.mark.parametrize("value", ["x", 'say "hi"', "a\\b", "line\nfeed", r"\d+", ""])
def test_a_matcher_written_out_parses_back_to_itself(value: str) -> None:
    matcher = Matcher.create("a", "=~" if value == r"\d+" else "=", value)
    assert Matcher.parse(str(matcher)) == matcher
    assert str(matcher) == f'a{matcher.op.value}"{escape_value(value)}"'


# --- the same cases through Alertmanager's own amtool ------------------------------------------------

AMTOOL = shutil.which("amtool")
needs_amtool = pytest.mark.skipif(
    AMTOOL is None,
    reason="amtool is not on PATH: install Debian's prometheus-alertmanager package to compare with Alertmanager",
)


def amtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert AMTOOL is not None
    return subprocess.run([AMTOOL, *args], capture_output=True, text=True, timeout=60, check=False)


def label_args(labels: dict[str, str]) -> list[str]:
    return [f'{name}="{escape_value(value)}"' for name, value in labels.items()]


@pytest.mark.integration
@needs_amtool
@pytest.mark.parametrize(("route", "labels", "receivers"), [c[1:] for c in ROUTING], ids=[c[0] for c in ROUTING])
def test_amtool_routes_each_case_as_lakewarden(
    tmp_path: Path, route: dict[str, Any], labels: dict[str, str], receivers: list[str]
) -> None:
    config = tmp_path / "alertmanager.yml"
    config.write_text(alertmanager_config(route), encoding="utf-8")
    done = amtool("config", "routes", "test", f"--config.file={config}",
                  f"--verify.receivers={','.join(receivers)}", *label_args(labels_with_name(labels)))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[0] == ",".join(receivers)


@pytest.mark.integration
@needs_amtool
@pytest.mark.parametrize("route", [c[1] for c in REJECTED], ids=[c[0] for c in REJECTED])
def test_amtool_refuses_each_config_lakewarden_refuses(tmp_path: Path, route: dict[str, Any]) -> None:
    config = tmp_path / "alertmanager.yml"
    config.write_text(alertmanager_config(route), encoding="utf-8")
    done = amtool("check-config", str(config))
    assert done.returncode != 0, done.stdout + done.stderr
    # and the tree with the refused part taken out is fine, so the refusal is about that part
    fixed = {"receiver": "default", "routes": [{"matchers": ['job="x"'], "receiver": "a"}]}
    config.write_text(alertmanager_config(fixed), encoding="utf-8")
    assert amtool("check-config", str(config)).returncode == 0
