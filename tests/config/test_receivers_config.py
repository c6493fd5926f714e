"""Receiver settings: channels, secrets with file twins, and errors that never show a secret."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from config.receivers import Receiver, WebhookConfig

TOKEN_URL = "https://hooks.example.com/services/T000/SECRET-TOKEN-123"


def error_text(model: Any, data: Any) -> str:
    with pytest.raises(ValidationError) as info:
        model.model_validate(data)
    return str(info.value)


def test_receiver_with_every_channel_kind_parses(tmp_path: Path) -> None:
    receiver = Receiver.model_validate({
        "name": "ops",
        "file_configs": [{"path": str(tmp_path / "alerts.jsonl"), "send_resolved": False}],
        "console_configs": [{}],
        "webhook_configs": [{"url": TOKEN_URL, "timeout": "2s", "max_alerts": 5}],
    })
    assert receiver.file_configs[0].path == tmp_path / "alerts.jsonl"
    assert receiver.file_configs[0].send_resolved is False
    assert receiver.console_configs[0].send_resolved is True
    hook = receiver.webhook_configs[0]
    assert hook.url.get_secret_value() == TOKEN_URL
    assert hook.timeout == timedelta(seconds=2)
    assert hook.max_alerts == 5
    assert hook.hmac_secret is None


def test_receiver_without_channels_is_allowed() -> None:
    assert Receiver.model_validate({"name": "blackhole"}).webhook_configs == ()


def test_webhook_defaults() -> None:
    hook = WebhookConfig.model_validate({"url": TOKEN_URL})
    assert hook.timeout == timedelta(seconds=10)
    assert hook.send_resolved is True
    assert hook.max_alerts == 0


def test_secrets_are_read_from_their_file_twins(tmp_path: Path) -> None:
    (tmp_path / "url").write_text(TOKEN_URL + "\n", encoding="utf-8")
    (tmp_path / "hmac").write_text("s3cret\n", encoding="utf-8")
    hook = WebhookConfig.model_validate(
        {"url_file": str(tmp_path / "url"), "hmac_secret_file": str(tmp_path / "hmac")}
    )
    assert hook.url.get_secret_value() == TOKEN_URL
    assert hook.hmac_secret is not None
    assert hook.hmac_secret.get_secret_value() == "s3cret"


def test_secrets_never_appear_in_reprs() -> None:
    receiver = Receiver.model_validate(
        {"name": "ops", "webhook_configs": [{"url": TOKEN_URL, "hmac_secret": "s3cret"}]}
    )
    shown = repr(receiver) + str(receiver) + str(receiver.model_dump())
    assert "SECRET-TOKEN-123" not in shown
    assert "s3cret" not in shown


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "url (or url_file) is required"),
        ({"url": TOKEN_URL, "url_file": "/etc/hostname"}, "give either url or url_file, not both"),
        ({"url_file": "/nonexistent/lakewarden/url"}, "url_file: cannot read /nonexistent/lakewarden/url"),
        ({"url": TOKEN_URL, "hmac_secret": "x", "hmac_secret_file": "/etc/hostname"}, "either hmac_secret"),
        ({"url": "ftp://host/SECRET-TOKEN-123"}, "an http:// or https:// URL with a host"),
        ({"url": "https:///SECRET-TOKEN-123"}, "an http:// or https:// URL with a host"),
        ({"url": TOKEN_URL, "hmac_secret": ""}, "a non-empty secret"),
        ({"url": TOKEN_URL, "timeout": "0s"}, "a timeout greater than 0"),
        ({"url": TOKEN_URL, "max_alerts": -1}, "greater than or equal to 0"),
        ({"url": TOKEN_URL, "send_resolve": True}, "Extra inputs are not permitted"),
    ],
)
def test_bad_webhook_configs_fail_without_showing_the_url(data: dict[str, Any], message: str) -> None:
    text = error_text(WebhookConfig, data)
    assert message in text
    assert "SECRET-TOKEN-123" not in text


def test_unknown_channel_kinds_are_rejected_by_name() -> None:
    text = error_text(Receiver, {"name": "ops", "sms_configs": [{"to": "x"}]})
    assert "sms_configs" in text
    assert "Extra inputs are not permitted" in text


PD_KEY = "R0UT1NGKEY0123456789ABCDEFGHIJKL"
EVERY_KIND: dict[str, Any] = {
    "name": "everything",
    "slack_configs": [{"api_url": TOKEN_URL}, {"bot_token": "xoxb-SECRET-TOKEN-123", "channel": "#ml",
                                               "thread_replies": True}],
    "email_configs": [{"to": "a@example.com, b@example.com", "from": "lw@example.com",
                       "smarthost": "smtp.example.com:465", "auth_username": "lw",
                       "auth_password": "SECRET-TOKEN-123"}],
    "msteamsv2_configs": [{"webhook_url": TOKEN_URL}],
    "msteams_configs": [{"webhook_url": TOKEN_URL, "send_resolved": False}],
    "pagerduty_configs": [{"routing_key": PD_KEY, "url": "https://events.eu.pagerduty.com/v2/enqueue",
                           "severity_map": {"high": "critical"}}],
    "alertmanager_configs": [{"url": "http://alertmanager:9093", "bearer_token": "SECRET-TOKEN-123"}],
    "rate_limit": {"rate": 60, "per": "1m", "burst": 5},
}


def test_every_channel_kind_parses_with_alertmanager_names() -> None:
    receiver = Receiver.model_validate(EVERY_KIND)
    slack_hook, slack_api = receiver.slack_configs
    assert (slack_hook.web_api, slack_api.web_api, slack_api.thread_replies) == (False, True, True)
    mail = receiver.email_configs[0]
    assert (mail.to, mail.host, mail.port, mail.tls_mode) == (("a@example.com", "b@example.com"),
                                                              "smtp.example.com", 465, "implicit")
    pd = receiver.pagerduty_configs[0]
    assert pd.url == "https://events.eu.pagerduty.com"
    assert (pd.severity_map["high"], pd.severity_map["medium"]) == ("critical", "warning")
    assert receiver.msteams_configs[0].send_resolved is False
    assert receiver.rate_limit is not None and receiver.rate_limit.per_second == 1.0
    assert "SECRET-TOKEN-123" not in repr(receiver) and PD_KEY not in repr(receiver)


@pytest.mark.parametrize(("data", "message"), [
    ({"slack_configs": [{}]}, "either api_url (an incoming webhook) or bot_token"),
    ({"slack_configs": [{"bot_token": "xoxb-1"}]}, "a channel"),
    ({"slack_configs": [{"api_url": "ftp://SECRET-TOKEN-123"}]}, "http:// or https:// URL"),
    ({"email_configs": [{"to": "nobody", "from": "a@b.c", "smarthost": "h:25"}]}, "an email address"),
    ({"email_configs": [{"to": "a@b.c", "from": "a@b.c", "smarthost": "smtp.example.com"}]}, "host:port"),
    ({"email_configs": [{"to": "a@b.c", "from": "a@b.c", "smarthost": "h:25", "tls": "none",
                         "auth_username": "u", "auth_password": "SECRET-TOKEN-123"}]}, "never sent over"),
    ({"pagerduty_configs": [{"routing_key": "SECRET-TOKEN-123"}]}, "32-character"),
    ({"pagerduty_configs": [{"service_key": "x"}]}, "service_key is the retired v1 API"),
    ({"pagerduty_configs": [{"routing_key": PD_KEY, "severity_map": {"high": "urgent"}}]}, "one of critical"),
    ({"msteamsv2_configs": [{}]}, "webhook_url (or webhook_url_file) is required"),
    ({"rate_limit": {"rate": 0}}, "greater than 0"),
])
def test_bad_channel_configs_fail_clearly_and_never_show_secrets(data: dict[str, Any], message: str) -> None:
    text = error_text(Receiver, {"name": "r", **data})
    assert message in text
    assert "SECRET-TOKEN-123" not in text


def test_receiver_needs_a_name() -> None:
    assert "name" in error_text(Receiver, {"name": "  "})
