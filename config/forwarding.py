"""Forwarding to an existing Prometheus Alertmanager (``POST /api/v2/alerts``).

Firing alerts are sent with ``endsAt`` = now + ``firing_ttl``; lakewarden re-sends a firing group on
its route's ``repeat_interval`` (keep that below ``firing_ttl``) and resolves with ``endsAt`` in the
past, so Alertmanager closes the alert at once instead of waiting for a timeout.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, SecretStr, field_validator, model_validator

from config.base import Strict
from config.durations import Duration
from config.secrets import resolve_secret_files
from config.urls import non_empty_secret, plain_http_url, positive_timeout, readable_file


class AlertmanagerConfig(Strict):
    model_config = ConfigDict(hide_input_in_errors=True)

    url: str
    bearer_token: SecretStr | None = None
    bearer_token_file: Path | None = None
    ca_file: Path | None = None
    firing_ttl: Duration = timedelta(hours=24)
    generator_url: str | None = None
    timeout: Duration = timedelta(seconds=10)
    send_resolved: bool = True

    @model_validator(mode="before")
    @classmethod
    def _read_secret_files(cls, values: Any) -> Any:
        return resolve_secret_files(values, ("bearer_token",))

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return plain_http_url(value, credentials="bearer_token (or bearer_token_file)").removesuffix("/api/v2/alerts")

    @field_validator("bearer_token")
    @classmethod
    def _token(cls, value: SecretStr | None) -> SecretStr | None:
        return non_empty_secret(value)

    @field_validator("ca_file")
    @classmethod
    def _ca(cls, value: Path | None) -> Path | None:
        return readable_file(value)

    @field_validator("generator_url")
    @classmethod
    def _generator(cls, value: str | None) -> str | None:
        return None if value is None else plain_http_url(value)

    @field_validator("timeout", "firing_ttl")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        return positive_timeout(value)
