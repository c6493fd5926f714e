"""What templates see: a notification payload turned into the variables of ``config.templates``.

The alert that speaks for a group is its most severe firing alert (or its first, when none fires);
``summary``, ``risk``, ``findings``, ``window`` and the links come from its annotations.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jinja2

from config.basics.severity import SEVERITIES, severity_rank
from config.templates import render

# Which alert leads a group: lakewarden's tiers in their one order, PagerDuty's words (``error``,
# ``warning``, ``info``, which lifecycle notices use) beside the tiers they stand for, ``info`` between
# ``ok`` and ``low``; a severity not known ranks below all.
_RANK = {name: 2 * severity_rank(name) for name in SEVERITIES} | {
    "error": 2 * severity_rank("high"), "warning": 2 * severity_rank("medium"), "info": 2 * severity_rank("low") - 1}


class TemplateFailed(Exception):
    """A template did not render; the notification is dead-lettered with this message."""


def _alert(item: Mapping[str, Any]) -> dict[str, Any]:
    return {"status": item.get("status", "firing"), "labels": dict(item.get("labels") or {}),
            "annotations": dict(item.get("annotations") or {}), "starts_at": item.get("startsAt") or "",
            "ends_at": item.get("endsAt") or "", "fingerprint": item.get("fingerprint", "")}


def context(payload: Mapping[str, Any]) -> dict[str, Any]:
    alerts = [_alert(item) for item in payload.get("alerts") or []]
    firing = [a for a in alerts if a["status"] == "firing"]
    resolved = [a for a in alerts if a["status"] != "firing"]
    pool = firing or alerts
    lead = max(pool, key=lambda a: _RANK.get(a["labels"].get("severity", ""), -1)) if pool else _alert({})
    labels, notes = lead["labels"], lead["annotations"]
    common = dict(payload.get("commonLabels") or {})
    findings = [line.strip() for line in notes.get("findings", "").splitlines() if line.strip()]
    return {
        "status": payload.get("status", "firing"),
        "kind": payload.get("kind", "notification"),
        "reason": payload.get("reason", ""),
        "receiver": payload.get("receiver", ""),
        "group_key": payload.get("groupKey", ""),
        "group_id": payload.get("groupId", ""),
        "group_labels": dict(payload.get("groupLabels") or {}),
        "common_labels": common,
        "common_annotations": dict(payload.get("commonAnnotations") or {}),
        "alerts": alerts,
        "firing": firing,
        "resolved": resolved,
        "alertname": common.get("alertname") or labels.get("alertname", ""),
        "model": common.get("model") or labels.get("model", ""),
        "env": common.get("env") or labels.get("env", ""),
        "team": common.get("team") or labels.get("team", ""),
        "severity": labels.get("severity", ""),
        "risk": notes.get("risk", ""),
        "summary": notes.get("summary", ""),
        "findings": findings,
        "window": notes.get("window", ""),
        "runbook_url": notes.get("runbook_url", ""),
        "dashboard_url": notes.get("dashboard_url", ""),
        "escalation": payload.get("escalation"),
        "test": payload.get("kind") == "test",
    }


def render_title_and_text(config: Any, ctx: Mapping[str, Any]) -> tuple[str, str]:
    """A channel's ``title`` and ``text`` templates rendered; raises :class:`TemplateFailed`."""
    return (render_text(config.title, ctx, field="title"), render_text(config.text, ctx, field="text"))


def render_text(template: str, ctx: Mapping[str, Any], *, html: bool = False, field: str = "template") -> str:
    """Render one configured template; raises :class:`TemplateFailed` naming the field."""
    try:
        return render(template, dict(ctx), html)
    except (jinja2.TemplateError, TypeError, ValueError, ArithmeticError, LookupError) as exc:
        raise TemplateFailed(f"the {field} template failed to render: {type(exc).__name__}: {exc}") from None
