"""Logging set-up: structlog for our code, the same renderer for every stdlib logger, secrets redacted.

One pipeline serves both worlds. Our code logs through ``structlog.get_logger(__name__)``; libraries
(py4j, databricks-sdk, mlflow, apscheduler, urllib3, alembic) log through the stdlib. Both end in one
root handler whose :class:`structlog.stdlib.ProcessorFormatter` adds the same fields (ISO UTC
timestamp, level, logger name, per-cycle context vars), redacts secrets, and renders JSON lines (not a
terminal) or aligned console lines (a terminal). Redaction runs once per line after tracebacks are
formatted, for structlog events and stdlib records alike, so a token echoed in a library's error
message is masked like one in our own fields.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
from collections.abc import Iterable, Mapping
from typing import Any, Literal, TextIO
from urllib.parse import quote, urlsplit

import structlog
from pydantic import SecretBytes, SecretStr
from structlog.typing import EventDict, Processor, WrappedLogger

__all__ = [
    "MASK",
    "NOISY_LOGGERS",
    "Redactor",
    "configure_logging",
    "redact_text",
    "register_secret",
]

MASK = "**********"

# Libraries whose INFO lines are chatter for an operator; they log at WARNING and above by default.
NOISY_LOGGERS = ("py4j", "databricks.sdk", "mlflow", "apscheduler", "urllib3", "alembic")

# A key is secret when its name contains one of these (case-insensitive): `token`, `db_password`,
# `Authorization`, `pagerduty_routing_key`, `slack_webhook_url`...
_SENSITIVE_NAMES = (
    r"token|passw(?:or)?d|secret|authori[sz]ation|api[_-]?key|routing[_-]?key|webhook[_-]?url"
    r"|private[_-]?key|credential|cookie"
)
# ...except names of where a secret lives, which are worth seeing: `token_file`, `secret_path`.
_NOT_SECRET_SUFFIXES = ("_file", "_path", "_env")
# `scheme://user:password@host`: the userinfo goes, up to the *last* `@` before whitespace: a
# password may hold `/`, `?`, `#` or `@` (a URL in a log line is not always well formed), and
# masking a path that holds an `@` is the cheaper mistake.
_URL_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*://)(?:[^\s@]*@)+")
# `Authorization`-style credentials in free text (`Bearer eyJ...`, `Basic dXNlcjpw...`): the value
# goes. A value is a run of token characters with a digit or a symbol in it or mixed case, so words
# in prose (`bearer token`, `Basic auth`) stay.
_AUTH_VALUE = re.compile(
    r"\b((?i:bearer|basic|token|digest|apikey|api-key)\s+)"
    r"(?=[A-Za-z0-9._~+/=:-]{6,})(?=\S*(?:[0-9._~+/=:-]|[a-z]\S*[A-Z]|[A-Z]\S*[a-z]))[A-Za-z0-9._~+/=:-]+",
)
# `?token=...`, `&sig=...`, `X-Amz-Signature=...`: the value goes, the parameter name stays.
_QUERY_SECRET = re.compile(
    r"([?&;][^=&#\s]*(?:token|key|secret|passw|pwd|sig|auth|code|credential)[^=&#\s]*=)[^&#\s\"'<>]+",
    re.IGNORECASE,
)
# ProcessorFormatter's own keys in a stdlib record's event dict (the record itself): left alone.
_FORMATTER_META = frozenset({"_record", "_from_structlog"})
_MAX_DEPTH = 4  # nested containers deeper than this render as they are: log fields are shallow
_KEY_CACHE_LIMIT = 4096  # distinct field names remembered; past this, names are matched each time
_MIN_DERIVED = 12  # a URL's path is registered as its own secret only when at least this long


class Redactor:
    """A structlog processor that masks secrets in an event dict (set-up here, cheap per call).

    - a field whose *name* looks secret (see ``key_pattern``) is replaced by :data:`MASK`;
    - ``SecretStr``/``SecretBytes`` values become :data:`MASK` wherever they sit;
    - in every string, URL userinfo and secret-looking query values are masked, and every value
      given to :meth:`register` is replaced (so a token echoed in a library's message is caught);
    - values of other types are checked through their ``repr`` (what the renderers print).
    """

    def __init__(self, key_pattern: str = _SENSITIVE_NAMES, secrets: Iterable[str] = ()) -> None:
        self._key_re = re.compile(key_pattern, re.IGNORECASE)
        self._key_cache: dict[str, bool] = {}
        self._lock = threading.Lock()
        self._secrets: tuple[str, ...] = ()  # longest first; replaced as a whole tuple, read lock-free
        for value in secrets:
            self.register(value)

    def register(self, value: str | SecretStr | None) -> None:
        """Mask ``value`` (and its URL-quoted form, and a URL's path) in every string from now on."""
        plain = value.get_secret_value() if isinstance(value, SecretStr) else value
        if not plain:
            return
        variants = {plain, quote(plain, safe="")}
        if "://" in plain:
            parts = urlsplit(plain)
            tail = parts.path + (f"?{parts.query}" if parts.query else "")
            if len(tail) >= _MIN_DERIVED:  # urllib3 and requests print only the path of a URL
                variants.add(tail)
        with self._lock:
            merged = set(self._secrets) | variants
            self._secrets = tuple(sorted(merged, key=len, reverse=True))

    def __call__(self, logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
        for key, value in event_dict.items():
            if key not in _FORMATTER_META:
                event_dict[key] = MASK if self._is_secret_key(key) else self._value(value, 0)
        return event_dict

    def text(self, text: str) -> str:
        """``text`` with URL credentials and every registered secret masked."""
        if "://" in text:
            text = _URL_USERINFO.sub(rf"\1{MASK}@", text)
        if "=" in text and ("?" in text or "&" in text):
            text = _QUERY_SECRET.sub(rf"\1{MASK}", text)
        text = _AUTH_VALUE.sub(rf"\1{MASK}", text)
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def _is_secret_key(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        hit = self._key_cache.get(key)
        if hit is None:
            hit = bool(self._key_re.search(key)) and not key.lower().endswith(_NOT_SECRET_SUFFIXES)
            if len(self._key_cache) < _KEY_CACHE_LIMIT:
                self._key_cache[key] = hit
        return hit

    def _value(self, value: Any, depth: int) -> Any:
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, SecretStr | SecretBytes):
            return MASK
        if depth < _MAX_DEPTH:
            if isinstance(value, Mapping):
                return {
                    k: MASK if self._is_secret_key(k) else self._value(v, depth + 1) for k, v in value.items()
                }
            if isinstance(value, list | tuple | set | frozenset):
                return [self._value(v, depth + 1) for v in value]
        shown = repr(value)  # what JSONRenderer and ConsoleRenderer print for other types
        masked = self.text(shown)
        return value if masked == shown else masked


# Process-wide, like the stdlib logging tree it plugs into: secrets registered before or after
# configure_logging() are honoured, and reconfiguring keeps them. An empty object; no work at import.
_REDACTOR = Redactor()


def register_secret(value: str | SecretStr | None) -> None:
    """Mask ``value`` in every log line from now on (call once per secret at start-up)."""
    _REDACTOR.register(value)


def redact_text(text: str) -> str:
    """``text`` with URL credentials and registered secrets masked (for errors shown outside logs)."""
    return _REDACTOR.text(text)


class _Handler(logging.StreamHandler[TextIO]):
    """Our root handler; its own class so a second configure_logging() can find and replace it."""


def _quiet_library_root_records(record: logging.LogRecord) -> bool:
    """Drop a noisy library's info lines that it logs on the ROOT logger, where its own logger's level
    (``NOISY_LOGGERS``) cannot reach them: py4j's ``logging.info("Exception while sending command.",
    exc_info=True)`` prints a traceback whenever the JVM goes away, at every shutdown during a query."""
    if record.name != "root" or record.levelno >= logging.WARNING:
        return True
    return not any(f"{os.sep}{name.split('.')[0]}{os.sep}" in record.pathname for name in NOISY_LOGGERS)


def configure_logging(
    level: str = "info",
    fmt: Literal["auto", "json", "console"] = "auto",
    stream: TextIO | None = None,
) -> None:
    """Route structlog and every stdlib logger through one renderer on ``stream`` (default stderr).

    ``fmt="auto"`` renders JSON lines unless ``stream`` is a terminal. Calling again replaces the
    previous set-up (no duplicate handlers). Also sets ``MLFLOW_CONFIGURE_LOGGING=false`` unless set,
    so an mlflow imported later keeps its loggers on this pipeline instead of installing its own.
    """
    numeric = logging.getLevelNamesMapping().get(level.upper())
    if numeric is None:
        raise ValueError(f"unknown log level {level!r}: use one of debug, info, warning, error, critical")
    if fmt not in ("auto", "json", "console"):
        raise ValueError(f"unknown log format {fmt!r}: use one of auto, json, console")
    out = sys.stderr if stream is None else stream
    tty = _is_tty(out)
    renderer: Processor
    if fmt == "json" or (fmt == "auto" and not tty):
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(
            colors=tty, exception_formatter=structlog.dev.plain_traceback
        )

    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        # Tracebacks become text here, before redaction, so a secret in an exception is masked too.
        structlog.processors.format_exc_info,
    ]
    handler = _Handler(out)
    handler.addFilter(_quiet_library_root_records)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, _REDACTOR],  # stdlib records: redacted once, here
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(numeric)
    for name in NOISY_LOGGERS:
        lib = logging.getLogger(name)
        lib.handlers.clear()  # mlflow (and others) may have installed their own stream handlers
        lib.propagate = True
        lib.setLevel(max(numeric, logging.WARNING))
    os.environ.setdefault("MLFLOW_CONFIGURE_LOGGING", "false")

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,  # first: a dropped debug line costs one level check
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            # structlog events: redacted before they become a LogRecord, so any other handler on
            # the root logger (an error tracker's, pytest's) never sees the secret either.
            _REDACTOR,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Not cached: module-level loggers keep following the configuration, which is what
        # structlog.testing.capture_logs() relies on. The lookup is cheap next to a log line.
        cache_logger_on_first_use=False,
    )


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False
