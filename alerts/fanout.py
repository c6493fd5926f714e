"""From one notification for a receiver to one outbox row per channel of that receiver.

Channels are addressed as ``(receiver, kind, index)``. A channel with ``send_resolved: false`` gets
the payload without its resolved alerts, and nothing when none fire. Acknowledgements only go to
channels that can say "acknowledged" to the other side (PagerDuty).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from alerts.outbox import enqueue, ordering
from alerts.payload import only_firing
from config.forwarding import AlertmanagerConfig
from config.paging import PagerDutyConfig
from config.receivers import ConsoleConfig, FileConfig, Receiver, WebhookConfig
from config.slack import SlackConfig
from config.smtp import EmailConfig
from config.teams import MsTeamsConfig, MsTeamsV2Config

ChannelConfig = (FileConfig | ConsoleConfig | WebhookConfig | SlackConfig | EmailConfig | MsTeamsV2Config
                 | MsTeamsConfig | PagerDutyConfig | AlertmanagerConfig)
KINDS = ("file", "console", "webhook", "slack", "email", "msteamsv2", "msteams", "pagerduty", "alertmanager")
ACK_KINDS = frozenset({"pagerduty"})


_CONFIGS: dict[int, tuple[Receiver, list[tuple[str, int, ChannelConfig]]]] = {}


def channel_configs(receiver: Receiver) -> list[tuple[str, int, ChannelConfig]]:
    """``(kind, index, config)`` for every channel of ``receiver``, kinds in a fixed order.

    Worked out once per receiver (a frozen config object; every notification asks)."""
    cached = _CONFIGS.get(id(receiver))
    if cached is not None and cached[0] is receiver:
        return list(cached[1])
    out: list[tuple[str, int, ChannelConfig]] = []
    for kind in KINDS:
        configs: Sequence[ChannelConfig] = getattr(receiver, f"{kind}_configs")
        out.extend((kind, index, config) for index, config in enumerate(configs))
    if len(_CONFIGS) >= 1024:
        _CONFIGS.clear()
    _CONFIGS[id(receiver)] = (receiver, out)
    return list(out)


def sends_resolved(receiver: Receiver) -> bool:
    """A receiver wants resolves when any of its channels does."""
    return any(config.send_resolved for _, _, config in channel_configs(receiver))


def idempotency_key(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def outbox_rows(*, now: datetime, receiver: Receiver, payload: Mapping[str, Any], key: str) -> list[dict[str, Any]]:
    """The pending outbox rows (as insert values) for every channel of ``receiver``; ``key`` names this
    notification uniquely."""
    rows: list[dict[str, Any]] = []
    for kind, index, config in channel_configs(receiver):
        body: Mapping[str, Any] = payload
        if payload.get("kind") == "acknowledgement":
            if kind not in ACK_KINDS:
                continue
        elif not config.send_resolved:
            body = only_firing(payload)
            if not body["alerts"]:
                continue
        group_ref, latest_wins = ordering(body, receiver.name, kind, index)
        rows.append({"created_at": now, "receiver": receiver.name, "channel_kind": kind, "channel_index": index,
                     "idempotency_key": idempotency_key(key, receiver.name, kind, str(index)), "payload": dict(body),
                     "status": "pending", "attempts": 0, "next_attempt_at": now, "group_ref": group_ref,
                     "latest_wins": latest_wins})
    return rows


def enqueue_to_receiver(conn: sa.Connection, *, now: datetime, receiver: Receiver, payload: Mapping[str, Any],
                        key: str) -> list[int]:
    """Insert the rows of :func:`outbox_rows` now (skipping keys already there); returns their ids."""
    ids: list[int] = []
    for row in outbox_rows(now=now, receiver=receiver, payload=payload, key=key):
        row_id = enqueue(conn, now=now, receiver=row["receiver"], channel_kind=row["channel_kind"],
                         channel_index=row["channel_index"], idempotency_key=row["idempotency_key"],
                         payload=row["payload"])
        if row_id is not None:
            ids.append(row_id)
    return ids
