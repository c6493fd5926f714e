"""The notification body every channel receives: Alertmanager's webhook shape, versioned."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from alerts.model import Alert

PAYLOAD_VERSION = 1
Status = Literal["firing", "resolved"]


def build_payload(status: Status, receiver: str, alerts: Sequence[Alert], group_key: str) -> dict[str, Any]:
    """``{"version", "status", "receiver", "alerts": [...], "commonLabels", "groupKey"}``.

    ``commonLabels`` are the labels every alert shares with the same value.
    """
    return {
        "version": PAYLOAD_VERSION,
        "status": status,
        "receiver": receiver,
        "alerts": [alert.to_json() for alert in alerts],
        "commonLabels": common_labels(alerts),
        "groupKey": group_key,
    }


def common_labels(alerts: Sequence[Alert]) -> dict[str, str]:
    if not alerts:
        return {}
    common = dict(alerts[0].labels)
    for alert in alerts[1:]:
        common = {k: v for k, v in common.items() if alert.labels.get(k) == v}
    return dict(sorted(common.items()))
