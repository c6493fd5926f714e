"""PagerDuty Events API v2 through the ``pagerduty`` package, against a strict loopback HTTPS server."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from alerts.channels.base import Delivered, Permanent, Retryable
from alerts.channels.paging import MAX_SUMMARY, PagerDutyChannel, dedup_key
from alerts.model import Alert
from alerts.payload import build_payload
from config.paging import PagerDutyConfig
from tests.alerts.alert_fakes import ROUTING_KEY, PagerDutyServer

pytestmark = pytest.mark.integration

NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)


def payload(status: str = "firing", group: str = "g1", severity: str = "critical", count: int = 1,
            **notes: str) -> dict[str, Any]:
    alerts = [Alert({"alertname": "ModelAtRisk", "model": "churn", "severity": severity, "n": str(i)},
                    {"summary": "prediction drift", "risk": "91", "runbook_url": "https://wiki/churn",
                     "findings": "psi 0.4", **notes}, NOW, NOW if status == "resolved" else None)
              for i in range(count)]
    return build_payload("pager", alerts, "{}:{model=\"churn\"}", now=NOW, group_id=group)


def channel(server: PagerDutyServer, cert: Path | None, **extra: Any) -> PagerDutyChannel:
    values: dict[str, Any] = {"routing_key": ROUTING_KEY, "url": server.url(), "timeout": "2s", **extra}
    if cert is not None:
        values["ca_file"] = str(cert)
    return PagerDutyChannel(PagerDutyConfig.model_validate(values))


def test_trigger_then_resolve_is_one_incident(pagerduty_server: PagerDutyServer,
                                              loopback_cert: tuple[Path, Path]) -> None:
    pd = channel(pagerduty_server, loopback_cert[0])
    assert isinstance(pd.send(payload()), Delivered)
    assert isinstance(pd.send(payload(count=2)), Delivered)  # a change of the group updates the alert
    assert isinstance(pd.send(payload("resolved")), Delivered)
    (incident,) = pagerduty_server.incidents
    assert incident.events == ["trigger", "trigger", "resolve"] and incident.status == "resolved"
    assert incident.dedup_key == dedup_key(payload())
    event = pagerduty_server.requests[0].json()
    assert event["routing_key"] == ROUTING_KEY
    assert event["payload"]["severity"] == "critical"
    assert event["payload"]["summary"] == "churn critical: prediction drift (risk 91)"
    assert event["payload"]["custom_details"]["findings"] == ["psi 0.4"]
    assert event["links"] == [{"href": "https://wiki/churn", "text": "Runbook"}]
    assert event["client"] == "lakewarden"


def test_after_a_resolve_the_same_group_opens_a_new_incident(pagerduty_server: PagerDutyServer,
                                                            loopback_cert: tuple[Path, Path]) -> None:
    pd = channel(pagerduty_server, loopback_cert[0])
    for status in ("firing", "resolved", "firing"):
        pd.send(payload(status))
    assert [i.status for i in pagerduty_server.incidents] == ["resolved", "triggered"]


def test_groups_and_receivers_get_their_own_dedup_keys() -> None:
    keys = {dedup_key(payload(group="a")), dedup_key(payload(group="b")),
            dedup_key({**payload(group="a"), "receiver": "other"})}
    assert len(keys) == 3 and all(len(k) <= 255 for k in keys)


@pytest.mark.parametrize(("ours", "theirs"), [("critical", "critical"), ("high", "error"), ("medium", "warning"),
                                              ("low", "info"), ("none", "info"), ("weird", "warning")])
def test_severity_mapping(pagerduty_server: PagerDutyServer, loopback_cert: tuple[Path, Path], ours: str,
                          theirs: str) -> None:
    channel(pagerduty_server, loopback_cert[0]).send(payload(severity=ours))
    assert pagerduty_server.requests[-1].json()["payload"]["severity"] == theirs


@pytest.mark.parametrize(("fault", "expected", "retry_after"), [
    ((429, b'{"status": "throttle"}', {"Retry-After": "20"}), Retryable, 20.0),
    ((500, b"", {}), Retryable, None),
    ((503, b"", {}), Retryable, None),
    ((400, b'{"status": "invalid event", "message": "Event object is invalid", "errors": ["bad"]}',
      {"Content-Type": "application/json"}), Permanent, None),
    ((401, b"", {}), Permanent, None),
    ((403, b"", {}), Permanent, None),
    ((202, b"not json", {}), Permanent, None),
])
def test_answers_are_classified_without_client_retries(
    pagerduty_server: PagerDutyServer, loopback_cert: tuple[Path, Path],
    fault: tuple[int, bytes, dict[str, str]], expected: type, retry_after: float | None,
) -> None:
    pagerduty_server.fail_next(*fault)
    started = time.monotonic()
    result = channel(pagerduty_server, loopback_cert[0]).send(payload())
    assert time.monotonic() - started < 1.0  # the client did not sleep and retry on its own
    assert isinstance(result, expected), result
    assert getattr(result, "retry_after", None) == retry_after
    assert len(pagerduty_server.requests) == 1
    assert ROUTING_KEY not in repr(result)


def test_the_strict_server_rejects_a_bad_event_and_the_reason_says_why(
    pagerduty_server: PagerDutyServer, loopback_cert: tuple[Path, Path]
) -> None:
    result = channel(pagerduty_server, loopback_cert[0], routing_key="X" * 32).send(payload())
    assert isinstance(result, Permanent) and "'routing_key' is invalid" in result.reason


def test_timeout_is_retryable(pagerduty_server: PagerDutyServer, loopback_cert: tuple[Path, Path]) -> None:
    pagerduty_server.fail_next(202, hang=3)
    result = channel(pagerduty_server, loopback_cert[0], timeout="1s").send(payload())
    assert isinstance(result, Retryable) and "within 1s" in result.reason


def test_an_unverified_certificate_is_permanent(pagerduty_server: PagerDutyServer) -> None:
    result = channel(pagerduty_server, None).send(payload())
    assert isinstance(result, Permanent) and "could not be verified" in result.reason


def test_size_limits_are_enforced(pagerduty_server: PagerDutyServer, loopback_cert: tuple[Path, Path]) -> None:
    huge = payload(count=3000, summary="s" * 5000, findings="\n".join(["f" * 200] * 2000))
    result = channel(pagerduty_server, loopback_cert[0]).send(huge)
    assert isinstance(result, Delivered), result  # the server answers 400/413 past the limits
    event = pagerduty_server.requests[0].json()
    assert len(event["payload"]["summary"]) <= MAX_SUMMARY
    assert len(pagerduty_server.requests[0].body) <= 512 * 1024


def test_a_test_notification_is_triggered_and_resolved_again(pagerduty_server: PagerDutyServer,
                                                            loopback_cert: tuple[Path, Path]) -> None:
    result = channel(pagerduty_server, loopback_cert[0]).send({**payload(), "kind": "test"})
    assert isinstance(result, Delivered) and result.detail.endswith("; resolved again")
    assert [i.events for i in pagerduty_server.incidents] == [["trigger", "resolve"]]


def test_an_acknowledgement_acknowledges(pagerduty_server: PagerDutyServer, loopback_cert: tuple[Path, Path]) -> None:
    pd = channel(pagerduty_server, loopback_cert[0])
    pd.send(payload())
    ack = build_payload("pager", [], "{}:{model=\"churn\"}", now=NOW, kind="acknowledgement", group_id="g1",
                        status="acknowledged")
    assert isinstance(pd.send(ack), Delivered)
    assert pagerduty_server.incidents[0].status == "acknowledged"


@pytest.mark.parametrize("url", ["http://events.example.com", "http://10.0.0.5:8080", "http://127.example.com"])
def test_http_base_urls_are_refused_at_load_except_to_loopback(url: str) -> None:
    with pytest.raises(ValueError, match="http:// only to a loopback address"):
        PagerDutyConfig.model_validate({"routing_key": ROUTING_KEY, "url": url})


@pytest.mark.parametrize("url", ["http://127.0.0.1:1", "http://127.3.2.1:1", "http://[::1]:1", "http://localhost:1"])
def test_http_to_a_loopback_address_is_accepted(url: str) -> None:
    assert PagerDutyConfig.model_validate({"routing_key": ROUTING_KEY, "url": url}).url == url


def test_a_plain_http_loopback_receiver_gets_the_events(pagerduty_http_server: PagerDutyServer) -> None:
    pd = channel(pagerduty_http_server, None)
    assert pagerduty_http_server.url().startswith("http://127.0.0.1:")
    assert isinstance(pd.send(payload()), Delivered)
    assert isinstance(pd.send(payload("resolved")), Delivered)
    assert [(i.status, i.events) for i in pagerduty_http_server.incidents] == [("resolved", ["trigger", "resolve"])]


def test_a_refused_base_url_is_shown_in_the_error_and_not_called_a_secret(tmp_path: Path) -> None:
    from config import load_settings
    from config.errors import ConfigError

    config = tmp_path / "lakewarden.yaml"
    config.write_text(f"""
models: [{{name: churn, sources: {{lakehouse: {{table: main.ml.churn}}}}}}]
route: {{receiver: pager}}
receivers:
  - name: pager
    pagerduty_configs: [{{routing_key: {ROUTING_KEY}, url: "http://events.example.com"}}]
    slack_configs: [{{api_url: "http://hooks.example.com/services/T0/B0/SECRET-PATH"}}]
""", encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_settings(config)
    text = str(raised.value)
    assert "url: found 'http://events.example.com'; expected an https:// URL" in text, text
    assert "SECRET-PATH" not in text
