"""Delivery workers: claim due outbox rows, send each through its channel, record the outcome.

The delivery side of the pipeline, per row: rate limit (the receiver's token bucket; an over-limit
row goes back to the outbox until a token is there), send (the channel classifies its own result),
retry or dead letter (the outbox's one retry policy, ``Retry-After`` honoured). Channel failures
never escape ``run_once``; each outcome is logged (``notification_delivered``,
``notification_retry``, ``notification_dead``, ``notification_rate_limited``,
``notification_lease_lost``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta

import structlog

from alerts.channels.base import Channel, Delivered, Permanent, Result, Retryable
from alerts.channels.registry import ChannelKey, build_channels
from alerts.outbox import Outbox, OutboxRow, OutboxStatus
from alerts.ratelimit import RateLimiter
from config.basics.clock import Clock

__all__ = ["DeliveryReport", "DeliveryWorker", "build_channels"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class DeliveryReport:
    claimed: int = 0
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    lease_lost: int = 0
    released: int = 0  # claimed, not sent because ``stop`` said so, and handed back to the outbox
    rate_limited: int = 0  # claimed, over the receiver's rate limit, handed back until a token is there


class DeliveryWorker:
    """One worker identity. Keep ``lease`` longer than ``limit`` sends at their channel timeouts,
    or a slow batch loses rows to other workers (they are then sent twice, never lost)."""

    def __init__(
        self,
        outbox: Outbox,
        channels: Mapping[ChannelKey, Channel],
        clock: Clock,
        worker_id: str,
        lease: timedelta = timedelta(minutes=5),
        limiter: RateLimiter | None = None,
    ) -> None:
        self._outbox = outbox
        self._channels = channels
        self._clock = clock
        self.worker_id = worker_id
        self._lease = lease
        self._limiter = limiter

    def run_once(self, limit: int = 50, stop: Callable[[], bool] | None = None,
                 ids: Iterable[int] | None = None) -> DeliveryReport:
        """Claim up to ``limit`` due rows (among ``ids`` when given) and send them one by one.

        ``stop`` is asked before each send: once it says True, the rows not sent yet are released
        (pending again, due as before) instead of waiting for their lease to expire.
        """
        rows = self._outbox.claim(self.worker_id, limit, self._lease, ids)
        counts = {"delivered": 0, "retried": 0, "dead": 0, "lease_lost": 0, "released": 0, "rate_limited": 0}
        for index, row in enumerate(rows):
            if stop is not None and stop():
                counts["released"] = self._outbox.release(self.worker_id, [r.id for r in rows[index:]])
                log.info("notifications_released", worker_id=self.worker_id, count=counts["released"])
                break
            counts[self._deliver(row)] += 1
        return DeliveryReport(claimed=len(rows), **counts)

    def send_now(self, ids: Iterable[int]) -> dict[int, Result]:
        """Send the rows ``ids`` once, now, whatever their schedule; a failure is final (dead, with its
        reason, no retry). For ``lakewarden alerts test``: returns each row's channel result."""
        results: dict[int, Result] = {}
        for row in self._outbox.claim(self.worker_id, 1000, self._lease, ids):
            result = self._result(row)
            results[row.id] = result
            if isinstance(result, Delivered):
                self._outbox.ack(row.id, self.worker_id)
            else:
                self._outbox.dead(row.id, self.worker_id, result.reason)
        return results

    def _deliver(self, row: OutboxRow) -> str:
        fields = {"outbox_id": row.id, "receiver": row.receiver, "channel": row.channel_kind,
                  "channel_index": row.channel_index, "attempt": row.attempts,
                  "status": row.payload.get("status"), "group_key": row.payload.get("groupKey")}
        wait = self._limiter.wait(row.receiver) if self._limiter is not None else 0.0
        if wait > 0:
            until = self._clock() + timedelta(seconds=wait)
            if self._outbox.defer(row.id, self.worker_id, until, f"rate limit of receiver {row.receiver!r}"):
                log.info("notification_rate_limited", wait_s=round(wait, 3), **fields)
                return "rate_limited"
            return "lease_lost"
        result = self._result(row)
        if isinstance(result, Delivered):
            if self._outbox.ack(row.id, self.worker_id):
                log.info("notification_delivered", detail=result.detail, **fields)
                return "delivered"
        elif isinstance(result, Retryable):
            outcome = self._outbox.retry(row.id, self.worker_id, result.reason, result.retry_after)
            if outcome is not None and outcome.status is OutboxStatus.DEAD:
                log.error("notification_dead", reason=outcome.reason, **fields)
                return "dead"
            if outcome is not None:
                log.warning("notification_retry", reason=result.reason, retry_after=result.retry_after,
                            next_attempt_at=outcome.next_attempt_at, **fields)
                return "retried"
        elif self._outbox.dead(row.id, self.worker_id, result.reason):
            log.error("notification_dead", reason=result.reason, **fields)
            return "dead"
        log.warning("notification_lease_lost", worker_id=self.worker_id, outcome=type(result).__name__,
                    **fields)
        return "lease_lost"

    def _result(self, row: OutboxRow) -> Result:
        channel = self._channels.get((row.receiver, row.channel_kind, row.channel_index))
        if channel is None:
            return Permanent(f"receiver {row.receiver!r} has no {row.channel_kind} channel "
                             f"#{row.channel_index} any more (config changed since it was queued)")
        return self._send(channel, row)

    def _send(self, channel: Channel, row: OutboxRow) -> Result:
        try:
            return channel.send(row.payload)
        except Exception as exc:
            # A channel bug must not stop delivery of the other rows. Log only the type: exception
            # text and locals can hold secrets such as webhook URLs.
            return Retryable(f"channel raised {type(exc).__name__}")
