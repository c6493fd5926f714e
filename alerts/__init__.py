"""Alerts: the alert model, routing, grouping, suppression, dedup, escalation, the outbox and channels.

Imports only ``config``. The monitor builds :class:`Alert` values and calls ``AlertService.sync``;
``build_pipeline`` composes the rest (see ``alerts.pipeline``) and the daemon calls
``Notifier.run_once`` on its delivery tick.
"""

from alerts import schema
from alerts.acks import Escalation, EscalationStore
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
from alerts.decision import Reason
from alerts.delivery import DeliveryReport, DeliveryWorker
from alerts.dispatch import Dispatcher, FlushReport
from alerts.model import Alert, LabelSet, fingerprint
from alerts.outbox import Outbox, OutboxRow, OutboxStatus, RetryOutcome
from alerts.payload import build_payload
from alerts.pipeline import Notifier, build_pipeline
from alerts.retry import RetryPolicy
from alerts.routing import ResolvedRoute, RouteTimers, resolve_routes
from alerts.schema import MIGRATIONS
from alerts.service import AlertService, Notification
from alerts.silences import Silence, SilenceState, SilenceStore
from alerts.store import AlertStore

__all__ = [
    "MIGRATIONS",
    "Alert",
    "AlertService",
    "AlertStore",
    "Channel",
    "ChannelKey",
    "ConsoleChannel",
    "Delivered",
    "DeliveryReport",
    "DeliveryWorker",
    "Dispatcher",
    "Escalation",
    "EscalationStore",
    "FileChannel",
    "FlushReport",
    "LabelSet",
    "Notification",
    "Notifier",
    "Outbox",
    "OutboxRow",
    "OutboxStatus",
    "Permanent",
    "Reason",
    "ResolvedRoute",
    "Result",
    "RetryOutcome",
    "RetryPolicy",
    "Retryable",
    "RouteTimers",
    "Silence",
    "SilenceState",
    "SilenceStore",
    "WebhookChannel",
    "build_channels",
    "build_payload",
    "build_pipeline",
    "channel_configs",
    "fingerprint",
    "resolve_routes",
    "schema",
]
