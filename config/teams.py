"""Microsoft Teams settings, in Alertmanager's names.

``msteamsv2_configs``: Workflows (Power Automate) webhooks, sent an Adaptive Card. ``msteams_configs``:
the legacy Office 365 connector (MessageCard, through pymsteams) for tenants that still have one.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, SecretStr, field_validator, model_validator

from config.base import Strict
from config.durations import Duration
from config.secrets import resolve_secret_files
from config.templates import DEFAULT_TEXT, DEFAULT_TITLE, TemplateText
from config.urls import http_url, positive_timeout


class _TeamsBase(Strict):
    model_config = ConfigDict(hide_input_in_errors=True)

    webhook_url: SecretStr
    webhook_url_file: Path | None = None
    title: TemplateText = DEFAULT_TITLE
    text: TemplateText = DEFAULT_TEXT
    timeout: Duration = timedelta(seconds=10)
    send_resolved: bool = True

    @model_validator(mode="before")
    @classmethod
    def _read_secret_files(cls, values: Any) -> Any:
        return resolve_secret_files(values, ("webhook_url",), required=("webhook_url",))

    @field_validator("webhook_url")
    @classmethod
    def _url(cls, value: SecretStr) -> SecretStr:
        return http_url(value)

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, value: timedelta) -> timedelta:
        return positive_timeout(value)


class MsTeamsV2Config(_TeamsBase):
    """A Workflows webhook: POST an Adaptive Card envelope; 202 means queued."""


class MsTeamsConfig(_TeamsBase):
    """A legacy Office 365 connector: a MessageCard sent with pymsteams; success is HTTP 200 ``1``."""
