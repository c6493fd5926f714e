"""Delivery workers end to end: sync -> outbox -> real channels (file, loopback webhook) -> outcome."""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, MutableMapping
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa
from structlog.testing import capture_logs

from alerts.channels.base import Channel, Result
from alerts.delivery import DeliveryWorker, build_channels
from alerts.model import Alert
from alerts.outbox import Outbox, OutboxStatus
from alerts.retry import RetryPolicy
from config.receivers import Receiver
from config.routing import Route
from tests.alerts.alert_kit import make_settings, notifier

if TYPE_CHECKING:
    from config.basics.clock import SimulatedClock
    from tests.alerts.conftest import Loopback

pytestmark = pytest.mark.integration

ROUTE = Route.model_validate({"receiver": "ops", "group_wait": "0s"})
SECRET_PATH = "/hook/SECRET-TOKEN-123"


def ops(tmp_path: Path, loopback: Loopback) -> Receiver:
    return Receiver.model_validate({
        "name": "ops",
        "file_configs": [{"path": str(tmp_path / "alerts.jsonl")}],
        "webhook_configs": [{"url": loopback.url(SECRET_PATH), "hmac_secret": "s3cret", "timeout": "2s"}],
    })


def fire(engine: sa.Engine, clock: SimulatedClock, receiver: Receiver) -> None:
    """Fire one alert and judge its group at once (group_wait 0s): one outbox row per channel."""
    settings = make_settings(ROUTE, [receiver])
    notifier(engine, clock, settings, channels={}).service.sync(
        "churn", [Alert({"model": "churn", "severity": "high"}, {"summary": "drift"}, clock())])


def worker(engine: sa.Engine, clock: SimulatedClock, channels: Mapping[Any, Channel], name: str = "w1",
           **policy: Any) -> DeliveryWorker:
    outbox = Outbox(engine, clock, RetryPolicy(rng=random.Random(3), **policy))
    return DeliveryWorker(outbox, channels, clock, name, lease=timedelta(minutes=1))


def events(logs: list[MutableMapping[str, Any]], name: str) -> list[MutableMapping[str, Any]]:
    return [e for e in logs if e["event"] == name]


def test_sync_then_deliver_through_file_and_webhook(
    engine: sa.Engine, clock: SimulatedClock, tmp_path: Path, loopback: Loopback
) -> None:
    receiver = ops(tmp_path, loopback)
    fire(engine, clock, receiver)
    with capture_logs() as logs:
        report = worker(engine, clock, build_channels([receiver], clock)).run_once()
    assert (report.claimed, report.delivered, report.retried, report.dead) == (2, 2, 0, 0)
    line = json.loads((tmp_path / "alerts.jsonl").read_text(encoding="utf-8"))
    assert line["status"] == "firing"
    assert json.loads(loopback.seen[0].body) == line
    assert loopback.seen[0].headers["X-Lakewarden-Signature"].startswith("sha256=")
    delivered = events(logs, "notification_delivered")
    assert sorted(e["channel"] for e in delivered) == ["file", "webhook"]
    assert all(e["receiver"] == "ops" and e["attempt"] == 1 for e in delivered)
    assert "SECRET-TOKEN-123" not in repr(logs)
    assert Outbox(engine, clock).counts()["done"] == 2


def test_retryable_failure_is_retried_later_and_then_delivered(
    engine: sa.Engine, clock: SimulatedClock, tmp_path: Path, loopback: Loopback
) -> None:
    receiver = ops(tmp_path, loopback).model_copy(update={"file_configs": ()})
    fire(engine, clock, receiver)
    w = worker(engine, clock, build_channels([receiver], clock))
    loopback.reply(503, b"busy", {"Retry-After": "30"})
    with capture_logs() as logs:
        assert w.run_once().retried == 1
    (retry,) = events(logs, "notification_retry")
    assert retry["retry_after"] == 30.0
    assert retry["next_attempt_at"] >= clock() + timedelta(seconds=30)
    assert "HTTP 503" in retry["reason"]
    assert "SECRET-TOKEN-123" not in repr(logs)
    assert w.run_once().claimed == 0  # not due yet
    clock.advance(seconds=30)
    report = w.run_once()
    assert (report.claimed, report.delivered) == (1, 1)
    assert len(loopback.seen) == 2


