"""Generic webhook: POST the notification as JSON, optionally signed with HMAC-SHA256.

2xx is delivered; 408, 429, 5xx, timeouts and connection errors are retryable (``Retry-After`` in
seconds or as an HTTP date is passed on); redirects and other 4xx are permanent. The URL may hold a
token, so reasons only ever name ``scheme://host[:port]``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from pydantic import SecretStr

from alerts.channels.base import Delivered, Result
from alerts.channels.http import Answer, Poster, parse_retry_after
from config.basics.clock import Clock, utc_now
from config.receivers import WebhookConfig

__all__ = ["SIGNATURE_HEADER", "WebhookChannel", "parse_retry_after", "sign"]

SIGNATURE_HEADER = "X-Lakewarden-Signature"
USER_AGENT = "lakewarden-webhook/1"


class WebhookChannel:
    def __init__(
        self,
        url: SecretStr,
        *,
        hmac_secret: SecretStr | None = None,
        timeout: timedelta = timedelta(seconds=10),
        max_alerts: int = 0,
        clock: Clock = utc_now,
    ) -> None:
        self._hmac_secret = hmac_secret
        self._max_alerts = max_alerts
        self._poster = Poster(url.get_secret_value(), timeout.total_seconds(), clock)
        self.origin = self._poster.origin

    @classmethod
    def from_config(cls, config: WebhookConfig, clock: Clock) -> WebhookChannel:
        return cls(config.url, hmac_secret=config.hmac_secret, timeout=config.timeout,
                   max_alerts=config.max_alerts, clock=clock)

    def __repr__(self) -> str:
        return f"WebhookChannel({self.origin})"

    def send(self, payload: Mapping[str, Any]) -> Result:
        body = json.dumps(self._truncate(payload), separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        if self._hmac_secret is not None:
            headers[SIGNATURE_HEADER] = "sha256=" + sign(self._hmac_secret, body)
        answer = self._poster.post(body, headers)
        if not isinstance(answer, Answer):
            return answer
        if answer.ok:
            return Delivered(f"HTTP {answer.status} from {self.origin}")
        return self._poster.classify(answer)

    def _truncate(self, payload: Mapping[str, Any]) -> Mapping[str, Any]:
        alerts = payload.get("alerts")
        if self._max_alerts <= 0 or not isinstance(alerts, list) or len(alerts) <= self._max_alerts:
            return payload
        return {**payload, "alerts": alerts[: self._max_alerts],
                "truncatedAlerts": len(alerts) - self._max_alerts}


def sign(secret: SecretStr, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``body``; receivers compare it with ``hmac.compare_digest``."""
    return hmac.new(secret.get_secret_value().encode("utf-8"), body, hashlib.sha256).hexdigest()
