"""Checks shared by channel configs: URLs that may hold tokens, timeouts, CA files."""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from pathlib import Path
from urllib.parse import SplitResult, urlsplit

from pydantic import SecretStr

_SECRET_HINT = "the value is not shown: it may hold a token"  # noqa: S105 - a message, not a secret


_HTTPS_ONLY = "an https:// URL with a host (http:// only to a loopback address: 127.0.0.0/8, ::1, localhost)"
_ANY = "an http:// or https:// URL with a host"


def is_loopback(host: str | None) -> bool:
    """127.0.0.0/8, ::1 or localhost: a proxy or a test double on this machine."""
    if not host:
        return False
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _accepted(text: str, https_only: bool) -> SplitResult | None:
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    if not parts.hostname or parts.scheme not in ("http", "https"):
        return None
    if https_only and parts.scheme == "http" and not is_loopback(parts.hostname):
        return None
    return parts


def http_url(value: SecretStr, *, https_only: bool = False) -> SecretStr:
    """An ``http(s)://host...`` URL that may hold a token (a webhook URL): kept secret, the error never
    quotes it. ``https_only``: plain http only to a loopback address."""
    text = value.get_secret_value().strip()
    if _accepted(text, https_only) is None:
        raise ValueError(f"{_HTTPS_ONLY if https_only else _ANY} ({_SECRET_HINT})")
    return SecretStr(text)


def plain_http_url(value: str, *, https_only: bool = False) -> str:
    """A URL that holds no secret (a base URL): the error may show it. ``https_only``: plain http only
    to a loopback address (a local proxy or a test double)."""
    if _accepted(value.strip(), https_only) is None:
        raise ValueError(_HTTPS_ONLY if https_only else _ANY)
    return value.strip().rstrip("/")


def positive_timeout(value: timedelta) -> timedelta:
    if value.total_seconds() <= 0:
        raise ValueError("a timeout greater than 0, such as 10s")
    return value


def readable_file(value: Path | None) -> Path | None:
    if value is not None and not value.is_file():
        raise ValueError(f"a readable file; {value} does not exist or is not a file")
    return value


def non_empty_secret(value: SecretStr | None) -> SecretStr | None:
    if value is not None and not value.get_secret_value().strip():
        raise ValueError(f"a non-empty secret ({_SECRET_HINT}), or leave the key out")
    return value
