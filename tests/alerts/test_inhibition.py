"""Inhibition rules with Alertmanager's semantics, as a table, then through the pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa

from alerts.inhibit import Inhibitor
from config.routing import InhibitRule
from tests.alerts.alert_kit import alert, file_receiver, make_settings, notifier, sent

if TYPE_CHECKING:
    from config.basics.clock import SimulatedClock

CRITICAL_MUTES_LOWER = InhibitRule.model_validate({
    "source_matchers": ['severity="critical"'], "target_matchers": ['severity=~"high|medium"'], "equal": ["model"]})
BOTH_SIDES = InhibitRule.model_validate({
    "source_matchers": ['tier="1"'], "target_matchers": ['tier=~"1|2"'], "equal": ["team"]})

CASES = [
    # (case, rule, firing sources, target, muted)
    ("critical mutes high of the same model", CRITICAL_MUTES_LOWER,
     [{"model": "churn", "severity": "critical"}], {"model": "churn", "severity": "high"}, True),
    ("critical mutes medium of the same model", CRITICAL_MUTES_LOWER,
     [{"model": "churn", "severity": "critical"}], {"model": "churn", "severity": "medium"}, True),
    ("not a target: low", CRITICAL_MUTES_LOWER,
     [{"model": "churn", "severity": "critical"}], {"model": "churn", "severity": "low"}, False),
    ("equal label differs", CRITICAL_MUTES_LOWER,
     [{"model": "fraud", "severity": "critical"}], {"model": "churn", "severity": "high"}, False),
    ("equal label absent on both counts as equal", CRITICAL_MUTES_LOWER,
     [{"severity": "critical"}], {"severity": "high"}, True),
    ("equal label absent on one side only", CRITICAL_MUTES_LOWER,
     [{"severity": "critical"}], {"model": "churn", "severity": "high"}, False),
    ("no source fires", CRITICAL_MUTES_LOWER, [], {"model": "churn", "severity": "high"}, False),
    ("both-sided alerts do not mute each other", BOTH_SIDES,
     [{"team": "ml", "tier": "1", "n": "a"}], {"team": "ml", "tier": "1", "n": "b"}, False),
    ("a one-sided source mutes a both-sided target", BOTH_SIDES,
     [{"team": "ml", "tier": "1", "n": "a"}], {"team": "ml", "tier": "2"}, True),
    ("an alert never mutes itself", CRITICAL_MUTES_LOWER,
     [{"model": "x", "severity": "critical"}], {"model": "x", "severity": "critical"}, False),
]


@pytest.mark.parametrize(("case", "rule", "sources", "target", "muted"), CASES, ids=[c[0] for c in CASES])
def test_inhibition_table(case: str, rule: InhibitRule, sources: list[dict[str, str]], target: dict[str, str],
                          muted: bool) -> None:
    inhibitor = Inhibitor([rule])
    inhibitor.load(sources)
    assert inhibitor.mutes(target) is muted, case


def test_a_critical_alert_inhibits_the_high_one_in_the_pipeline_until_it_resolves(
    engine: sa.Engine, clock: SimulatedClock, tmp_path: Path
) -> None:
    settings = make_settings(
        {"receiver": "ops", "group_by": ["model", "severity"], "group_wait": "0s", "group_interval": "1m"},
        [file_receiver(tmp_path, "ops")], inhibit_rules=[CRITICAL_MUTES_LOWER])
    n = notifier(engine, clock, settings)
    n.service.sync("critical", [alert(clock, model="churn", severity="critical")])
    n.service.sync("high", [alert(clock, model="churn", severity="high")])
    n.run_once()
    assert [x["commonLabels"]["severity"] for x in map(dict, __import__("tests.alerts.alert_kit", fromlist=["lines"])
            .lines(tmp_path / "ops.jsonl"))] == ["critical"]
    assert n.dispatcher.counts["inhibited"] == 1
    n.service.sync("critical", [])  # the source resolves: the high alert is no longer inhibited
    clock.advance(minutes=1)
    n.run_once()
    assert sorted(sent(tmp_path / "ops.jsonl")) == [("all_resolved", "resolved", 1), ("first", "firing", 1),
                                                    ("first", "firing", 1)]