def test_permanent_failure_is_dead_lettered_with_its_reason(
    engine: sa.Engine, clock: SimulatedClock, tmp_path: Path, loopback: Loopback
) -> None:
    receiver = ops(tmp_path, loopback).model_copy(update={"file_configs": ()})
    fire(engine, clock, receiver)
    loopback.reply(401, b"invalid_token")
    with capture_logs() as logs:
        assert worker(engine, clock, build_channels([receiver], clock)).run_once().dead == 1
    (dead,) = events(logs, "notification_dead")
    assert dead["reason"] == f"HTTP 401 from http://127.0.0.1:{loopback.port}: invalid_token"
    assert Outbox(engine, clock).rows(OutboxStatus.DEAD)[0].last_error == dead["reason"]


def test_retries_that_run_out_end_dead(
    engine: sa.Engine, clock: SimulatedClock, tmp_path: Path, loopback: Loopback
) -> None:
    receiver = ops(tmp_path, loopback).model_copy(update={"file_configs": ()})
    fire(engine, clock, receiver)
    loopback.reply(503)
    with capture_logs() as logs:
        report = worker(engine, clock, build_channels([receiver], clock), max_attempts=1).run_once()
    assert report.dead == 1
    assert "gave up after 1 attempts" in events(logs, "notification_dead")[0]["reason"]


def test_a_row_whose_channel_is_gone_is_dead_lettered(
    engine: sa.Engine, clock: SimulatedClock, tmp_path: Path, loopback: Loopback
) -> None:
    fire(engine, clock, ops(tmp_path, loopback))
    report = worker(engine, clock, {}).run_once()
    assert (report.claimed, report.dead) == (2, 2)
    reasons = {r.last_error for r in Outbox(engine, clock).rows()}
    assert "receiver 'ops' has no webhook channel #0 any more (config changed since it was queued)" in reasons


class Exploding:
    def send(self, payload: Mapping[str, Any]) -> Result:
        raise RuntimeError("http://host/SECRET-TOKEN-123 broke")


def test_a_channel_that_raises_does_not_stop_the_worker(
    engine: sa.Engine, clock: SimulatedClock, tmp_path: Path, loopback: Loopback
) -> None:
    receiver = ops(tmp_path, loopback)
    fire(engine, clock, receiver)
    channels = build_channels([receiver], clock)
    channels[("ops", "file", 0)] = Exploding()
    with capture_logs() as logs:
        report = worker(engine, clock, channels).run_once()
    assert (report.delivered, report.retried) == (1, 1)
    assert events(logs, "notification_retry")[0]["reason"] == "channel raised RuntimeError"
    assert "SECRET-TOKEN-123" not in repr(logs)


class Slow:
    """Takes so long that the lease runs out and another worker takes the row over."""

    def __init__(self, clock: SimulatedClock, rival: DeliveryWorker, inner: Channel) -> None:
        self.clock, self.rival, self.inner = clock, rival, inner
        self.rival_claimed = 0

    def send(self, payload: Mapping[str, Any]) -> Result:
        self.clock.advance(minutes=2)
        self.rival_claimed = self.rival.run_once().claimed
        return self.inner.send(payload)


def test_a_worker_that_lost_its_lease_does_not_ack(
    engine: sa.Engine, clock: SimulatedClock, tmp_path: Path, loopback: Loopback
) -> None:
    receiver = ops(tmp_path, loopback).model_copy(update={"webhook_configs": ()})
    fire(engine, clock, receiver)
    real = build_channels([receiver], clock)
    rival = worker(engine, clock, real, name="w2")
    slow = Slow(clock, rival, real[("ops", "file", 0)])
    with capture_logs() as logs:
        report = worker(engine, clock, {("ops", "file", 0): slow}).run_once()
    assert slow.rival_claimed == 1
    assert (report.claimed, report.delivered, report.lease_lost) == (1, 0, 1)
    assert events(logs, "notification_lease_lost")[0]["worker_id"] == "w1"
    (row,) = Outbox(engine, clock).rows()
    assert (row.status, row.attempts) == (OutboxStatus.DONE, 2)  # the rival delivered and acked
    assert len((tmp_path / "alerts.jsonl").read_text(encoding="utf-8").splitlines()) == 2  # at least once
