"""Microsoft Teams: Workflows webhooks with an Adaptive Card, and legacy connectors through pymsteams.

Workflows: ``{"type": "message", "attachments": [{"contentType":
"application/vnd.microsoft.card.adaptive", "contentUrl": null, "content": <AdaptiveCard 1.2>}]}``;
HTTP 202 means queued (not proof of posting). Cards are kept under 28 KB by cutting the text and
then the fact list. The legacy connector sends a MessageCard with pymsteams, whose success is
HTTP 200 with body ``1``. pymsteams is optional (the ``teams-connector`` extra: Microsoft is retiring
Office 365 connectors); building a connector channel without it raises :class:`MissingExtra`.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from alerts.channels.base import Delivered, Permanent, Result, Retryable
from alerts.channels.http import Answer, Poster, parse_retry_after
from alerts.templating import TemplateFailed, context, render_title_and_text
from config.basics.clock import Clock, utc_now
from config.teams import MsTeamsConfig, MsTeamsV2Config

MAX_CARD_BYTES = 28_000
CONNECTOR_EXTRA = "teams-connector"
_COLOURS = {"firing": "attention", "resolved": "good", "acknowledged": "accent"}


def adaptive_card(title: str, text: str, ctx: Mapping[str, Any], max_bytes: int = MAX_CARD_BYTES) -> dict[str, Any]:
    facts = [{"title": a["status"].upper(), "value": ", ".join(f"{k}={v}" for k, v in sorted(a["labels"].items()))}
             for a in ctx.get("alerts", [])]
    links = [(name, ctx.get(key, "")) for name, key in (("Runbook", "runbook_url"), ("Dashboard", "dashboard_url"))]
    actions = [{"type": "Action.OpenUrl", "title": name, "url": url} for name, url in links if url]
    while True:
        content = {
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
            "version": "1.2",
            "body": [
                {"type": "TextBlock", "text": title, "weight": "Bolder", "size": "Medium", "wrap": True,
                 "color": _COLOURS.get(str(ctx.get("status")), "default")},
                {"type": "TextBlock", "text": text, "wrap": True},
                *([{"type": "FactSet", "facts": facts}] if facts else []),
            ],
            "actions": actions,
        }
        envelope = {"type": "message", "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": content}]}
        size = len(json.dumps(envelope, ensure_ascii=False).encode("utf-8"))
        if size <= max_bytes:
            return envelope
        if len(text) > 600:
            text = text[: max(500, len(text) - (size - max_bytes) - 100)] + "…"
        elif facts:
            facts = facts[: len(facts) // 2]
        else:
            title, text = title[:200], text[:200]


class TeamsWorkflowChannel:
    def __init__(self, config: MsTeamsV2Config, clock: Clock = utc_now) -> None:
        self._config = config
        self._poster = Poster(config.webhook_url.get_secret_value(), config.timeout.total_seconds(), clock)
        self.origin = self._poster.origin

    def __repr__(self) -> str:
        return f"TeamsWorkflowChannel({self.origin})"

    def send(self, payload: Mapping[str, Any]) -> Result:
        ctx = context(payload)
        try:
            title, text = render_title_and_text(self._config, ctx)
        except TemplateFailed as exc:
            return Permanent(str(exc))
        body = json.dumps(adaptive_card(title, text, ctx), ensure_ascii=False).encode("utf-8")
        answer = self._poster.post(body, {"Content-Type": "application/json"})
        if not isinstance(answer, Answer):
            return answer
        if answer.ok:
            return Delivered(f"HTTP {answer.status} from {self.origin}" + (" (queued)" if answer.status == 202 else ""))
        return self._poster.classify(answer)


class MissingExtra(RuntimeError):
    """A configured channel needs an optional package that is not installed."""


def load_pymsteams() -> ModuleType:
    """The pymsteams module, or :class:`MissingExtra` saying how to install it."""
    try:
        return importlib.import_module("pymsteams")  # optional: only the legacy connector needs it
    except ImportError as exc:
        raise MissingExtra(
            "msteams_configs (a legacy Office 365 connector) needs the pymsteams package, which is not "
            f"installed: pip install 'lakewarden[{CONNECTOR_EXTRA}]' (or move to msteamsv2_configs, "
            "Teams Workflows, which needs nothing extra)") from exc


class TeamsConnectorChannel:
    """A legacy Office 365 connector (MessageCard) through pymsteams (the ``teams-connector`` extra)."""

    def __init__(self, config: MsTeamsConfig, clock: Clock = utc_now) -> None:
        self._pymsteams = load_pymsteams()
        self._config = config
        self._clock = clock
        self._poster = Poster(config.webhook_url.get_secret_value(), config.timeout.total_seconds(), clock)
        self.origin = self._poster.origin

    def __repr__(self) -> str:
        return f"TeamsConnectorChannel({self.origin})"

    def send(self, payload: Mapping[str, Any]) -> Result:
        ctx = context(payload)
        try:
            title, text = render_title_and_text(self._config, ctx)
        except TemplateFailed as exc:
            return Permanent(str(exc))
        pymsteams = self._pymsteams
        card = pymsteams.connectorcard(self._config.webhook_url.get_secret_value(),
                                       http_timeout=self._config.timeout.total_seconds())
        card.title(title[:250])
        card.text(text[:20000])
        card.color("D70000" if ctx["status"] == "firing" else "2EB886")
        section = pymsteams.cardsection()
        for alert in ctx["alerts"][:20]:
            section.addFact(alert["status"].upper(), ", ".join(f"{k}={v}" for k, v in sorted(alert["labels"].items())))
        card.addSection(section)
        for name, key in (("Runbook", "runbook_url"), ("Dashboard", "dashboard_url")):
            if ctx[key]:
                card.addLinkButton(name, ctx[key])
        try:
            card.send()
        except pymsteams.TeamsWebhookException:
            response = card.last_http_response
            answer = Answer(response.status_code, dict(response.headers), response.content[:2000])
            return self._poster.classify(answer)
        except OSError as exc:  # requests' exceptions; their text can quote the URL
            if any(cls.__name__ in ("Timeout", "ReadTimeout", "ConnectTimeout") for cls in type(exc).__mro__):
                return Retryable(f"no response from {self.origin} within {self._config.timeout.total_seconds():g}s")
            return Retryable(f"cannot reach {self.origin}: {type(exc).__name__}")
        return Delivered(f"HTTP {card.last_http_response.status_code} from {self.origin}")


__all__ = ["MissingExtra", "TeamsConnectorChannel", "TeamsWorkflowChannel", "adaptive_card", "load_pymsteams",
           "parse_retry_after"]
