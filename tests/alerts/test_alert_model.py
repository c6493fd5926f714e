"""The alert value: identity by labels (Alertmanager's fingerprint), aware UTC times, resolution."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from alerts.model import Alert, LabelSet, fingerprint

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def test_fingerprint_matches_prometheus_for_the_same_labels() -> None:
    # Values from prometheus/common model tests (labelSetToFingerprint), printed as %016x.
    assert fingerprint({}) == f"{14695981039346656037:016x}"
    labels = {"name": "garland, briggs", "fear": "love is not enough"}
    assert fingerprint(labels) == f"{5799056148416392346:016x}"


def test_fingerprint_ignores_label_order_and_annotations() -> None:
    a = Alert({"model": "churn", "severity": "high"}, {"summary": "a"}, T0)
    b = Alert({"severity": "high", "model": "churn"}, {"summary": "b"}, T0 + timedelta(hours=1))
    assert a.fingerprint == b.fingerprint
    assert len(a.fingerprint) == 16


def test_fingerprint_changes_with_any_label_value() -> None:
    high = fingerprint({"model": "churn", "severity": "high"})
    assert high != fingerprint({"model": "churn", "severity": "low"})


def test_labels_are_frozen_sorted_and_hashable() -> None:
    alert = Alert({"b": "2", "a": "1"}, {}, T0)
    assert list(alert.labels) == ["a", "b"]
    assert isinstance(alert.labels, LabelSet)
    assert alert.labels == {"a": "1", "b": "2"}
    assert hash(alert) == hash(Alert({"a": "1", "b": "2"}, {}, T0))
    assert str(alert.labels) == '{a="1", b="2"}'


def test_naive_times_are_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Alert({"a": "1"}, {}, datetime(2025, 1, 1))  # noqa: DTZ001 (the point of the test)


def test_times_are_normalised_to_utc() -> None:
    alert = Alert({"a": "1"}, {}, datetime(2025, 1, 1, 13, 0, tzinfo=ZoneInfo("Europe/Berlin")))
    assert alert.starts_at == datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
    assert alert.starts_at.tzinfo is UTC


def test_an_alert_needs_labels() -> None:
    with pytest.raises(ValueError, match="at least one label"):
        Alert({}, {}, T0)


def test_label_values_must_be_strings() -> None:
    with pytest.raises(TypeError, match="must be strings"):
        Alert({"risk": 3}, {}, T0)  # type: ignore[dict-item]


def test_resolution_depends_on_now() -> None:
    alert = Alert({"a": "1"}, {}, T0, ends_at=T0 + timedelta(minutes=5))
    assert not alert.is_resolved(T0 + timedelta(minutes=4))
    assert alert.resolved_at(T0 + timedelta(minutes=4)) is None
    assert alert.is_resolved(T0 + timedelta(minutes=5))
    assert alert.resolved_at(T0 + timedelta(hours=1)) == T0 + timedelta(minutes=5)
    assert not Alert({"a": "1"}, {}, T0).is_resolved(T0 + timedelta(days=365))


def test_json_form_is_alertmanager_like() -> None:
    alert = Alert({"model": "churn"}, {"summary": "drift"}, T0, ends_at=T0 + timedelta(seconds=90))
    assert alert.to_json() == {
        "labels": {"model": "churn"},
        "annotations": {"summary": "drift"},
        "startsAt": "2025-03-01T12:00:00Z",
        "endsAt": "2025-03-01T12:01:30Z",
        "fingerprint": alert.fingerprint,
    }
    assert Alert({"model": "churn"}, {}, T0).to_json()["endsAt"] is None
