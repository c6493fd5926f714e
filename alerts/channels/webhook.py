"""Generic webhook: POST the notification as JSON, optionally signed with HMAC-SHA256.

2xx is delivered; 408, 429, 5xx, timeouts and connection errors are retryable (``Retry-After`` in
seconds or as an HTTP date is passed on); redirects and other 4xx are permanent. The URL may hold a
token, so reasons only ever name ``scheme://host[:port]``.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr

from alerts.channels.base import Delivered, Permanent, Result, Retryable
from config.receivers import WebhookConfig

SIGNATURE_HEADER = "X-Lakewarden-Signature"
USER_AGENT = "lakewarden-webhook/1"
_EXCERPT = 200


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """urllib would turn a redirected POST into a GET without a body; surface the 3xx instead."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class WebhookChannel:
    def __init__(
        self,
        url: SecretStr,
        *,
        hmac_secret: SecretStr | None = None,
        timeout: timedelta = timedelta(seconds=10),
        max_alerts: int = 0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._url = url
        self._hmac_secret = hmac_secret
        self._timeout = timeout.total_seconds()
        self._max_alerts = max_alerts
        self._clock = clock
        parts = urlsplit(url.get_secret_value())
        port = f":{parts.port}" if parts.port else ""
        self.origin = f"{parts.scheme}://{parts.hostname}{port}"
        self._opener = urllib.request.build_opener(_NoRedirects)

    @classmethod
    def from_config(cls, config: WebhookConfig, clock: Callable[[], datetime]) -> WebhookChannel:
        return cls(config.url, hmac_secret=config.hmac_secret, timeout=config.timeout,
                   max_alerts=config.max_alerts, clock=clock)

    def __repr__(self) -> str:
        return f"WebhookChannel({self.origin})"

    def send(self, payload: Mapping[str, Any]) -> Result:
        body = json.dumps(self._truncate(payload), separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        if self._hmac_secret is not None:
            headers[SIGNATURE_HEADER] = "sha256=" + sign(self._hmac_secret, body)
        request = urllib.request.Request(  # noqa: S310 (config allows only http and https URLs)
            self._url.get_secret_value(), data=body, headers=headers, method="POST"
        )
        try:
            with self._opener.open(request, timeout=self._timeout) as response:
                response.read(65536)
                return Delivered(f"HTTP {response.status} from {self.origin}")
        except urllib.error.HTTPError as exc:
            try:
                return self._classify(exc)
            finally:
                exc.close()
        except urllib.error.URLError as exc:
            return Retryable(f"cannot reach {self.origin}: {_describe(exc.reason)}")
        except TimeoutError:
            return Retryable(f"no response from {self.origin} within {self._timeout:g}s")
        except ValueError:
            # Includes http.client.InvalidURL; urllib's message would quote the URL.
            return Permanent(f"the webhook URL for {self.origin} is not usable")
        except (OSError, http.client.HTTPException) as exc:
            return Retryable(f"connection to {self.origin} failed: {_describe(exc)}")

    def _classify(self, exc: urllib.error.HTTPError) -> Result:
        code = exc.code
        if 300 <= code < 400:
            return Permanent(f"HTTP {code} from {self.origin}: redirects are not followed; "
                             "configure the final URL")
        if code in (408, 429) or code >= 500:
            retry_after = parse_retry_after(exc.headers.get("Retry-After"), self._clock())
            return Retryable(f"HTTP {code} from {self.origin}", retry_after)
        excerpt = self._excerpt(exc)
        return Permanent(f"HTTP {code} from {self.origin}" + (f": {excerpt}" if excerpt else ""))

    def _excerpt(self, exc: urllib.error.HTTPError) -> str:
        try:
            raw = exc.read(_EXCERPT * 4)
        except (OSError, http.client.HTTPException):
            return ""
        text = " ".join(raw.decode("utf-8", errors="replace").split())
        url = self._url.get_secret_value()
        parts = urlsplit(url)
        for secret in (url, parts.path + ("?" + parts.query if parts.query else ""), parts.query):
            if len(secret) > 1:
                text = text.replace(secret, "<redacted>")
        return text[:_EXCERPT] + ("..." if len(text) > _EXCERPT else "")

    def _truncate(self, payload: Mapping[str, Any]) -> Mapping[str, Any]:
        alerts = payload.get("alerts")
        if self._max_alerts <= 0 or not isinstance(alerts, list) or len(alerts) <= self._max_alerts:
            return payload
        return {**payload, "alerts": alerts[: self._max_alerts],
                "truncatedAlerts": len(alerts) - self._max_alerts}


def sign(secret: SecretStr, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``body``; receivers compare it with ``hmac.compare_digest``."""
    return hmac.new(secret.get_secret_value().encode("utf-8"), body, hashlib.sha256).hexdigest()


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
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def _describe(reason: object) -> str:
    """An error without its message text, which can quote the URL."""
    if isinstance(reason, TimeoutError):
        return "timed out"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return type(reason).__name__
