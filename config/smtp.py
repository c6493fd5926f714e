"""Email settings: SMTP with STARTTLS or implicit TLS, always verifying the server's certificate.

``tls`` is ``starttls`` (port 587, the default), ``implicit`` (port 465, the default there) or ``none``
(only for a relay on the same host, and never with AUTH: a password is not sent in the clear).
``ca_file`` trusts a private CA in addition to nothing else (the system store is not used then).
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field, SecretStr, field_validator, model_validator

from config.base import Strict
from config.durations import Duration
from config.secrets import resolve_secret_files
from config.templates import DEFAULT_HTML, DEFAULT_TEXT, DEFAULT_TITLE, HtmlTemplateText, TemplateText
from config.urls import non_empty_secret, positive_timeout, readable_file

_ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+$")
_HOSTPORT = re.compile(r"^\[?([A-Za-z0-9.\-:]+?)\]?:(\d{1,5})$")


def _addresses(value: Any) -> Any:
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    return value


class EmailConfig(Strict):
    model_config = ConfigDict(hide_input_in_errors=True)

    to: tuple[str, ...]
    from_: str = Field(alias="from")
    smarthost: str
    hello: str | None = None
    tls: Literal["starttls", "implicit", "none"] | None = None
    ca_file: Path | None = None
    auth_username: str | None = None
    auth_password: SecretStr | None = None
    auth_password_file: Path | None = None
    subject: TemplateText = DEFAULT_TITLE
    text: TemplateText = DEFAULT_TEXT
    html: HtmlTemplateText = DEFAULT_HTML
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: Duration = timedelta(seconds=10)
    send_resolved: bool = True

    @model_validator(mode="before")
    @classmethod
    def _read_secret_files(cls, values: Any) -> Any:
        if isinstance(values, dict) and "to" in values:
            values = {**values, "to": _addresses(values["to"])}
        return resolve_secret_files(values, ("auth_password",))

    @field_validator("to")
    @classmethod
    def _to(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("at least one recipient address")
        for address in value:
            if not _ADDRESS.match(address):
                raise ValueError(f"an email address such as oncall@example.com, not {address!r}")
        return value

    @field_validator("from_")
    @classmethod
    def _from(cls, value: str) -> str:
        if not _ADDRESS.match(value.strip().split("<")[-1].rstrip(">")):
            raise ValueError(f"a sender address such as lakewarden@example.com, not {value!r}")
        return value.strip()

    @field_validator("smarthost")
    @classmethod
    def _smarthost(cls, value: str) -> str:
        if not _HOSTPORT.match(value.strip()) or not 0 < int(value.rsplit(":", 1)[1]) < 65536:
            raise ValueError(f"host:port of the SMTP server, such as smtp.example.com:587, not {value!r}")
        return value.strip()

    @field_validator("ca_file")
    @classmethod
    def _ca(cls, value: Path | None) -> Path | None:
        return readable_file(value)

    @field_validator("auth_password")
    @classmethod
    def _password(cls, value: SecretStr | None) -> SecretStr | None:
        return non_empty_secret(value)

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, value: timedelta) -> timedelta:
        return positive_timeout(value)

    @model_validator(mode="after")
    def _auth_needs_tls(self) -> EmailConfig:
        if (self.auth_username is None) != (self.auth_password is None):
            raise ValueError("auth_username and auth_password (or auth_password_file) together, or neither")
        if self.auth_username is not None and self.tls_mode == "none":
            raise ValueError("tls: starttls or implicit when auth_username is set (a password is never sent "
                             "over an unencrypted connection)")
        return self

    @property
    def host(self) -> str:
        return self.smarthost.rsplit(":", 1)[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.smarthost.rsplit(":", 1)[1])

    @property
    def tls_mode(self) -> str:
        if self.tls is not None:
            return self.tls
        return "implicit" if self.port == 465 else "starttls"
