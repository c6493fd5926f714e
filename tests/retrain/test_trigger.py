"""Trigger: validation and the idempotency key that makes a repeated trigger a duplicate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from retrain.trigger import Trigger

START = datetime(2026, 3, 1, tzinfo=UTC)
END = START + timedelta(hours=1)


def trigger(**changes: object) -> Trigger:
    values: dict[str, object] = {
        "model": "churn",
        "reason": "drift: psi on tenure_months 0.31",
        "severity": "high",
        "window_start": START,
        "window_end": END,
    }
    values.update(changes)
    return Trigger(**values)  # type: ignore[arg-type]


def test_key_is_64_hex_characters_and_stable() -> None:
    key = trigger().idempotency_key
    assert len(key) == 64
    assert int(key, 16) >= 0
    assert trigger().idempotency_key == key


@pytest.mark.parametrize(
    "same",
    [
        {"reason": "drift: psi on tenure_months 0.35"},  # same kind, other numbers
        {"reason": "Drift"},
        {"severity": "critical"},
        {"requested_by": "alice"},
    ],
)
def test_key_ignores_what_does_not_make_a_new_request(same: dict[str, object]) -> None:
    assert trigger(**same).idempotency_key == trigger().idempotency_key


@pytest.mark.parametrize(
    "other",
    [
        {"model": "fraud"},
        {"reason": "performance: auc dropped"},
        {"window_start": START - timedelta(hours=1)},
        {"window_end": END + timedelta(hours=1)},
        {"window_start": None, "window_end": None},
    ],
)
def test_key_changes_with_model_reason_kind_and_window(other: dict[str, object]) -> None:
    assert trigger(**other).idempotency_key != trigger().idempotency_key


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"severity": "urgent"}, "severity must be one of"),
        ({"window_start": datetime(2026, 3, 1)}, "timezone-aware UTC"),  # noqa: DTZ001 - the point of the test
        ({"window_end": datetime(2026, 3, 1, 2, tzinfo=timezone(timedelta(hours=2)))}, "timezone-aware UTC"),
        ({"window_start": END, "window_end": START}, "is not before"),
        ({"reason": " : x"}, "needs a reason"),
        ({"model": ""}, "needs a model"),
    ],
)
def test_invalid_triggers_are_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        trigger(**changes)


def test_json_round_trip() -> None:
    original = trigger(requested_by="alice")
    assert Trigger.from_json(original.to_json()) == original
    assert Trigger.from_json(trigger(window_start=None, window_end=None).to_json()).window_end is None
