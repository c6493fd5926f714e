"""Slack channel settings: an incoming webhook, or the Web API with a bot token.

``api_url`` (Alertmanager's name) is an incoming-webhook URL: one fixed channel, no message ids, so
no updates or threads. ``bot_token`` with ``channel`` uses ``chat.postMessage``; on resolve the
stored message is rewritten with ``chat.update`` (``update_on_resolve``) and, with
``thread_replies``, each later notification of the group is also posted in the message's thread.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, SecretStr, field_validator, model_validator

from config.base import Strict
from config.durations import Duration
from config.secrets import resolve_secret_files
from config.templates import DEFAULT_SLACK_TEXT, DEFAULT_TITLE, TemplateText
from config.urls import http_url, non_empty_secret, plain_http_url, positive_timeout


class SlackConfig(Strict):
    model_config = ConfigDict(hide_input_in_errors=True)

    api_url: SecretStr | None = None
    api_url_file: Path | None = None
    bot_token: SecretStr | None = None
    bot_token_file: Path | None = None
    channel: str | None = None
    api_base_url: str = "https://slack.com/api/"
    title: TemplateText = DEFAULT_TITLE
    text: TemplateText = DEFAULT_SLACK_TEXT
    update_on_resolve: bool = True
    thread_replies: bool = False
    timeout: Duration = timedelta(seconds=10)
    send_resolved: bool = True

    @model_validator(mode="before")
    @classmethod
    def _read_secret_files(cls, values: Any) -> Any:
        return resolve_secret_files(values, ("api_url", "bot_token"))

    @field_validator("api_url")
    @classmethod
    def _webhook_url(cls, value: SecretStr | None) -> SecretStr | None:
        return None if value is None else http_url(value)

    @field_validator("bot_token")
    @classmethod
    def _token(cls, value: SecretStr | None) -> SecretStr | None:
        return non_empty_secret(value)

    @field_validator("api_base_url")
    @classmethod
    def _base(cls, value: str) -> str:
        return plain_http_url(value) + "/"

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, value: timedelta) -> timedelta:
        return positive_timeout(value)

    @model_validator(mode="after")
    def _one_mode(self) -> SlackConfig:
        if (self.api_url is None) == (self.bot_token is None):
            raise ValueError("either api_url (an incoming webhook) or bot_token with channel (the Web API), "
                             "exactly one of them")
        if self.bot_token is not None and not (self.channel or "").strip():
            raise ValueError("a channel (such as '#ml-alerts' or a channel id) to go with bot_token")
        return self

    @property
    def web_api(self) -> bool:
        return self.bot_token is not None
