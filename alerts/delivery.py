"""Delivery workers: claim due outbox rows, send each through its channel, record the outcome.

The delivery side of the pipeline, per row: rate limit (the receiver's token bucket; an over-limit
row goes back to the outbox until a token is there), send (the channel classifies its own result),
retry or dead letter (the outbox's one retry policy, ``Retry-After`` honoured). Channel failures
never escape ``run_once``; each outcome is logged (``notification_delivered``,
``notification_retry``, ``notification_dead``, ``notification_rate_limited``,
``notification_lease_lost``).

One row at a time: a row is claimed when it is about to be sent, and its lease is renewed every third
of the lease while the send runs (a heartbeat thread), so a crash holds back that one row for at most
one lease, and none at all once the same instance (``worker_id``, stable across restarts: see
``alerts.instance``) starts again: its first ``run_once`` takes its earlier claims back.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

import structlog

from alerts.channels.base import Attempt, Channel, Delivered, Permanent, Result, Retryable
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
    """One worker identity. ``lease`` only has to outlast a heartbeat interval (a third of it) plus
    a stalled process: the lease of the row being sent is renewed while the send runs."""

    def __init__(
        self,
        outbox: Outbox,
        channels: Mapping[ChannelKey, Channel],
        clock: Clock,
        worker_id: str,
        lease: timedelta = timedelta(seconds=30),
        limiter: RateLimiter | None = None,
    ) -> None:
        self._outbox = outbox
        self._channels = channels
        self._clock = clock
        self.worker_id = worker_id
        self._lease = lease
        self._limiter = limiter
        self._taken_back = False

    def take_back(self) -> int:
        """Take back, due at once, what this identity left in flight before a restart (once per worker)."""
        self._taken_back = True
        count = self._outbox.take_back(self.worker_id)
        if count:
            log.warning("notifications_taken_back", worker_id=self.worker_id, count=count,
                        note="left in flight by an earlier run of this instance (crash or kill); sending again")
        return count

    def run_once(self, limit: int = 50, stop: Callable[[], bool] | None = None,
                 ids: Iterable[int] | None = None) -> DeliveryReport:
        """Claim up to ``limit`` due rows (among ``ids`` when given) and send them one by one.

        Each row is claimed just before it is sent. ``stop`` is asked before each claim: once it says
        True, nothing more is claimed (nothing is left to release: only the row being sent is held).
        The first call takes back what this identity left in flight before a restart.
        """
        if not self._taken_back:
            self.take_back()
        wanted = None if ids is None else list(ids)
        counts = {"delivered": 0, "retried": 0, "dead": 0, "lease_lost": 0, "released": 0, "rate_limited": 0}
        claimed = 0
        while claimed < limit:
            if stop is not None and stop():
                break
            row = self._outbox.claim_one(self.worker_id, self._lease, wanted)
            if row is None:
                break
            claimed += 1
            counts[self._deliver(row)] += 1
        return DeliveryReport(claimed=claimed, **counts)

    def send_now(self, ids: Iterable[int]) -> dict[int, Result]:
        """Send the rows ``ids`` once, now, whatever their schedule; a failure is final (dead, with its
        reason, no retry). For ``lakewarden alerts test``: returns each row's channel result."""
        results: dict[int, Result] = {}
        wanted = list(ids)
        while (row := self._outbox.claim_one(self.worker_id, self._lease, wanted)) is not None:
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
        with self._heartbeat(row):
            return self._send(channel, row)

    @contextmanager
    def _heartbeat(self, row: OutboxRow) -> Iterator[None]:
        """Renew the row's lease every third of it while the send runs."""
        done = threading.Event()
        interval = self._lease.total_seconds() / 3

        def beat() -> None:
            while not done.wait(interval):
                try:
                    if not self._outbox.renew(row.id, self.worker_id, self._lease):
                        return
                except Exception:  # a busy database: the next beat tries again, the lease has slack
                    log.warning("lease_renewal_failed", outbox_id=row.id, worker_id=self.worker_id)

        thread = threading.Thread(target=beat, name=f"lease-{row.id}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()

    def _send(self, channel: Channel, row: OutboxRow) -> Result:
        send_attempt = getattr(channel, "send_attempt", None)
        try:
            if callable(send_attempt):
                result: Result = send_attempt(row.payload, Attempt(row.idempotency_key, row.resend_since))
                return result
            return channel.send(row.payload)
        except Exception as exc:
            # A channel bug must not stop delivery of the other rows. Log only the type: exception
            # text and locals can hold secrets such as webhook URLs.
            return Retryable(f"channel raised {type(exc).__name__}")
