"""Alerts: the alert model, the routing tree, alert state, the durable outbox, delivery and channels.

Imports only ``config``. The monitor builds :class:`Alert` values and calls
:meth:`AlertService.sync`; :class:`DeliveryWorker` drains the outbox through the channels.
"""

from alerts.channels import (
    Channel,
    ChannelKey,
    ConsoleChannel,
    Delivered,
    FileChannel,
    Permanent,
    Result,
    Retryable,
    WebhookChannel,
    build_channels,
    channel_configs,
)
from alerts.delivery import DeliveryReport, DeliveryWorker
from alerts.model import Alert, LabelSet, fingerprint
from alerts.outbox import Outbox, OutboxRow, OutboxStatus, RetryOutcome, RetryPolicy
from alerts.payload import build_payload
from alerts.routing import ResolvedRoute, RouteTimers, resolve_routes
from alerts.schema import MIGRATIONS
from alerts.service import AlertService, Notification, idempotency_key

__all__ = [
    "MIGRATIONS",
    "Alert",
    "AlertService",
    "Channel",
    "ChannelKey",
    "ConsoleChannel",
    "Delivered",
    "DeliveryReport",
    "DeliveryWorker",
    "FileChannel",
    "LabelSet",
    "Notification",
    "Outbox",
    "OutboxRow",
    "OutboxStatus",
    "Permanent",
    "ResolvedRoute",
    "Result",
    "RetryOutcome",
    "RetryPolicy",
    "Retryable",
    "RouteTimers",
    "WebhookChannel",
    "build_channels",
    "build_payload",
    "channel_configs",
    "fingerprint",
    "idempotency_key",
    "resolve_routes",
]
