"""Checks shared by channel configs: URLs that may hold tokens, timeouts, CA files."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import SecretStr

_SECRET_HINT = "the value is not shown: it may hold a token"  # noqa: S105 - a message, not a secret


def http_url(value: SecretStr, *, https_only: bool = False) -> SecretStr:
    """An ``http(s)://host...`` URL kept secret; the error never quotes it."""
    schemes = ("https",) if https_only else ("http", "https")
    hint = f"an {' or '.join(s + '://' for s in schemes)} URL with a host ({_SECRET_HINT})"
    text = value.get_secret_value().strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        raise ValueError(hint) from None
    if parts.scheme not in schemes or not parts.hostname:
        raise ValueError(hint)
    return SecretStr(text)


def plain_http_url(value: str, *, https_only: bool = False) -> str:
    """A URL that holds no secret (a base URL): the error may show it."""
    schemes = ("https",) if https_only else ("http", "https")
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in schemes or not parts.hostname:
        raise ValueError(f"an {' or '.join(s + '://' for s in schemes)} URL with a host")
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
