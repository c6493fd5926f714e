"""PagerDuty settings (Events API v2), in Alertmanager's names where it has them.

``url`` is the Events API base (``https://events.pagerduty.com``; a pasted ``.../v2/enqueue`` is
accepted). The ``dedup_key`` is derived from the alert group and the receiver, so a group opens one
PagerDuty alert, later notifications update it, and its resolve closes it.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field, SecretStr, field_validator, model_validator

from config.base import Strict
from config.durations import Duration
from config.secrets import resolve_secret_files
from config.templates import DEFAULT_SUMMARY, TemplateText
from config.urls import plain_http_url, positive_timeout, readable_file

PAGERDUTY_SEVERITIES = ("critical", "error", "warning", "info")
DEFAULT_SEVERITY_MAP = {"critical": "critical", "high": "error", "medium": "warning", "low": "info",
                        "ok": "info", "none": "info", "info": "info", "warning": "warning", "error": "error"}


class PagerDutyConfig(Strict):
    model_config = ConfigDict(hide_input_in_errors=True)

    routing_key: SecretStr
    routing_key_file: Path | None = None
    url: str = "https://events.pagerduty.com"
    ca_file: Path | None = None
    description: TemplateText = DEFAULT_SUMMARY
    source: TemplateText = "{{ 'lakewarden/' ~ (model or alertname) }}"
    component: TemplateText = "{{ model }}"
    group: TemplateText = "{{ team or env }}"
    class_: TemplateText = Field(default="{{ alertname }}", alias="class")
    severity_map: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_SEVERITY_MAP))
    default_severity: str = "warning"
    client: str = "lakewarden"
    client_url: str | None = None
    timeout: Duration = timedelta(seconds=10)
    send_resolved: bool = True

    @model_validator(mode="before")
    @classmethod
    def _read_secret_files(cls, values: Any) -> Any:
        if isinstance(values, dict) and "service_key" in values:
            raise ValueError("routing_key (Events API v2); service_key is the retired v1 API")
        return resolve_secret_files(values, ("routing_key",), required=("routing_key",))

    @field_validator("routing_key")
    @classmethod
    def _key(cls, value: SecretStr) -> SecretStr:
        text = value.get_secret_value().strip()
        if len(text) != 32 or not text.isalnum():
            raise ValueError("a 32-character integration (routing) key of letters and digits "
                             "(the value is not shown)")
        return SecretStr(text)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        base = plain_http_url(value, https_only=True)
        return base.removesuffix("/v2/enqueue")

    @field_validator("ca_file")
    @classmethod
    def _ca(cls, value: Path | None) -> Path | None:
        return readable_file(value)

    @field_validator("severity_map")
    @classmethod
    def _map(cls, value: dict[str, str]) -> dict[str, str]:
        for ours, theirs in value.items():
            if theirs not in PAGERDUTY_SEVERITIES:
                raise ValueError(f"severity_map.{ours}: one of {', '.join(PAGERDUTY_SEVERITIES)}, not {theirs!r}")
        return {**DEFAULT_SEVERITY_MAP, **value}

    @field_validator("default_severity")
    @classmethod
    def _default(cls, value: str) -> str:
        if value not in PAGERDUTY_SEVERITIES:
            raise ValueError(f"one of {', '.join(PAGERDUTY_SEVERITIES)}")
        return value

    @field_validator("client_url")
    @classmethod
    def _client_url(cls, value: str | None) -> str | None:
        return None if value is None else plain_http_url(value)

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, value: timedelta) -> timedelta:
        return positive_timeout(value)
