"""Forwarding to Alertmanager's ``POST /api/v2/alerts`` against a strict loopback Alertmanager."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alerts.channels.alertmanager import AlertmanagerChannel
from alerts.channels.base import Delivered, Permanent, Retryable
from alerts.model import Alert
from alerts.payload import build_payload
from config.forwarding import AlertmanagerConfig
from tests.alerts.alert_fakes import AlertmanagerServer

pytestmark = pytest.mark.integration

NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)


def payload(status: str = "firing") -> dict[str, Any]:
    alert = Alert({"alertname": "ModelAtRisk", "model": "churn"}, {"summary": "drift"}, NOW - timedelta(hours=1),
                  NOW - timedelta(minutes=1) if status == "resolved" else None)
    return build_payload("am", [alert], "{}:{}", now=NOW, group_id="g1")


def channel(server: AlertmanagerServer, **extra: Any) -> AlertmanagerChannel:
    cfg = AlertmanagerConfig.model_validate({"url": server.url(), "timeout": "2s", "firing_ttl": "2h",
                                             "generator_url": "http://lakewarden:8080/", **extra})
    return AlertmanagerChannel(cfg, clock=lambda: NOW)


def test_firing_alerts_carry_an_end_in_the_future_and_resolves_one_in_the_past(
    alertmanager_server: AlertmanagerServer,
) -> None:
    am = channel(alertmanager_server)
    assert isinstance(am.send(payload()), Delivered)
    assert alertmanager_server.ends() == [NOW + timedelta(hours=2)]
    sent = alertmanager_server.requests[0].json()[0]
    assert sent["startsAt"] == "2025-03-01T11:00:00Z" and sent["generatorURL"] == "http://lakewarden:8080"
    assert isinstance(am.send(payload("resolved")), Delivered)
    assert alertmanager_server.ends() == [NOW - timedelta(minutes=1)]


def test_a_pasted_api_path_is_accepted() -> None:
    cfg = AlertmanagerConfig.model_validate({"url": "http://am:9093/api/v2/alerts"})
    assert cfg.url == "http://am:9093"


@pytest.mark.parametrize(("status", "expected"), [(400, Permanent), (422, Permanent), (429, Retryable),
                                                  (500, Retryable), (503, Retryable)])
def test_failures_are_classified(alertmanager_server: AlertmanagerServer, status: int, expected: type) -> None:
    alertmanager_server.fail_next(status, b'{"code": 400, "message": "bad"}')
    assert isinstance(channel(alertmanager_server).send(payload()), expected)


def test_timeout_is_retryable(alertmanager_server: AlertmanagerServer) -> None:
    alertmanager_server.fail_next(200, hang=3)
    assert isinstance(channel(alertmanager_server, timeout="1s").send(payload()), Retryable)


def test_bearer_token_is_sent_and_never_shown(alertmanager_server: AlertmanagerServer) -> None:
    am = channel(alertmanager_server, bearer_token="SECRET-AM-TOKEN")
    am.send(payload())
    assert alertmanager_server.requests[0].headers["authorization"] == "Bearer SECRET-AM-TOKEN"
    assert "SECRET-AM-TOKEN" not in repr(am)
