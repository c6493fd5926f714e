"""Each HTTP channel, through the real delivery worker and outbox, against its strict loopback server:
429 with Retry-After, 5xx and timeouts are retried (Retry-After honoured, Slack included); 400 and
401 are dead-lettered with their reason and a meta-alert to the fallback receiver."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa

from alerts.outbox import OutboxStatus
from tests.alerts.alert_fakes import ROUTING_KEY, SLACK_TOKEN, WebhookServer
from tests.alerts.alert_kit import alert, file_receiver, lines, make_settings, notifier
from tests.alerts.alert_servers import ContractServer

if TYPE_CHECKING:
    from config.basics.clock import SimulatedClock

pytestmark = pytest.mark.integration

TIMEOUT = "0.5s"


@pytest.fixture
def webhook_server() -> Any:
    server = WebhookServer("s3cret")
    with server.running():
        yield server


def channel_config(kind: str, request: pytest.FixtureRequest, cert: Path) -> tuple[dict[str, Any], ContractServer]:
    if kind in ("slack_webhook", "slack_web_api"):
        server = request.getfixturevalue("slack_server")
        if kind == "slack_webhook":
            return {"slack_configs": [{"api_url": server.url("/services/T/B/X"), "timeout": TIMEOUT}]}, server
        return {"slack_configs": [{"bot_token": SLACK_TOKEN, "channel": "#ml-alerts", "timeout": TIMEOUT,
                                   "api_base_url": server.url("/api/")}]}, server
    if kind == "teams":
        server = request.getfixturevalue("teams_server")
        return {"msteamsv2_configs": [{"webhook_url": server.url("/workflows/x"), "timeout": TIMEOUT}]}, server
    if kind == "pagerduty":
        server = request.getfixturevalue("pagerduty_server")
        return {"pagerduty_configs": [{"routing_key": ROUTING_KEY, "url": server.url(), "ca_file": str(cert),
                                       "timeout": TIMEOUT}]}, server
    if kind == "alertmanager":
        server = request.getfixturevalue("alertmanager_server")
        return {"alertmanager_configs": [{"url": server.url(), "timeout": TIMEOUT}]}, server
    server = request.getfixturevalue("webhook_server")
    return {"webhook_configs": [{"url": server.url("/hook"), "hmac_secret": "s3cret", "timeout": TIMEOUT}]}, server


KINDS = ["slack_webhook", "slack_web_api", "teams", "pagerduty", "alertmanager", "webhook"]
FAULTS = {
    "429": ({"status": 429, "body": b'{"ok": false, "error": "ratelimited"}', "headers": {"Retry-After": "120"}},
            "retry", 120),
    "503": ({"status": 503, "body": b"down"}, "retry", None),
    "timeout": ({"status": 200, "hang": 2.0}, "retry", None),
    "400": ({"status": 400, "body": b'{"message": "invalid"}'}, "dead", None),
    "401": ({"status": 401, "body": b"invalid_token"}, "dead", None),
}


@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("kind", KINDS)
def test_failure_outcomes(kind: str, fault: str, request: pytest.FixtureRequest, engine: sa.Engine,
                          clock: SimulatedClock, tmp_path: Path, loopback_cert: tuple[Path, Path]) -> None:
    config, server = channel_config(kind, request, loopback_cert[0])
    settings = make_settings({"receiver": "out", "group_wait": "0s"},
                             [{"name": "out", **config}, file_receiver(tmp_path, "fallback")],
                             alerting={"fallback_receiver": "fallback",
                                       "retry": {"initial_delay": "10s", "jitter": 0.0}})
    n = notifier(engine, clock, settings)
    n.service.sync("churn", [alert(clock, model="churn", severity="critical")])
    answer, outcome, retry_after = FAULTS[fault]
    server.fail_next(**answer)
    report = n.run_once()
    (row,) = [r for r in n.outbox.rows() if r.receiver == "out"]
    if outcome == "retry":
        assert (report.retried, row.status) == (1, OutboxStatus.PENDING), row.last_error
        assert row.next_attempt_at == clock() + timedelta(seconds=retry_after or 10)
        clock.advance(seconds=retry_after or 10)
        assert n.run_once().delivered == 1  # the server answers per its contract now
    else:
        assert (report.dead, row.status) == (1, OutboxStatus.DEAD)
        assert fault in (row.last_error or "")
        n.run_once()
        (meta,) = lines(tmp_path / "fallback.jsonl")
        assert meta["alerts"][0]["labels"]["receiver"] == "out"
