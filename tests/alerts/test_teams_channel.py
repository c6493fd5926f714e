"""Microsoft Teams against a strict loopback: Workflows Adaptive Cards, and the legacy connector."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from alerts.channels.base import Delivered, Permanent, Retryable
from alerts.channels.teams import MAX_CARD_BYTES, TeamsConnectorChannel, TeamsWorkflowChannel, adaptive_card
from alerts.model import Alert
from alerts.payload import build_payload
from alerts.templating import context
from config.teams import MsTeamsConfig, MsTeamsV2Config
from tests.alerts.alert_fakes import TeamsServer

pytestmark = pytest.mark.integration

NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)


def payload(status: str = "firing", count: int = 1, **notes: str) -> dict[str, Any]:
    alerts = [Alert({"alertname": "ModelAtRisk", "model": "churn", "severity": "critical", "n": str(i)},
                    {"summary": "drift", "risk": "88", "dashboard_url": "https://dash/churn", **notes}, NOW,
                    NOW if status == "resolved" else None) for i in range(count)]
    return build_payload("teams", alerts, "{}:{}", now=NOW, group_id="g1")


def workflow(server: TeamsServer, **extra: Any) -> TeamsWorkflowChannel:
    cfg = MsTeamsV2Config.model_validate({"webhook_url": server.url("/workflows/SECRET-SIG"), "timeout": "2s",
                                          **extra})
    return TeamsWorkflowChannel(cfg)


def test_workflows_get_an_adaptive_card_and_202_is_delivered(teams_server: TeamsServer) -> None:
    result = workflow(teams_server).send(payload())
    assert result == Delivered(f"HTTP 202 from {teams_server.url()} (queued)")
    (card,) = teams_server.cards
    assert card["body"][0]["text"] == "[FIRING:1] churn critical"
    assert card["body"][0]["color"] == "attention"
    assert card["actions"] == [{"type": "Action.OpenUrl", "title": "Dashboard", "url": "https://dash/churn"}]
    assert teams_server.requests[0].headers["content-type"] == "application/json"


@pytest.mark.parametrize(("status", "expected"), [(429, Retryable), (500, Retryable), (502, Retryable),
                                                  (400, Permanent), (401, Permanent), (404, Permanent)])
def test_workflow_failures_are_classified(teams_server: TeamsServer, status: int, expected: type) -> None:
    teams_server.fail_next(status, b'{"error": {"code": "x"}}', {"Retry-After": "9"})
    result = workflow(teams_server).send(payload())
    assert isinstance(result, expected)
    if status == 429:
        assert isinstance(result, Retryable) and result.retry_after == 9.0
    assert "SECRET-SIG" not in repr(result)


def test_workflow_timeout_is_retryable(teams_server: TeamsServer) -> None:
    teams_server.fail_next(202, hang=3)
    assert isinstance(workflow(teams_server, timeout="1s").send(payload()), Retryable)


def test_cards_stay_under_28_kb_even_for_huge_groups(teams_server: TeamsServer) -> None:
    result = workflow(teams_server).send(payload(count=400, summary="s" * 50_000))
    assert isinstance(result, Delivered), result  # the server rejects bodies over 28 KB with 413
    envelope = adaptive_card("t", "x" * 100_000, context(payload(count=400)))
    assert len(json.dumps(envelope).encode()) <= MAX_CARD_BYTES


def test_the_strict_server_rejects_what_is_not_an_adaptive_card(teams_server: TeamsServer) -> None:
    legacy_shape = MsTeamsConfig.model_validate({"webhook_url": teams_server.url("/workflows/x"), "timeout": "2s"})
    result = TeamsConnectorChannel(legacy_shape).send(payload())  # a MessageCard to a Workflows URL
    assert isinstance(result, Permanent) and "HTTP 400" in result.reason


def test_legacy_connector_sends_a_message_card_through_pymsteams(teams_server: TeamsServer) -> None:
    cfg = MsTeamsConfig.model_validate({"webhook_url": teams_server.url("/legacy/SECRET"), "timeout": "2s"})
    result = TeamsConnectorChannel(cfg).send(payload("resolved"))
    assert isinstance(result, Delivered), result
    (card,) = teams_server.legacy_cards
    assert card["title"] == "[RESOLVED] churn critical"
    assert card["themeColor"] == "2EB886"


def test_legacy_connector_failures_are_classified(teams_server: TeamsServer) -> None:
    cfg = MsTeamsConfig.model_validate({"webhook_url": teams_server.url("/legacy/SECRET"), "timeout": "1s"})
    teams_server.fail_next(429, b"slow down", {"Retry-After": "4"})
    first = TeamsConnectorChannel(cfg).send(payload())
    assert isinstance(first, Retryable) and first.retry_after == 4.0
    teams_server.fail_next(403, b"forbidden")
    assert isinstance(TeamsConnectorChannel(cfg).send(payload()), Permanent)
    teams_server.fail_next(200, hang=3)
    timed_out = TeamsConnectorChannel(cfg).send(payload())
    assert isinstance(timed_out, Retryable) and "within 1s" in timed_out.reason
