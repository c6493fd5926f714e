"""PagerDuty Events API v2 through the ``pagerduty`` package's ``EventsApiV2Client``.

The client's own retries are capped to none (it would retry 429 without limit and block on sleeps):
the outbox owns retry timing. One group is one PagerDuty alert: ``dedup_key`` is derived from the
group and the receiver, so a firing notification triggers (or updates) it, a resolved one resolves
it, and an acknowledgement in lakewarden acknowledges it. 202 with ``status: success`` is delivered;
400 is permanent (the event is invalid: a config or payload bug); 401/403 are permanent (the
routing key); 429, 5xx and network errors are retryable. Events are kept under 512 KB and within
the field limits (summary 1024 characters, dedup_key 255).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from typing import Any

import httpx2
from pagerduty import EventsApiV2Client
from pagerduty.errors import Error as PagerDutyError
from pagerduty.errors import HttpError

from alerts.channels.base import Delivered, Permanent, Result, Retryable
from alerts.channels.http import parse_retry_after, verifying_context
from alerts.model import iso
from alerts.templating import TemplateFailed, context, render_text
from config.basics.clock import Clock, utc_now
from config.paging import PagerDutyConfig
from config.urls import is_loopback

_QUIET = logging.getLogger("lakewarden.pagerduty_client")
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False

MAX_EVENT_BYTES = 512 * 1024
MAX_SUMMARY = 1024
MAX_DEDUP_KEY = 255
_ACTIONS = {"firing": "trigger", "resolved": "resolve", "acknowledged": "acknowledge"}


def dedup_key(payload: Mapping[str, Any]) -> str:
    """Stable per group and receiver (a test notification has its own group)."""
    group = str(payload.get("groupId") or payload.get("groupKey", ""))
    digest = hashlib.sha256(f"{group}\x1f{payload.get('receiver', '')}".encode()).hexdigest()[:32]
    return f"lakewarden-{digest}"[:MAX_DEDUP_KEY]


class _EventsClient(EventsApiV2Client):
    """The package's client, which insists on an https base URL; plain http is let through to a
    loopback address only (a local proxy or a test double: ``config.urls.is_loopback``)."""

    @property
    def url(self) -> str:
        return str(self._url)

    @url.setter
    def url(self, new_base_url: str) -> None:
        host = httpx2.URL(new_base_url).host
        if not (new_base_url.startswith("https://") or (new_base_url.startswith("http://") and is_loopback(host))):
            raise ValueError("the PagerDuty base URL must be https:// (or http:// to a loopback address)")
        self._url = new_base_url


class PagerDutyChannel:
    def __init__(self, config: PagerDutyConfig, clock: Clock = utc_now) -> None:
        self._config = config
        self._clock = clock
        self.origin = config.url
        verify = verifying_context(str(config.ca_file) if config.ca_file else None)
        client = _EventsClient(config.routing_key.get_secret_value(), base_url=config.url, verify=verify)
        # Return the first answer, whatever it is: a non-zero retry entry for each status the client
        # would retry, and a total budget it has always exceeded; no network retries either.
        client.retry = {429: 1, 500: 1, 502: 1, 503: 1, 504: 1}
        client.max_http_attempts = -1
        client.max_network_attempts = 0
        client.timeout = config.timeout.total_seconds()  # type: ignore[assignment]  # httpx takes a float
        client.log = _QUIET  # its "exceeded maximum number of attempts (-1)" lines would only confuse
        self._client = client

    def __repr__(self) -> str:
        return f"PagerDutyChannel({self.origin})"

    def event(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """The Events API v2 body without ``routing_key`` (the client adds it). Raises TemplateFailed."""
        action = _ACTIONS.get(str(payload.get("status")), "trigger")
        event: dict[str, Any] = {"event_action": action, "dedup_key": dedup_key(payload)}
        if action != "trigger":
            return event
        cfg = self._config
        ctx = context(payload)
        severity = cfg.severity_map.get(ctx["severity"], cfg.default_severity)
        firing = ctx["firing"] or ctx["alerts"]
        started = min((a["starts_at"] for a in firing if a["starts_at"]), default="") or iso(self._clock())
        details: dict[str, Any] = {
            "group_key": ctx["group_key"], "reason": ctx["reason"], "risk": ctx["risk"], "window": ctx["window"],
            "findings": ctx["findings"], "firing": [a["labels"] for a in ctx["firing"]],
            "resolved": len(ctx["resolved"]), "annotations": ctx["common_annotations"],
        }
        if ctx["escalation"]:
            details["escalation"] = ctx["escalation"]
        body: dict[str, Any] = {
            "summary": render_text(cfg.description, ctx, field="description")[:MAX_SUMMARY] or ctx["alertname"],
            "source": render_text(cfg.source, ctx, field="source")[:255] or "lakewarden",
            "severity": severity,
            "timestamp": started,
            "custom_details": details,
        }
        for name, template in (("component", cfg.component), ("group", cfg.group), ("class", cfg.class_)):
            value = render_text(template, ctx, field=name)[:255]
            if value:
                body[name] = value
        event["payload"] = body
        event["client"] = cfg.client
        if cfg.client_url:
            event["client_url"] = cfg.client_url
        links = [{"href": ctx[k], "text": t} for k, t in (("runbook_url", "Runbook"), ("dashboard_url", "Dashboard"))
                 if ctx[k]]
        if links:
            event["links"] = links
        return _within_size(event)

    def send(self, payload: Mapping[str, Any]) -> Result:
        try:
            event = self.event(payload)
        except TemplateFailed as exc:
            return Permanent(str(exc))
        result = self._post(event)
        if payload.get("kind") == "test" and isinstance(result, Delivered):
            resolved = self._post({"event_action": "resolve", "dedup_key": event["dedup_key"]})
            detail = "; resolved again" if isinstance(resolved, Delivered) else f"; resolving failed: {resolved}"
            return Delivered(result.detail + detail)
        return result

    def _post(self, event: dict[str, Any]) -> Result:
        try:
            response = self._client.post("/v2/enqueue", json=event)
        except HttpError as exc:  # 401: the client raises instead of answering
            status = exc.response.status_code if exc.response is not None else "401"
            return Permanent(f"PagerDuty at {self.origin} answered HTTP {status}: the routing key is not accepted")
        except PagerDutyError as exc:
            cause = exc.__cause__
            if isinstance(cause, httpx2.TimeoutException):
                return Retryable(f"no response from PagerDuty at {self.origin} within "
                                 f"{self._config.timeout.total_seconds():g}s")
            if isinstance(cause, httpx2.ConnectError) and "CERTIFICATE_VERIFY_FAILED" in str(cause):
                return Permanent(f"the TLS certificate of {self.origin} could not be verified")
            return Retryable(f"cannot reach PagerDuty at {self.origin}: {type(cause or exc).__name__}")
        except httpx2.HTTPError as exc:
            return Retryable(f"cannot reach PagerDuty at {self.origin}: {type(exc).__name__}")
        return self._classify(response)

    def _classify(self, response: httpx2.Response) -> Result:
        code = response.status_code
        what = f"PagerDuty at {self.origin} answered HTTP {code}"
        try:
            body = response.json()
        except ValueError:
            body = None
        if 200 <= code < 300:
            if isinstance(body, dict) and body.get("status") == "success" and body.get("dedup_key"):
                return Delivered(f"HTTP {code} {body.get('message', '')} dedup_key={body['dedup_key']}".strip())
            return Permanent(f"{what} without status success and a dedup_key: not the Events API contract")
        if code == 429 or code >= 500:
            return Retryable(what, parse_retry_after(response.headers.get("Retry-After"), self._clock()))
        detail = ""
        if isinstance(body, dict):
            errors = body.get("errors") or []
            detail = "; ".join([str(body.get("message", "")), *map(str, errors)]).strip("; ")[:300]
        return Permanent(f"{what}" + (f": {detail}" if detail else ""))


def _within_size(event: dict[str, Any]) -> dict[str, Any]:
    """Drop custom details (firing list first) until the event fits PagerDuty's 512 KB."""
    details = event["payload"]["custom_details"]
    while len(json.dumps(event).encode("utf-8")) > MAX_EVENT_BYTES - 200:
        if details.get("firing"):
            details["firing"] = details["firing"][: len(details["firing"]) // 2]
            details["firing_truncated"] = True
        elif details.get("annotations") or details.get("findings"):
            details["annotations"], details["findings"] = {}, details.get("findings", [])[:3]
            if len(json.dumps(event).encode("utf-8")) > MAX_EVENT_BYTES - 200:
                details["findings"] = []
        else:
            event["payload"]["custom_details"] = {"truncated": True}
            break
    return event
