"""Guardrails of issue 7: stale data, missing labels, the kill switch, and manual requests."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from lw_support import T0
from lw_world import TRIGGER, World, settings

from retrain.guardrails import StartReason
from retrain.lifecycle import Lifecycle
from retrain.schema import retrain_events
from retrain.trigger import Trigger

GUARDED: dict[str, Any] = {"trigger": {"min_severity": "high", "max_data_age": "6h", "require_labels": True}}


def fresh(**changes: Any) -> Trigger:
    """A policy trigger on fresh, labelled data (the clock stands at T0)."""
    return replace(TRIGGER, **{"data_end": T0 - timedelta(hours=1), "labels_present": True, **changes})


@pytest.fixture
def lifecycle(world: World) -> Lifecycle:
    return world.lifecycle(settings(**GUARDED))


@pytest.mark.parametrize(
    ("changes", "reason", "words"),
    [
        ({}, StartReason.STARTED, "created"),
        ({"data_end": T0 - timedelta(hours=6)}, StartReason.STARTED, "created"),  # at the limit
        ({"data_end": T0 - timedelta(hours=6, minutes=1)}, StartReason.STALE_DATA,
         "the newest judged window ended 6h1m ago, over trigger.max_data_age 6h"),
        ({"data_end": None}, StartReason.STALE_DATA, "no judged window yet"),
        ({"labels_present": False}, StartReason.NO_LABELS, "trigger.require_labels is set"),
        ({"labels_present": None}, StartReason.NO_LABELS, "had no labels"),
        ({"severity": "medium"}, StartReason.BELOW_SEVERITY, "below the trigger minimum high"),
        # A person asking skips the severity check, not the data checks.
        ({"severity": "low", "requested_by": "alice"}, StartReason.STARTED, "created"),
        ({"severity": "low", "requested_by": "alice", "labels_present": False}, StartReason.NO_LABELS, "labels"),
        ({"severity": "low", "requested_by": "alice", "data_end": T0 - timedelta(days=1)},
         StartReason.STALE_DATA, "over trigger.max_data_age"),
    ],
)
def test_data_guards_and_manual_requests(lifecycle: Lifecycle, changes: dict[str, Any], reason: StartReason,
                                         words: str) -> None:
    decision = lifecycle.consider(fresh(**changes))
    assert decision.reason is reason, decision
    assert words in decision.message
    assert len(lifecycle.runs()) == (1 if reason is StartReason.STARTED else 0)


def test_without_data_guards_unknown_data_may_start(world: World) -> None:
    lifecycle = world.lifecycle(settings())
    decision = lifecycle.consider(fresh(data_end=None, labels_present=None))
    assert decision.started, decision


def test_the_kill_switch_blocks_every_start_and_is_audited(lifecycle: Lifecycle, world: World) -> None:
    lifecycle.pause("release freeze", by="oncall")
    blocked = lifecycle.consider(fresh())
    assert blocked.reason is StartReason.PAUSED
    assert blocked.message == "the lifecycle is paused by oncall: release freeze"
    manual = lifecycle.consider(fresh(requested_by="alice", severity="critical", window_start=None, window_end=None))
    assert manual.reason is StartReason.PAUSED
    assert lifecycle.runs() == []

    world.clock.advance(timedelta(minutes=5))
    restarted = world.lifecycle(settings(**GUARDED))
    assert restarted.switch().paused and restarted.switch().by == "oncall"
    restarted.resume("freeze over", by="oncall")
    assert not lifecycle.switch().paused
    assert lifecycle.consider(fresh()).started

    with world.engine.connect() as conn:
        rows = conn.execute(sa.select(retrain_events).order_by(retrain_events.c.id)).all()
    assert [(row.kind, row.message) for row in rows if row.kind in ("paused", "resumed")] == [
        ("paused", "lifecycle paused by oncall: release freeze"),
        ("resumed", "lifecycle resumed by oncall: freeze over"),
    ]
    decisions = [row.message.split(":")[0] for row in rows if row.kind == "decision"]
    assert decisions == ["paused", "paused", "started"]


def test_a_manual_request_still_waits_for_the_run_in_flight(lifecycle: Lifecycle) -> None:
    first = lifecycle.consider(fresh())
    manual = lifecycle.consider(fresh(requested_by="alice", reason="manual: retrain now", severity="low"))
    assert manual.reason is StartReason.IN_FLIGHT
    assert manual.run_id == first.run_id
