"""Per-receiver token buckets on the delivery side, with a fake clock."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from structlog.testing import capture_logs

from alerts.model import Alert
from alerts.outbox import OutboxStatus
from alerts.ratelimit import RateLimiter, TokenBucket
from config.receivers import RateLimit
from tests.alerts.alert_kit import file_receiver, lines, make_settings, notifier

if TYPE_CHECKING:
    from config.basics.clock import SimulatedClock


def test_a_bucket_gives_its_burst_then_one_token_per_period(clock: SimulatedClock) -> None:
    bucket = TokenBucket(per_second=0.5, burst=2, now=clock())
    assert [bucket.take(clock()) for _ in range(3)] == [0.0, 0.0, 2.0]
    clock.advance(seconds=1)
    assert bucket.take(clock()) == 1.0
    clock.advance(seconds=1)
    assert bucket.take(clock()) == 0.0


def test_limits_are_per_receiver(clock: SimulatedClock) -> None:
    limiter = RateLimiter({"slack": RateLimit(rate=1, per=timedelta(seconds=1), burst=1)}, clock)
    assert [limiter.wait("slack"), limiter.wait("slack") > 0, limiter.wait("email")] == [0.0, True, 0.0]


def test_over_the_limit_rows_wait_in_the_outbox_without_losing_an_attempt(
    engine: sa.Engine, clock: SimulatedClock, tmp_path: Path
) -> None:
    settings = make_settings({"receiver": "chat", "group_by": ["model"], "group_wait": "0s"},
                             [file_receiver(tmp_path, "chat", rate_limit={"rate": 1, "per": "1s", "burst": 2})])
    n = notifier(engine, clock, settings)
    n.service.sync("all", [Alert({"model": f"m{i}"}, {}, clock()) for i in range(5)])
    with capture_logs() as logs:
        report = n.run_once()
    assert (report.delivered, report.rate_limited) == (2, 3)
    assert len([e for e in logs if e["event"] == "notification_rate_limited"]) == 3
    waiting = n.outbox.rows(OutboxStatus.PENDING)
    assert [r.attempts for r in waiting] == [0, 0, 0]
    assert all(r.next_attempt_at > clock() for r in waiting)
    for _ in range(3):
        clock.advance(seconds=1)
        n.run_once()
    assert len(lines(tmp_path / "chat.jsonl")) == 5
    assert n.outbox.counts()["done"] == 5
