"""The notification body every channel receives: Alertmanager's webhook shape, versioned.

``{"version": 2, "kind", "status", "reason", "receiver", "groupKey", "groupId", "groupLabels",
"commonLabels", "commonAnnotations", "alerts": [{"status", "labels", "annotations", "startsAt",
"endsAt", "fingerprint"}], "escalation"}``. ``kind`` is ``notification`` (a group decision),
``escalation`` (a step of an escalation policy), ``acknowledgement``, ``meta`` (about lakewarden's own
delivery, e.g. a dead letter) or ``test`` (``lakewarden alerts test``). ``status`` is ``firing`` when
any alert in it fires, else ``resolved`` (``acknowledged`` for an acknowledgement).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from alerts.model import Alert, plain

PAYLOAD_VERSION = 2
Status = Literal["firing", "resolved"]
Kind = Literal["notification", "escalation", "acknowledgement", "meta", "test"]


def build_payload(
    receiver: str, alerts: Sequence[Alert], group_key: str, *, now: datetime, kind: Kind = "notification",
    reason: str = "", group_id: str = "", group_labels: Mapping[str, str] | None = None,
    escalation: Mapping[str, Any] | None = None, status: str | None = None,
) -> dict[str, Any]:
    items = []
    for alert in alerts:
        item = alert.to_json()
        item["status"] = "resolved" if alert.is_resolved(now) else "firing"
        items.append(item)
    if status is None:
        status = "firing" if any(item["status"] == "firing" for item in items) else "resolved"
    return {
        "version": PAYLOAD_VERSION,
        "kind": kind,
        "status": status,
        "reason": reason,
        "receiver": receiver,
        "groupKey": group_key,
        "groupId": group_id,
        "groupLabels": dict(sorted((group_labels or {}).items())),
        "commonLabels": common(alerts, "labels"),
        "commonAnnotations": common(alerts, "annotations"),
        "alerts": items,
        "escalation": dict(escalation) if escalation is not None else None,
    }


def common(alerts: Sequence[Alert], attribute: str) -> dict[str, str]:
    """The labels (or annotations) every alert shares with the same value."""
    if not alerts:
        return {}
    shared = plain(getattr(alerts[0], attribute))
    for alert in alerts[1:]:
        values = plain(getattr(alert, attribute))
        shared = {k: v for k, v in shared.items() if values.get(k) == v}
    return dict(sorted(shared.items()))


def common_labels(alerts: Sequence[Alert]) -> dict[str, str]:
    return common(alerts, "labels")


def only_firing(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The payload for a channel with ``send_resolved: false``: its resolved alerts left out."""
    return {**payload, "alerts": [a for a in payload.get("alerts", []) if a.get("status") == "firing"]}
