"""Building one channel object per configured channel, addressed as ``(receiver, kind, index)``."""

from __future__ import annotations

from collections.abc import Iterable

from alerts.channels.alertmanager import AlertmanagerChannel
from alerts.channels.base import Channel
from alerts.channels.file import ConsoleChannel, FileChannel
from alerts.channels.paging import PagerDutyChannel
from alerts.channels.refs import MessageRefs
from alerts.channels.slack import SlackChannel
from alerts.channels.smtp import EmailChannel
from alerts.channels.teams import MissingExtra, TeamsConnectorChannel, TeamsWorkflowChannel
from alerts.channels.webhook import WebhookChannel
from alerts.fanout import ChannelConfig, channel_configs
from config.basics.clock import Clock, utc_now
from config.forwarding import AlertmanagerConfig
from config.paging import PagerDutyConfig
from config.receivers import FileConfig, Receiver, WebhookConfig
from config.slack import SlackConfig
from config.smtp import EmailConfig
from config.teams import MsTeamsConfig, MsTeamsV2Config

__all__ = ["ChannelKey", "build_channel", "build_channels", "channel_configs"]

ChannelKey = tuple[str, str, int]


def build_channel(receiver: str, index: int, config: ChannelConfig, clock: Clock,
                  refs: MessageRefs | None = None) -> Channel:
    if isinstance(config, FileConfig):
        return FileChannel(config.path)
    if isinstance(config, WebhookConfig):
        return WebhookChannel.from_config(config, clock)
    if isinstance(config, SlackConfig):
        return SlackChannel(config, receiver=receiver, index=index, refs=refs, clock=clock)
    if isinstance(config, EmailConfig):
        return EmailChannel(config)
    if isinstance(config, MsTeamsV2Config):
        return TeamsWorkflowChannel(config, clock)
    if isinstance(config, MsTeamsConfig):
        try:
            return TeamsConnectorChannel(config, clock)
        except MissingExtra as exc:
            raise MissingExtra(f"receiver {receiver!r}, msteams_configs[{index}]: {exc}") from exc.__cause__
    if isinstance(config, PagerDutyConfig):
        return PagerDutyChannel(config, clock)
    if isinstance(config, AlertmanagerConfig):
        return AlertmanagerChannel(config, clock)
    return ConsoleChannel()


def build_channels(
    receivers: Iterable[Receiver], clock: Clock = utc_now,
    refs: MessageRefs | None = None,
) -> dict[ChannelKey, Channel]:
    """One channel object per configured channel. ``refs`` lets Slack update messages it sent."""
    return {(receiver.name, kind, index): build_channel(receiver.name, index, config, clock, refs)
            for receiver in receivers for kind, index, config in channel_configs(receiver)}
