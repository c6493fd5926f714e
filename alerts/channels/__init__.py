"""Notification channels: each sends one payload and classifies its own failures."""

from alerts.channels.base import Channel, Delivered, Permanent, Result, Retryable
from alerts.channels.file import ConsoleChannel, FileChannel
from alerts.channels.registry import ChannelKey, build_channels, channel_configs
from alerts.channels.webhook import WebhookChannel

__all__ = [
    "Channel",
    "ChannelKey",
    "ConsoleChannel",
    "Delivered",
    "FileChannel",
    "Permanent",
    "Result",
    "Retryable",
    "WebhookChannel",
    "build_channels",
    "channel_configs",
]
