"""The webhook channel against a real HTTP server on 127.0.0.1: classification, Retry-After, HMAC."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
from datetime import timedelta
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any

import pytest
from pydantic import SecretStr

from alerts.channels.base import Delivered, Permanent, Retryable
from alerts.channels.webhook import SIGNATURE_HEADER, WebhookChannel, parse_retry_after
from config.receivers import WebhookConfig

if TYPE_CHECKING:
    from config.basics.clock import SimulatedClock
    from tests.alerts.conftest import Loopback

pytestmark = pytest.mark.integration

PAYLOAD: dict[str, Any] = {
    "version": 1, "status": "firing", "receiver": "ops", "alerts": [{"labels": {"a": "1"}}],
    "commonLabels": {"a": "1"}, "groupKey": "{}:{}",
}
TOKEN_PATH = "/services/T0/SECRET-TOKEN-123?key=QUERYSECRET"


def channel(loopback: Loopback, clock: SimulatedClock, **kwargs: Any) -> WebhookChannel:
    return WebhookChannel(SecretStr(loopback.url(TOKEN_PATH)), clock=clock, **kwargs)


def assert_no_secret(result: object) -> None:
    assert "SECRET-TOKEN-123" not in repr(result)
    assert "QUERYSECRET" not in repr(result)


def test_2xx_is_delivered_with_the_json_body(loopback: Loopback, clock: SimulatedClock) -> None:
    loopback.reply(202, b"queued")
    result = channel(loopback, clock).send(PAYLOAD)
    assert isinstance(result, Delivered)
    (seen,) = loopback.seen
    assert seen.path == TOKEN_PATH
    assert json.loads(seen.body) == PAYLOAD
    assert seen.headers["Content-Type"] == "application/json"
    assert SIGNATURE_HEADER not in seen.headers
    assert_no_secret(result)


def test_200_is_delivered(loopback: Loopback, clock: SimulatedClock) -> None:
    loopback.reply(200, b"ok")
    assert channel(loopback, clock).send(PAYLOAD) == Delivered(f"HTTP 200 from http://127.0.0.1:{loopback.port}")


def test_hmac_signature_verifies(loopback: Loopback, clock: SimulatedClock) -> None:
    loopback.reply(200)
    channel(loopback, clock, hmac_secret=SecretStr("s3cret")).send(PAYLOAD)
    (seen,) = loopback.seen
    expected = hmac.new(b"s3cret", seen.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(seen.headers[SIGNATURE_HEADER], f"sha256={expected}")
    wrong = hmac.new(b"other", seen.body, hashlib.sha256).hexdigest()
    assert seen.headers[SIGNATURE_HEADER] != f"sha256={wrong}"


def test_429_is_retryable_with_retry_after_seconds(loopback: Loopback, clock: SimulatedClock) -> None:
    loopback.reply(429, b"slow down", {"Retry-After": "7"})
    result = channel(loopback, clock).send(PAYLOAD)
    assert result == Retryable(f"HTTP 429 from http://127.0.0.1:{loopback.port}", 7.0)


def test_retry_after_as_an_http_date_is_relative_to_the_clock(loopback: Loopback, clock: SimulatedClock) -> None:
    loopback.reply(503, b"", {"Retry-After": format_datetime(clock() + timedelta(minutes=2), usegmt=True)})
    result = channel(loopback, clock).send(PAYLOAD)
    assert isinstance(result, Retryable)
    assert result.retry_after == 120.0


def test_503_without_retry_after_is_retryable(loopback: Loopback, clock: SimulatedClock) -> None:
    loopback.reply(503, b"maintenance")
    result = channel(loopback, clock).send(PAYLOAD)
    assert isinstance(result, Retryable)
    assert result.retry_after is None
    assert "HTTP 503" in result.reason
    assert_no_secret(result)


@pytest.mark.parametrize("status", [400, 401, 404])
def test_other_4xx_are_permanent_with_status_and_body_excerpt(
    loopback: Loopback, clock: SimulatedClock, status: int
) -> None:
    loopback.reply(status, b'{"error": "invalid_payload"}' + b"x" * 500)
    result = channel(loopback, clock).send(PAYLOAD)
    assert isinstance(result, Permanent)
    assert result.reason.startswith(f"HTTP {status} from http://127.0.0.1:{loopback.port}: ")
    assert '"error": "invalid_payload"' in result.reason
    assert len(result.reason) < 300


def test_a_body_echoing_the_url_is_redacted(loopback: Loopback, clock: SimulatedClock) -> None:
    loopback.reply(401, f"bad token in {TOKEN_PATH}".encode())
    result = channel(loopback, clock).send(PAYLOAD)
    assert isinstance(result, Permanent)
    assert "<redacted>" in result.reason
    assert_no_secret(result)


def test_redirects_are_not_followed(loopback: Loopback, clock: SimulatedClock) -> None:
    loopback.reply(302, b"", {"Location": loopback.url("/elsewhere")})
    result = channel(loopback, clock).send(PAYLOAD)
    assert isinstance(result, Permanent)
    assert "redirects are not followed" in result.reason
    assert len(loopback.seen) == 1


def test_timeout_is_retryable(loopback: Loopback, clock: SimulatedClock) -> None:
    loopback.reply(200, hang=True)
    result = channel(loopback, clock, timeout=timedelta(milliseconds=300)).send(PAYLOAD)
    loopback.release.set()
    assert isinstance(result, Retryable)
    assert "within 0.3s" in result.reason or "timed out" in result.reason
    assert_no_secret(result)


def test_connection_refused_is_retryable(clock: SimulatedClock) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = WebhookChannel(SecretStr(f"http://127.0.0.1:{port}{TOKEN_PATH}"), clock=clock).send(PAYLOAD)
    assert isinstance(result, Retryable)
    assert result.reason.startswith(f"cannot reach http://127.0.0.1:{port}: ")
    assert_no_secret(result)


def test_max_alerts_truncates_and_says_how_many(loopback: Loopback, clock: SimulatedClock) -> None:
    loopback.reply(200)
    payload = {**PAYLOAD, "alerts": [{"labels": {"n": str(i)}} for i in range(5)]}
    channel(loopback, clock, max_alerts=2).send(payload)
    body = json.loads(loopback.seen[0].body)
    assert [a["labels"]["n"] for a in body["alerts"]] == ["0", "1"]
    assert body["truncatedAlerts"] == 3


def test_built_from_config_and_repr_shows_only_the_origin(loopback: Loopback, clock: SimulatedClock) -> None:
    config = WebhookConfig.model_validate({"url": loopback.url(TOKEN_PATH), "timeout": "2s"})
    hook = WebhookChannel.from_config(config, clock)
    assert repr(hook) == f"WebhookChannel(http://127.0.0.1:{loopback.port})"
    loopback.reply(200)
    assert isinstance(hook.send(PAYLOAD), Delivered)


@pytest.mark.parametrize(
    ("header", "expected"),
    [(None, None), ("", None), ("30", 30.0), ("soon", None), ("Sat, 01 Mar 2025 11:00:00 GMT", 0.0)],
)
def test_parse_retry_after(clock: SimulatedClock, header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header, clock()) == expected
