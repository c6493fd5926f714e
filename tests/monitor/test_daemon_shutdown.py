"""``lakewarden run`` as a real child process: graceful SIGTERM/SIGINT with deliveries in flight.

A loopback webhook first answers slowly with 503, so the daemon is mid-delivery when SIGTERM comes:
it must exit 0 within its shutdown deadline and keep every notification in the outbox, handed
back (not leased for minutes). Started again with the webhook healthy, it delivers each of them.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from monitor.engines.local_spark import LocalSparkEngine
from tests.monitor.cli_support import (
    MODEL,
    Dataset,
    Received,
    WebhookServer,
    daemon_process,
    descendants,
    outbox_rows,
    process_group,
    small_scenario,
    state_engine,
    wait_for,
    webhook_server,
    write_config,
    write_dataset,
)

pytestmark = pytest.mark.integration

# The daemon keeps sending for half its shutdown deadline, then hands back the rest: a send that
# starts just before that point (SLOW seconds) still ends within the deadline.
SLOW = 2.0  # seconds the failing webhook takes to answer
DEADLINE = 6.0  # service.shutdown_deadline in seconds
MARGIN = 10.0  # stopping Spark and closing the state database
EXIT = 2.0  # from daemon_stopped to the process's end: the interpreter's own exit
# Spark settings that make each poll's queries long (thousands of tiny shuffle tasks on one core)
SLOW_SPARK = {"spark.master": "local[1]", "spark.sql.shuffle.partitions": "20000",
              "spark.sql.adaptive.enabled": "false"}
CHANNELS = 4  # webhook channels of the one receiver: four outbox rows per notification


@pytest.fixture(scope="module")
def dataset(spark_engine: LocalSparkEngine) -> Dataset:
    # two calm windows, then three drifted: the model's alert fires (and still fires after the last window)
    return write_dataset(spark_engine, "daemon_shutdown", small_scenario(5, drift_from=2, drift_until=5))


@pytest.fixture
def hook() -> Iterator[WebhookServer]:
    with webhook_server() as server:
        yield server


def _receivers(hook: WebhookServer) -> str:
    urls = "".join(f"      - url: {hook.url(f'/hook/{i}')}\n        timeout: 10s\n" for i in range(CHANNELS))
    return f"  - name: hook\n    webhook_configs:\n{urls}"


def test_sigterm_mid_delivery_keeps_the_outbox_and_the_next_start_delivers_it(
        tmp_path: Path, dataset: Dataset, hook: WebhookServer) -> None:
    config = write_config(tmp_path, dataset, receivers=_receivers(hook), route_receiver="hook",
                          shutdown_deadline=f"{DEADLINE:g}s")
    db = state_engine(tmp_path)
    hook.set(503, delay=SLOW)

    with daemon_process(config, tmp_path / "run1.log") as daemon:
        # the child starts its own Spark before its first poll: allow for it
        wait_for(lambda: bool(outbox_rows(db)) and hook.serving(), 120, "outbox rows and a webhook request")
        before = {row["id"] for row in outbox_rows(db)}
        code, took = daemon.signal_and_wait(signal.SIGTERM, DEADLINE + MARGIN)
        output = daemon.output()
    assert code == 0, output[-3000:]
    assert took < DEADLINE + MARGIN
    assert daemon.events("daemon_stopping") and daemon.events("daemon_stopped"), output[-3000:]
    assert "Traceback" not in output

    rows = outbox_rows(db)
    assert before <= {row["id"] for row in rows}  # nothing lost
    assert len(rows) % CHANNELS == 0 and len(rows) >= CHANNELS  # every notification once per channel
    assert not [row for row in rows if row["status"] in ("done", "dead")]
    # Graceful: the batch the worker had claimed is handed back, not left leased for minutes.
    assert all(row["status"] == "pending" and row["lease_owner"] is None for row in rows), rows
    # Only what was really sent counts as an attempt.
    sent = len(hook.requests())
    assert sum(row["attempts"] for row in rows) == sent >= 1

    hook.set(200)
    with daemon_process(config, tmp_path / "run2.log") as daemon:
        # A row left leased would wait 5 minutes for its lease: this bound fails without the hand-back.
        wait_for(lambda: all(row["status"] == "done" for row in outbox_rows(db)), 60,
                 "every outbox row delivered by the second start")
        wait_for(daemon.model_checked, 90, "the second start's first poll")
        code, took = daemon.signal_and_wait(signal.SIGTERM, DEADLINE + MARGIN)
        output = daemon.output()
    assert code == 0, output[-3000:]
    assert daemon.events("daemon_stopped")
    assert "Traceback" not in output

    rows = outbox_rows(db)
    assert {row["id"] for row in rows} == {row["id"] for row in rows if row["status"] == "done"}
    delivered = [r for r in hook.requests() if r.status == 200]
    firing = [r for r in delivered if r.payload["status"] == "firing"]
    assert firing
    for request in firing:
        assert request.payload["commonLabels"]["model"] == MODEL
        labels = [alert["labels"] for alert in request.payload["alerts"]]
        assert labels and all(label["model"] == MODEL and "severity" in label for label in labels)
        assert {label["severity"] for label in labels} & {"medium", "high", "critical"}
    # Each delivery is exactly one outbox row: the row stored with that body for that channel.
    keys = [_row_sent(rows, r).get("idempotency_key") for r in delivered]
    assert len(keys) == len(set(keys)) == len(rows)  # each notification once, none twice
    assert set(keys) == {row["idempotency_key"] for row in rows}


def _row_sent(rows: list[dict[str, Any]], request: Received) -> dict[str, Any]:
    """The outbox row whose payload went to the channel the request came through (``/hook/<index>``)."""
    index = int(request.path.rsplit("/", 1)[1])
    found = [row for row in rows if row["channel_index"] == index and row["payload"] == request.payload]
    assert len(found) == 1, f"{len(found)} outbox rows match a delivery to channel {index}"
    return found[0]


def test_sigint_stops_the_daemon_with_exit_0(tmp_path: Path, dataset: Dataset) -> None:
    # A table that does not exist: the daemon runs (the model is degraded) without starting Spark.
    config = write_config(tmp_path, dataset, table="main.daemon_shutdown.no_such_table",
                          shutdown_deadline=f"{DEADLINE:g}s")
    with daemon_process(config, tmp_path / "run.log") as daemon:
        wait_for(daemon.model_checked, 60, "the first poll")
        assert daemon.readiness()["status"] == "degraded"
        code, took = daemon.signal_and_wait(signal.SIGINT, DEADLINE + MARGIN)
        output = daemon.output()
    assert code == 0, output[-3000:]
    assert took < DEADLINE + MARGIN
    (stopping,) = daemon.events("daemon_stopping")
    assert stopping["signals"] == 1
    assert daemon.events("daemon_stopped")
    assert "Traceback" not in output and "KeyboardInterrupt" not in output


def _nothing_left(pgid: int) -> None:
    """No process the daemon started outlives it (its process group, and the resource tracker's EOF)."""
    wait_for(lambda: not process_group(pgid), 10, f"every process of the daemon's group {pgid} to end")


def test_sigterm_during_start_up_exits_0_within_the_deadline(tmp_path: Path, dataset: Dataset) -> None:
    """The app is built on a thread the main thread watches: a SIGTERM at ``daemon_starting`` is bounded."""
    config = write_config(tmp_path, dataset, shutdown_deadline=f"{DEADLINE:g}s")
    with daemon_process(config, tmp_path / "run.log") as daemon:
        wait_for(lambda: bool(daemon.events("daemon_starting")) or daemon.process.poll() is not None, 60,
                 "the daemon_starting log line (the app is being built)")
        code, took = daemon.signal_and_wait(signal.SIGTERM, 60)
        output = daemon.output()
    assert code == 0, output[-3000:]
    assert took < DEADLINE + EXIT, output[-3000:]
    assert daemon.events("daemon_stopping") and daemon.events("daemon_stopped")
    assert "Traceback" not in output
    _nothing_left(daemon.process.pid)


def test_sigterm_during_spark_start_exits_0_within_the_deadline(tmp_path: Path, dataset: Dataset) -> None:
    """Spark starts with the first poll, on the command thread: the stop does not wait for it."""
    config = write_config(tmp_path, dataset, shutdown_deadline=f"{DEADLINE:g}s")
    with daemon_process(config, tmp_path / "run.log") as daemon:
        daemon.http_port()  # daemon_started: the first poll is starting Spark now
        assert not daemon.events("spark_started")
        children = descendants(daemon.process.pid)
        code, took = daemon.signal_and_wait(signal.SIGTERM, 60)
        output = daemon.output()
    assert code == 0, output[-3000:]
    assert took < DEADLINE + EXIT, output[-3000:]
    (stopping,) = daemon.events("daemon_stopping")
    assert stopping["busy"] == "PollDue"
    assert daemon.events("daemon_stopped")
    assert "Traceback" not in output
    _nothing_left(daemon.process.pid)
    assert not [pid for pid in children if Path(f"/proc/{pid}").exists()]


def test_sigterm_during_a_long_poll_cancels_it_and_exits_within_the_deadline(
        tmp_path: Path, dataset: Dataset) -> None:
    local = tmp_path / "spark-local"  # where the running query's shuffle files appear
    config = write_config(tmp_path, dataset, shutdown_deadline=f"{DEADLINE:g}s",
                          spark_conf={**SLOW_SPARK, "spark.local.dir": str(local)})
    with daemon_process(config, tmp_path / "run.log") as daemon:
        wait_for(lambda: any(local.glob("blockmgr-*/*/shuffle_*")), 120, "a poll's query running a shuffle")
        code, took = daemon.signal_and_wait(signal.SIGTERM, 120)
        output = daemon.output()
    assert code == 0, output[-3000:]
    assert took < DEADLINE + EXIT, output[-3000:]
    (stopping,) = daemon.events("daemon_stopping")
    assert stopping["busy"] == "PollDue"
    assert daemon.events("spark_jobs_cancelled"), output[-3000:]
    assert not daemon.events("command_abandoned")  # cancelled, not left running
    assert daemon.events("daemon_stopped")
    _nothing_left(daemon.process.pid)


def test_a_second_sigterm_exits_at_once_and_the_outbox_stays_consistent(
        tmp_path: Path, dataset: Dataset, hook: WebhookServer) -> None:
    config = write_config(tmp_path, dataset, receivers=_receivers(hook), route_receiver="hook",
                          shutdown_deadline="60s")
    db = state_engine(tmp_path)
    hook.set(503, delay=SLOW)
    with daemon_process(config, tmp_path / "run.log") as daemon:
        wait_for(lambda: bool(outbox_rows(db)) and hook.serving(), 120, "outbox rows and a webhook request")
        before = {row["id"]: row for row in outbox_rows(db)}
        daemon.process.send_signal(signal.SIGTERM)
        wait_for(lambda: bool(daemon.events("daemon_stopping")), 10, "daemon_stopping")
        code, took = daemon.signal_and_wait(signal.SIGTERM, 10)
        output = daemon.output()
    assert code == 128 + signal.SIGTERM, output[-3000:]
    assert took < EXIT
    (forced,) = daemon.events("shutdown_forced")
    assert forced["signal"] == "SIGTERM" and forced["exit_code"] == 143
    assert not daemon.events("daemon_stopped")  # no graceful end: the hard exit
    _nothing_left(daemon.process.pid)

    with db.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    rows = {row["id"]: row for row in outbox_rows(db)}
    assert set(before) <= set(rows)  # nothing lost
    assert not [row for row in rows.values() if row["status"] in ("done", "dead")]  # nothing taken for sent
