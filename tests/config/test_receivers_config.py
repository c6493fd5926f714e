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


def test_channels_not_implemented_yet_are_rejected_by_name() -> None:
    text = error_text(Receiver, {"name": "ops", "slack_configs": [{"api_url": "x"}]})
    assert "slack_configs" in text
    assert "Extra inputs are not permitted" in text


def test_receiver_needs_a_name() -> None:
    assert "name" in error_text(Receiver, {"name": "  "})
