"""Checks shared by channel configs: URLs that may hold tokens, timeouts, CA files, database and MLflow URIs."""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from pathlib import Path
from urllib.parse import SplitResult, urlsplit

from pydantic import SecretStr

from config.secrets import file_problem, record_offline

_SECRET_HINT = "the value is not shown: it may hold a token"  # noqa: S105 - a message, not a secret
# Where credentials go instead of ``user:password@`` in a URL, unless a caller names a better field.
_CREDENTIALS = "the block's credential fields (token, password, hmac_secret or their *_file twins)"
# The state database backends lakewarden's state store runs on (monitor/state).
STATE_BACKENDS = ("sqlite", "postgresql")
# MLflow tracking/registry URI schemes: a local path, file:, a database, a tracking server, Databricks.
_MLFLOW_SCHEMES = ("file", "sqlite", "postgresql", "mysql", "mssql", "http", "https", "databricks", "databricks-uc",
                   "uc")
_DB_SCHEMES = ("sqlite", "postgresql", "mysql", "mssql")


_HTTPS_ONLY = "an https:// URL with a host (http:// only to a loopback address: 127.0.0.0/8, ::1, localhost)"
_ANY = "an http:// or https:// URL with a host"


def _split(text: str) -> SplitResult | None:
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return None
    return parts


def has_userinfo(text: str) -> bool:
    """True when the authority part of ``scheme://authority/...`` holds an ``@`` (``user:password@host``).

    Checked on the text up to the first ``/`` after ``//``, not on ``urlsplit``: a password with a
    ``#`` or ``?`` in it would otherwise move the rest of it into the host name.
    """
    _, sep, rest = text.partition("://")
    return bool(sep) and "@" in rest.split("/", 1)[0]


def no_userinfo(text: str, credentials: str, shown: bool = True) -> None:
    """Refuse ``scheme://user:password@host``, pointing at the fields where credentials go."""
    if has_userinfo(text):
        what = "a URL" if shown else f"a URL ({_SECRET_HINT})"
        raise ValueError(f"{what} without user:password@ in it: give credentials in {credentials}")


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
    parts = _split(text)
    if parts is None or not parts.hostname or parts.scheme not in ("http", "https"):
        return None
    if https_only and parts.scheme == "http" and not is_loopback(parts.hostname):
        return None
    return parts


def http_url(value: SecretStr, *, https_only: bool = False, credentials: str = _CREDENTIALS) -> SecretStr:
    """An ``http(s)://host...`` URL that may hold a token (a webhook URL): kept secret, the error never
    quotes it. ``https_only``: plain http only to a loopback address."""
    text = value.get_secret_value().strip()
    no_userinfo(text, credentials, shown=False)
    if _accepted(text, https_only) is None:
        raise ValueError(f"{_HTTPS_ONLY if https_only else _ANY} ({_SECRET_HINT})")
    return SecretStr(text)


def plain_http_url(value: str, *, https_only: bool = False, credentials: str = _CREDENTIALS) -> str:
    """A URL that holds no secret (a base URL): the error may show it, except a ``user:password@``.
    ``https_only``: plain http only to a loopback address (a local proxy or a test double)."""
    no_userinfo(value.strip(), credentials, shown=True)
    if _accepted(value.strip(), https_only) is None:
        raise ValueError(_HTTPS_ONLY if https_only else _ANY)
    return value.strip().rstrip("/")


def database_url(value: str) -> str:
    """A SQLAlchemy URL of a state backend, parsed now so a typo fails at load, not at the first write."""
    from sqlalchemy.engine import make_url  # noqa: PLC0415 - only the state URL needs SQLAlchemy
    from sqlalchemy.exc import ArgumentError  # noqa: PLC0415

    example = "such as sqlite:///.lakewarden/state.db or postgresql+psycopg://lakewarden@db.internal:5432/lakewarden"
    try:
        url = make_url(value.strip())
    except (ArgumentError, ValueError, TypeError):
        raise ValueError(f"a database URL {example} (the value is not shown: it may hold a password)") from None
    backend = url.get_backend_name()
    if backend not in STATE_BACKENDS:
        raise ValueError(f"a {' or '.join(STATE_BACKENDS)} URL {example}, not a {backend!r} one")
    if backend == "sqlite" and not url.database:
        raise ValueError(f"a sqlite URL with a file path ({example}); an in-memory database would lose the "
                         "outbox and silences at every restart")
    if backend == "postgresql" and not url.host:
        raise ValueError(f"a postgresql URL with a host, {example}")
    return value.strip()


def redacted_database_url(value: str) -> str:
    """A state database URL fit for a message or a log: its password replaced by ``***``."""
    from sqlalchemy.engine import make_url  # noqa: PLC0415 - only the state URL needs SQLAlchemy
    from sqlalchemy.exc import ArgumentError  # noqa: PLC0415

    try:
        return make_url(value.strip()).render_as_string(hide_password=True)
    except (ArgumentError, ValueError, TypeError):
        return "(a database URL that cannot be parsed; not shown)"


def tracking_uri(value: str) -> str:
    """An MLflow tracking or registry URI: a local path, ``file:``, a database URL, an http(s) server,
    or ``databricks``/``databricks-uc`` (with an optional ``://profile``)."""
    text = value.strip()
    allowed = ("a local folder, file:///path, sqlite:///path.db, a database URL, http(s)://host, databricks or "
               "databricks-uc")
    if not text:
        raise ValueError(f"an MLflow URI: {allowed}")
    if ":" not in text:
        return text  # a local folder (MLflow's file store)
    parts = _split(text)
    scheme = (parts.scheme if parts else "").split("+", 1)[0]
    if parts is None or scheme not in _MLFLOW_SCHEMES:
        raise ValueError(f"an MLflow URI with a known scheme: {allowed}")
    no_userinfo(text, "the workspace token or MLFLOW_TRACKING_USERNAME/PASSWORD in the environment", shown=False)
    if scheme in ("http", "https") and not parts.hostname:
        raise ValueError(f"an http(s) tracking server URL with a host ({allowed})")
    if scheme in _DB_SCHEMES and scheme != "sqlite" and not parts.hostname:
        raise ValueError(f"a {scheme} URL with a host ({allowed})")
    if scheme == "sqlite" and not text.startswith("sqlite:///"):
        raise ValueError("a sqlite URL with a file path: sqlite:///relative.db or sqlite:////absolute.db")
    return text


def positive_timeout(value: timedelta) -> timedelta:
    if value.total_seconds() <= 0:
        raise ValueError("a timeout greater than 0, such as 10s")
    return value


def readable_file(value: Path | None) -> Path | None:
    if value is None:
        return value
    problem = file_problem(value, max_bytes=None)
    if problem is not None and not record_offline(value, problem):
        raise ValueError(f"a readable file; {value} cannot be read: {problem}")
    return value


def non_empty_secret(value: SecretStr | None) -> SecretStr | None:
    if value is not None and not value.get_secret_value().strip():
        raise ValueError(f"a non-empty secret ({_SECRET_HINT}), or leave the key out")
    return value
