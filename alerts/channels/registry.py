"""Which channels a receiver has, addressed as ``(receiver, kind, index)``, and building them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime

from alerts.channels.base import Channel
from alerts.channels.file import ConsoleChannel, FileChannel
from alerts.channels.webhook import WebhookChannel
from config.receivers import ConsoleConfig, FileConfig, Receiver, WebhookConfig

ChannelKey = tuple[str, str, int]
ChannelConfig = FileConfig | ConsoleConfig | WebhookConfig


def channel_configs(receiver: Receiver) -> list[tuple[str, int, ChannelConfig]]:
    """``(kind, index, config)`` for every channel of ``receiver``, kinds in a fixed order."""
    groups: Sequence[tuple[str, Sequence[ChannelConfig]]] = (
        ("file", receiver.file_configs),
        ("console", receiver.console_configs),
        ("webhook", receiver.webhook_configs),
    )
    return [(kind, index, config) for kind, configs in groups for index, config in enumerate(configs)]


def build_channels(
    receivers: Iterable[Receiver], clock: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> dict[ChannelKey, Channel]:
    """One channel object per configured channel."""
    channels: dict[ChannelKey, Channel] = {}
    for receiver in receivers:
        for kind, index, config in channel_configs(receiver):
            channel: Channel
            if isinstance(config, FileConfig):
                channel = FileChannel(config.path)
            elif isinstance(config, ConsoleConfig):
                channel = ConsoleChannel()
            else:
                channel = WebhookChannel.from_config(config, clock)
            channels[(receiver.name, kind, index)] = channel
    return channels
