"""The reasons a group flush ends with, and the trace the stages write them into."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum


class Reason(StrEnum):
    FIRST = "first"                # nothing sent for this group and receiver before, and something fires
    NEW_ALERTS = "new_alerts"      # an alert fires that the last notification did not have
    RESOLVED = "resolved"          # send_resolved, and an alert resolved since the last notification
    ALL_RESOLVED = "all_resolved"  # nothing fires now, the last notification had firing alerts
    REPEAT = "repeat"              # unchanged, and the last notification is older than repeat_interval
    SUPPRESSED = "suppressed"      # nothing new to say
    SILENCED = "silenced"
    INHIBITED = "inhibited"
    MUTED_BY_TIME = "muted_by_time"

    @property
    def notifies(self) -> bool:
        return self in _NOTIFYING


_NOTIFYING = frozenset({Reason.FIRST, Reason.NEW_ALERTS, Reason.RESOLVED, Reason.ALL_RESOLVED, Reason.REPEAT})
MUTE_REASONS = frozenset({Reason.SILENCED, Reason.INHIBITED, Reason.MUTED_BY_TIME})


@dataclass
class Trace:
    """What the stages of one flush decided: the dedup reason, how many alerts each muter took."""

    reason: Reason | None = None
    muted: Counter[Reason] = field(default_factory=Counter)
    last_mute: Reason | None = None
    firing: int = 0
    resolved: int = 0
    outbox_rows: int = 0
    last_notified: datetime | None = None  # of the log entry the dedup decision read

    def next_flush(self, now: datetime, group_interval: timedelta, repeat_interval: timedelta) -> datetime:
        """While anything in the group is muted, check again every ``group_interval`` (a silence may
        end, an inhibiting alert resolve); else wake for the repeat (changes come earlier, through
        ``groups.join``)."""
        if not self.judged or self.muted:
            return now + group_interval
        notified = now if self.final().notifies else (self.last_notified or now)
        return max(now + group_interval, notified + repeat_interval)

    def mute(self, reason: Reason, count: int) -> None:
        if count:
            self.muted[reason] += count
            self.last_mute = reason

    def decide(self, reason: Reason, firing: int, resolved: int) -> None:
        self.reason, self.firing, self.resolved = reason, firing, resolved

    @property
    def judged(self) -> bool:
        """Whether the flush reached the dedup decision (else a muter took every alert)."""
        return self.reason is not None

    def final(self) -> Reason:
        if self.reason is not None:
            return self.reason
        return self.last_mute or Reason.SUPPRESSED
