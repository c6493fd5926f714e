"""HTTP for channels that POST: one request, no redirects, failures classified, secrets kept out.

2xx is the caller's to judge (some contracts need a body check); 3xx is permanent (redirects are
not followed: configure the final URL); 408, 429 and 5xx are retryable with ``Retry-After`` (seconds
or an HTTP date); other 4xx are permanent with a short excerpt of the body. Timeouts and connection
errors are retryable. URLs may hold tokens: reasons name only ``scheme://host[:port]`` and the
excerpt has the URL, its path and query removed.
"""

from __future__ import annotations

import http.client
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from alerts.channels.base import Permanent, Result, Retryable
from config.basics.clock import Clock, utc, utc_now

USER_AGENT = "lakewarden/1"
_EXCERPT = 200
_MAX_BODY = 1 << 20


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """urllib would turn a redirected POST into a GET without a body; surface the 3xx instead."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


class Poster:
    """POSTs to one URL (which may be secret) with a timeout and an optional verifying SSL context."""

    def __init__(self, url: str, timeout: float, clock: Clock = utc_now,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self._url = url
        self._timeout = timeout
        self._clock = clock
        self.origin = origin_of(url)
        handlers: list[Any] = [_NoRedirects]
        if ssl_context is not None:
            handlers.append(urllib.request.HTTPSHandler(context=ssl_context))
        self._opener = urllib.request.build_opener(*handlers)

    def post(self, body: bytes, headers: Mapping[str, str]) -> Answer | Result:
        request = urllib.request.Request(  # noqa: S310 (config allows only http and https URLs)
            self._url, data=body, headers={"User-Agent": USER_AGENT, **headers}, method="POST")
        try:
            with self._opener.open(request, timeout=self._timeout) as response:
                return Answer(response.status, dict(response.headers.items()), response.read(_MAX_BODY))
        except urllib.error.HTTPError as exc:
            try:
                try:
                    raw = exc.read(_EXCERPT * 8)
                except (OSError, http.client.HTTPException):
                    raw = b""
                return Answer(exc.code, dict(exc.headers.items()) if exc.headers else {}, raw)
            finally:
                exc.close()
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, ssl.SSLCertVerificationError):
                return Permanent(f"the TLS certificate of {self.origin} could not be verified: "
                                 f"{exc.reason.verify_message}")
            return Retryable(f"cannot reach {self.origin}: {describe(exc.reason)}")
        except TimeoutError:
            return Retryable(f"no response from {self.origin} within {self._timeout:g}s")
        except ValueError:
            # Includes http.client.InvalidURL; urllib's message would quote the URL.
            return Permanent(f"the URL for {self.origin} is not usable")
        except (OSError, http.client.HTTPException) as exc:
            return Retryable(f"connection to {self.origin} failed: {describe(exc)}")

    def classify(self, answer: Answer) -> Result:
        """The result of a non-2xx answer (or of a 2xx, as ``Permanent``, when the caller rejects it)."""
        code = answer.status
        if 300 <= code < 400:
            return Permanent(f"HTTP {code} from {self.origin}: redirects are not followed; configure the final URL")
        if code in (408, 429) or code >= 500:
            retry_after = parse_retry_after(header(answer.headers, "Retry-After"), self._clock())
            return Retryable(f"HTTP {code} from {self.origin}", retry_after)
        excerpt = self.excerpt(answer.text())
        return Permanent(f"HTTP {code} from {self.origin}" + (f": {excerpt}" if excerpt else ""))

    def excerpt(self, text: str) -> str:
        text = " ".join(text.split())
        parts = urlsplit(self._url)
        for secret in (self._url, parts.path + ("?" + parts.query if parts.query else ""), parts.query):
            if len(secret) > 1:
                text = text.replace(secret, "<redacted>")
        return text[:_EXCERPT] + ("..." if len(text) > _EXCERPT else "")


def header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """``Retry-After`` as seconds from ``now``: ``"120"`` or an HTTP date; ``None`` if absent or bad."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, (utc(when) - now).total_seconds())


def describe(reason: object) -> str:
    """An error without its message text, which can quote the URL."""
    if isinstance(reason, TimeoutError):
        return "timed out"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return type(reason).__name__


def verifying_context(ca_file: str | None) -> ssl.SSLContext:
    """Verifies the server (hostname and chain); with ``ca_file``, against that CA bundle."""
    return ssl.create_default_context(cafile=ca_file)
