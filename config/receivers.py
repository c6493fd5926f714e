"""Receivers: named bundles of channels an alert is sent to (Alertmanager's ``receivers:`` block).

Channels: ``file_configs`` (JSON lines), ``console_configs`` (JSON lines on stdout),
``webhook_configs`` (POST JSON, optional HMAC signature), ``slack_configs``, ``email_configs``,
``msteamsv2_configs`` (Teams Workflows), ``msteams_configs`` (legacy Teams connector),
``pagerduty_configs`` and ``alertmanager_configs`` (forwarding). A receiver with no channels is
valid: it swallows what is routed to it. URLs and keys that carry tokens are secrets with a
``*_file`` twin. ``rate_limit`` caps how fast the receiver's notifications leave (a token bucket).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field, SecretStr, field_validator, model_validator

from config.base import Strict
from config.durations import Duration
from config.forwarding import AlertmanagerConfig
from config.paging import PagerDutyConfig
from config.secrets import resolve_secret_files
from config.slack import SlackConfig
from config.smtp import EmailConfig
from config.teams import MsTeamsConfig, MsTeamsV2Config
from config.urls import http_url


class FileConfig(Strict):
    """Append one JSON line per notification to ``path`` (fsynced)."""

    path: Path
    send_resolved: bool = True


class ConsoleConfig(Strict):
    """Write one JSON line per notification to standard output."""

    send_resolved: bool = True


class WebhookConfig(Strict):
    """POST the notification as JSON; with ``hmac_secret`` the body is signed in
    ``X-Lakewarden-Signature: sha256=<hex>``."""

    # The URL is a secret: keep pydantic from echoing raw input when this block is validated alone.
    model_config = ConfigDict(hide_input_in_errors=True)

    url: SecretStr
    url_file: Path | None = None
    hmac_secret: SecretStr | None = None
    hmac_secret_file: Path | None = None
    timeout: Duration = timedelta(seconds=10)
    send_resolved: bool = True
    max_alerts: int = Field(default=0, ge=0, description="at most this many alerts per message; 0 = all")

    @model_validator(mode="before")
    @classmethod
    def _read_secret_files(cls, values: Any) -> Any:
        return resolve_secret_files(values, ("url", "hmac_secret"), required=("url",))

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: SecretStr) -> SecretStr:
        return http_url(value, credentials="hmac_secret (or hmac_secret_file) to sign the body; a token the "
                                           "receiver reads from the path or query stays in url (or url_file)")

    @field_validator("hmac_secret")
    @classmethod
    def _non_empty(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value():
            raise ValueError("a non-empty secret, or leave hmac_secret out to send unsigned")
        return value

    @field_validator("timeout")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value.total_seconds() <= 0:
            raise ValueError("a timeout greater than 0, such as 10s")
        return value


class RateLimit(Strict):
    """At most ``rate`` notifications per ``per`` on average, and ``burst`` at once (a token bucket)."""

    rate: float = Field(gt=0)
    per: Duration = timedelta(seconds=1)
    burst: int = Field(default=1, ge=1)

    @field_validator("per")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value.total_seconds() <= 0:
            raise ValueError("a period greater than 0, such as 1s or 1m")
        return value

    @property
    def per_second(self) -> float:
        return self.rate / self.per.total_seconds()


class Receiver(Strict):
    """A named receiver; routes refer to it by ``name``."""

    # Channel configs hold URLs and keys: never echo raw input, even when a receiver is validated alone.
    model_config = ConfigDict(hide_input_in_errors=True)

    name: str = Field(min_length=1)
    file_configs: tuple[FileConfig, ...] = ()
    console_configs: tuple[ConsoleConfig, ...] = ()
    webhook_configs: tuple[WebhookConfig, ...] = ()
    slack_configs: tuple[SlackConfig, ...] = ()
    email_configs: tuple[EmailConfig, ...] = ()
    msteamsv2_configs: tuple[MsTeamsV2Config, ...] = ()
    msteams_configs: tuple[MsTeamsConfig, ...] = ()
    pagerduty_configs: tuple[PagerDutyConfig, ...] = ()
    alertmanager_configs: tuple[AlertmanagerConfig, ...] = ()
    rate_limit: RateLimit | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a receiver name, not blank text")
        return value
