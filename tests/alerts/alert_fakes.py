"""The services themselves: Slack, Teams, PagerDuty, Alertmanager and a signed webhook, strictly."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

from tests.alerts.alert_servers import ContractServer, Reply, Request, blocks_error, is_json, json_reply, text_reply

SLACK_TOKEN = "xoxb-test-SECRET-BOT-TOKEN"
SLACK_CHANNELS = {"#ml-alerts": "C0ML", "C0ML": "C0ML"}
ROUTING_KEY = "R0UT1NGKEY0123456789ABCDEFGHIJKL"


@dataclass
class SlackMessage:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None = None
    edits: int = 0
    metadata: dict[str, Any] | None = None


class SlackServer(ContractServer):
    """Incoming webhooks at ``/services/...``; ``chat.postMessage``, ``chat.update`` and
    ``conversations.history`` at ``/api/``.

    Message timestamps are Unix times (``"1733550000.000123"``), unique and increasing, as Slack's
    are. ``metadata`` (``{"event_type", "event_payload"}``) is kept with a message and returned by
    ``conversations.history`` only with ``include_all_metadata``; the history lists top-level messages
    (thread replies are not in it), newest first, strictly after ``oldest``, ``limit`` at a time with a
    ``next_cursor``; it needs a channel id (a name is ``channel_not_found``) and the history scope
    (``history_scope = False``: ``missing_scope``).
    """

    def __init__(self) -> None:
        super().__init__()
        self.messages: dict[str, SlackMessage] = {}
        self.webhook_posts: list[dict[str, Any]] = []
        self.history_scope = True
        self.history_calls = 0
        self._last_ts = 0.0

    def handle(self, request: Request) -> Reply:
        if request.route.startswith("/services/"):
            return self._webhook(request)
        if request.route in ("/api/chat.postMessage", "/api/chat.update"):
            return self._api(request)
        if request.route == "/api/conversations.history":
            return self._history(request)
        return text_reply(404, "no_service")

    def _next_ts(self) -> str:
        with self.lock:
            self._last_ts = max(time.time(), self._last_ts + 0.000001)
            return f"{self._last_ts:.6f}"

    def _history(self, request: Request) -> Reply:
        auth = request.headers.get("authorization", "")
        if auth != f"Bearer {SLACK_TOKEN}":
            return json_reply(200, {"ok": False, "error": "not_authed" if not auth else "invalid_auth"})
        if not self.history_scope:
            return json_reply(200, {"ok": False, "error": "missing_scope", "needed": "channels:history",
                                    "provided": "chat:write"})
        args = request.query()
        if request.method == "POST" and request.body:
            args.update({k: v[-1] for k, v in parse_qs(request.body.decode()).items()})
        channel = args.get("channel", "")
        if channel not in SLACK_CHANNELS.values():
            return json_reply(200, {"ok": False, "error": "channel_not_found"})
        self.history_calls += 1
        oldest, latest = float(args.get("oldest") or 0), float(args.get("latest") or time.time() + 1)
        limit = min(max(int(args.get("limit") or 100), 1), 999)
        start = int(args.get("cursor") or 0)
        metadata = args.get("include_all_metadata", "").lower() in ("1", "true")
        found = sorted((m for m in self.messages.values()
                        if m.channel == channel and m.thread_ts is None and oldest < float(m.ts) <= latest),
                       key=lambda m: float(m.ts), reverse=True)
        page = found[start:start + limit]
        items = []
        for m in page:
            item: dict[str, Any] = {"type": "message", "ts": m.ts, "text": m.text}
            if metadata and m.metadata is not None:
                item["metadata"] = m.metadata
            items.append(item)
        more = start + limit < len(found)
        return json_reply(200, {"ok": True, "messages": items, "has_more": more, "pin_count": 0,
                                "response_metadata": {"next_cursor": str(start + limit) if more else ""}})

    @staticmethod
    def _metadata(body: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
        raw = body.get("metadata")
        if raw is None:
            return None, None
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except ValueError:
                return None, "invalid_metadata_format"
        if (not isinstance(raw, dict) or not isinstance(raw.get("event_type"), str)
                or not isinstance(raw.get("event_payload"), dict)):
            return None, "invalid_metadata_format"
        return raw, None

    def _webhook(self, request: Request) -> Reply:
        if not is_json(request):
            return text_reply(400, "invalid_payload")
        try:
            body = request.json()
        except ValueError:
            return text_reply(400, "invalid_payload")
        if not body.get("text") and not body.get("blocks"):
            return text_reply(400, "no_text")
        error = blocks_error(body.get("blocks"))
        if error:
            return text_reply(400, error)
        self.webhook_posts.append(body)
        return text_reply(200, "ok")

    def _api(self, request: Request) -> Reply:
        auth = request.headers.get("authorization", "")
        if not auth:
            return json_reply(200, {"ok": False, "error": "not_authed"})
        if auth != f"Bearer {SLACK_TOKEN}":
            return json_reply(200, {"ok": False, "error": "invalid_auth"})
        if not is_json(request):
            return json_reply(200, {"ok": False, "error": "invalid_form_data"})
        body = request.json()
        channel = SLACK_CHANNELS.get(body.get("channel", ""))
        if channel is None:
            return json_reply(200, {"ok": False, "error": "channel_not_found"})
        if not body.get("text") and not body.get("blocks"):
            return json_reply(200, {"ok": False, "error": "no_text"})
        error = blocks_error(body.get("blocks"))
        if error:
            return json_reply(200, {"ok": False, "error": error})
        metadata, error = self._metadata(body)
        if error:
            return json_reply(200, {"ok": False, "error": error})
        if request.route.endswith("update"):
            message = self.messages.get(body.get("ts", ""))
            if message is None or message.channel != channel:
                return json_reply(200, {"ok": False, "error": "message_not_found"})
            message.text, message.blocks = body.get("text", ""), body.get("blocks", [])
            if metadata is not None:
                message.metadata = metadata
            message.edits += 1
            return json_reply(200, {"ok": True, "channel": channel, "ts": message.ts})
        thread = body.get("thread_ts")
        if thread is not None and thread not in self.messages:
            return json_reply(200, {"ok": False, "error": "thread_not_found"})
        ts = self._next_ts()
        self.messages[ts] = SlackMessage(channel, ts, body.get("text", ""), body.get("blocks", []), thread,
                                         metadata=metadata)
        return json_reply(200, {"ok": True, "channel": channel, "ts": ts, "message": {"text": body.get("text")}})

    def top_level(self) -> list[SlackMessage]:
        return [m for m in self.messages.values() if m.thread_ts is None]


class TeamsServer(ContractServer):
    """Workflows webhooks at ``/workflows/...`` (Adaptive Card, 202); legacy connectors at ``/legacy/...``."""

    def __init__(self) -> None:
        super().__init__()
        self.cards: list[dict[str, Any]] = []
        self.legacy_cards: list[dict[str, Any]] = []

    def handle(self, request: Request) -> Reply:
        if not is_json(request):
            return json_reply(415, {"error": {"code": "UnsupportedMediaType"}})
        if len(request.body) > 28 * 1024:
            return json_reply(413, {"error": {"code": "MessageSizeTooBig"}})
        try:
            body = request.json()
        except ValueError:
            return json_reply(400, {"error": {"code": "InvalidRequestContent"}})
        if request.path.startswith("/legacy/"):
            if not body.get("text") and not body.get("summary"):
                return text_reply(400, "Summary or Text is required.")
            self.legacy_cards.append(body)
            return text_reply(200, "1")
        attachments = body.get("attachments")
        if body.get("type") != "message" or not isinstance(attachments, list) or len(attachments) != 1:
            return json_reply(400, {"error": {"code": "InvalidRequestContent", "message": "not a message"}})
        card = attachments[0]
        content = card.get("content") or {}
        if (card.get("contentType") != "application/vnd.microsoft.card.adaptive" or card.get("contentUrl") is not None
                or content.get("type") != "AdaptiveCard" or "$schema" not in content
                or not isinstance(content.get("body"), list) or content.get("version") not in ("1.2", "1.3", "1.4")):
            return json_reply(400, {"error": {"code": "InvalidRequestContent", "message": "not an Adaptive Card"}})
        self.cards.append(content)
        return 202, {}, b""


@dataclass
class Incident:
    dedup_key: str
    status: str = "triggered"
    events: list[str] = field(default_factory=list)
    summary: str = ""


class PagerDutyServer(ContractServer):
    """Events API v2 at ``/v2/enqueue``, over HTTPS (``tls``) or, as a loopback stand-in, plain HTTP."""

    def __init__(self, tls: Any = None) -> None:
        super().__init__(tls)
        self.incidents: list[Incident] = []

    def open_incident(self, key: str) -> Incident | None:
        return next((i for i in self.incidents if i.dedup_key == key and i.status != "resolved"), None)

    def handle(self, request: Request) -> Reply:
        if request.route != "/v2/enqueue":
            return json_reply(404, {"status": "not found"})
        if not is_json(request):
            return json_reply(400, {"status": "invalid event", "message": "Content-Type must be application/json"})
        if len(request.body) > 512 * 1024:
            return json_reply(413, {"status": "invalid event", "message": "Request too large"})
        try:
            event = request.json()
        except ValueError:
            return json_reply(400, {"status": "invalid event", "message": "Event object is invalid"})
        errors = self._errors(event)
        if errors:
            return json_reply(400, {"status": "invalid event", "message": "Event object is invalid", "errors": errors})
        action, key = event["event_action"], event.get("dedup_key") or f"auto-{len(self.incidents)}"
        incident = self.open_incident(key)
        if action == "trigger":
            if incident is None:
                incident = Incident(key)
                self.incidents.append(incident)
            incident.summary = event["payload"]["summary"]
        elif incident is not None:
            incident.status = "resolved" if action == "resolve" else "acknowledged"
        if incident is not None:
            incident.events.append(action)
        return json_reply(202, {"status": "success", "message": "Event processed", "dedup_key": key})

    @staticmethod
    def _errors(event: dict[str, Any]) -> list[str]:  # noqa: PLR0912 - one check per contract rule
        errors = []
        if event.get("routing_key") != ROUTING_KEY:
            errors.append("'routing_key' is invalid")
        if event.get("event_action") not in ("trigger", "acknowledge", "resolve"):
            errors.append("'event_action' is invalid")
        key = event.get("dedup_key")
        if key is not None and (not isinstance(key, str) or len(key) > 255):
            errors.append("'dedup_key' must be a string of at most 255 characters")
        if event.get("event_action") != "trigger":
            if not key:
                errors.append("'dedup_key' is required for acknowledge and resolve")
            return errors
        payload = event.get("payload")
        if not isinstance(payload, dict):
            return [*errors, "'payload' is missing"]
        if not isinstance(payload.get("summary"), str) or not payload["summary"] or len(payload["summary"]) > 1024:
            errors.append("'payload.summary' must be 1..1024 characters")
        if not payload.get("source"):
            errors.append("'payload.source' is missing")
        if payload.get("severity") not in ("critical", "error", "warning", "info"):
            errors.append("'payload.severity' is invalid")
        if "timestamp" in payload:
            try:
                datetime.fromisoformat(str(payload["timestamp"]).replace("Z", "+00:00"))
            except ValueError:
                errors.append("'payload.timestamp' is not ISO 8601")
        for link in event.get("links", []):
            if set(link) - {"href", "text"} or "href" not in link:
                errors.append("'links' entries are {href, text}")
        return errors


class AlertmanagerServer(ContractServer):
    """``POST /api/v2/alerts`` with Alertmanager's validation."""

    def __init__(self) -> None:
        super().__init__()
        self.alerts: dict[str, dict[str, Any]] = {}

    def handle(self, request: Request) -> Reply:
        if request.path != "/api/v2/alerts":
            return json_reply(404, {"code": 404, "message": "path not found"})
        if not is_json(request):
            return json_reply(415, {"code": 415, "message": "unsupported media type"})
        try:
            alerts = request.json()
        except ValueError:
            return json_reply(400, {"code": 400, "message": "body is not JSON"})
        if not isinstance(alerts, list):
            return json_reply(400, {"code": 400, "message": "body must be a list of alerts"})
        for alert in alerts:
            labels = alert.get("labels")
            if not isinstance(labels, dict) or not labels or not all(isinstance(v, str) for v in labels.values()):
                return json_reply(400, {"code": 400, "message": "labels must be a non-empty map of strings"})
            if set(alert) - {"labels", "annotations", "startsAt", "endsAt", "generatorURL"}:
                return json_reply(422, {"code": 422, "message": f"unknown fields {sorted(set(alert) - {'labels'})}"})
            for name in ("startsAt", "endsAt"):
                if name in alert:
                    try:
                        datetime.fromisoformat(alert[name].replace("Z", "+00:00"))
                    except (ValueError, AttributeError):
                        return json_reply(400, {"code": 400, "message": f"{name} is not RFC 3339"})
            self.alerts[json.dumps(labels, sort_keys=True)] = alert
        return 200, {}, b""

    def ends(self) -> list[datetime]:
        return [datetime.fromisoformat(a["endsAt"].replace("Z", "+00:00")) for a in self.alerts.values()]


class WebhookServer(ContractServer):
    """A receiver of lakewarden's generic webhook that checks the JSON shape and the HMAC signature."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret.encode()
        self.bodies: list[dict[str, Any]] = []

    def handle(self, request: Request) -> Reply:
        if not is_json(request):
            return text_reply(415, "application/json only")
        expected = "sha256=" + hmac.new(self.secret, request.body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(request.headers.get("x-lakewarden-signature", ""), expected):
            return text_reply(401, "bad signature")
        body = request.json()
        if body.get("version") != 2 or body.get("status") not in ("firing", "resolved") or "alerts" not in body:
            return text_reply(400, "not a lakewarden notification")
        self.bodies.append(body)
        return text_reply(200, "")
