"""Dead letters are never silent: a meta-alert to the fallback receiver, in the same transaction."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from structlog.testing import capture_logs

from alerts.channels.base import Permanent, Result, Retryable
from alerts.channels.file import FileChannel
from alerts.outbox import OutboxStatus
from tests.alerts.alert_kit import alert, file_receiver, lines, make_settings, notifier

if TYPE_CHECKING:
    from config.basics.clock import SimulatedClock


class Refusing:
    def __init__(self, result: Result) -> None:
        self.result = result

    def send(self, payload: Mapping[str, Any]) -> Result:
        return self.result


def setup(engine: sa.Engine, clock: SimulatedClock, tmp_path: Path, result: Result, **alerting: Any) -> Any:
    settings = make_settings({"receiver": "pager", "group_wait": "0s"},
                             [file_receiver(tmp_path, "pager"), file_receiver(tmp_path, "fallback")],
                             alerting={"fallback_receiver": "fallback", **alerting})
    channels = {("pager", "file", 0): Refusing(result),
                ("fallback", "file", 0): FileChannel(tmp_path / "fallback.jsonl")}
    return notifier(engine, clock, settings, channels)


def test_a_permanent_failure_raises_a_meta_alert_to_the_fallback(engine: sa.Engine, clock: SimulatedClock,
                                                                 tmp_path: Path) -> None:
    n = setup(engine, clock, tmp_path, Permanent("HTTP 401 from https://hooks: invalid_token"))
    n.service.sync("churn", [alert(clock, model="churn")])
    with capture_logs() as logs:
        first = n.run_once()  # rows are claimed one at a time: the meta-alert goes out in the same pass
    assert (first.dead, first.delivered) == (1, 1)
    (meta,) = lines(tmp_path / "fallback.jsonl")
    assert meta["kind"] == "meta"
    labels = meta["alerts"][0]["labels"]
    assert labels == {"alertname": "NotificationDeadLettered", "severity": "high", "receiver": "pager",
                      "channel": "file"}
    assert meta["alerts"][0]["annotations"]["reason"] == "HTTP 401 from https://hooks: invalid_token"
    assert any(e["event"] == "dead_letter_forwarded" for e in logs)
    (dead,) = n.outbox.rows(OutboxStatus.DEAD)
    assert dead.last_error == "HTTP 401 from https://hooks: invalid_token"


def test_retries_that_run_out_also_raise_a_meta_alert(engine: sa.Engine, clock: SimulatedClock, tmp_path: Path) -> None:
    n = setup(engine, clock, tmp_path, Retryable("HTTP 503"), retry={"max_attempts": 2, "initial_delay": "1s"})
    n.service.sync("churn", [alert(clock, model="churn")])
    n.run_once()
    clock.advance(seconds=5)
    n.run_once()
    n.run_once()
    (meta,) = lines(tmp_path / "fallback.jsonl")
    assert "gave up after 2 attempts" in meta["alerts"][0]["annotations"]["reason"]


def test_the_fallback_receivers_own_dead_letters_do_not_loop(engine: sa.Engine, clock: SimulatedClock,
                                                             tmp_path: Path) -> None:
    n = setup(engine, clock, tmp_path, Permanent("gone"))
    n.worker._channels[("fallback", "file", 0)] = Refusing(Permanent("fallback down too"))
    n.service.sync("churn", [alert(clock, model="churn")])
    with capture_logs() as logs:
        for _ in range(3):
            n.run_once()
    assert n.outbox.counts()["dead"] == 2  # the page, and the meta-alert about it; nothing more
    assert [e["event"] for e in logs if e["event"].startswith("dead_letter")] == [
        "dead_letter_forwarded", "dead_letter_not_forwarded"]


def test_without_a_fallback_dead_letters_are_logged(engine: sa.Engine, clock: SimulatedClock, tmp_path: Path) -> None:
    settings = make_settings({"receiver": "pager", "group_wait": "0s"}, [file_receiver(tmp_path, "pager")])
    n = notifier(engine, clock, settings, {("pager", "file", 0): Refusing(Permanent("bad"))})
    n.service.sync("churn", [alert(clock, model="churn")])
    with capture_logs() as logs:
        n.run_once()
    assert [e["reason"] for e in logs if e["event"] == "dead_letter_not_forwarded"] == ["bad"]
