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
    outbox_rows,
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


def test_sigterm_during_start_up_still_stops_cleanly(tmp_path: Path, dataset: Dataset) -> None:
    """The handlers are installed before the app is built: an early SIGTERM is a graceful stop."""
    config = write_config(tmp_path, dataset, shutdown_deadline=f"{DEADLINE:g}s")
    with daemon_process(config, tmp_path / "run.log") as daemon:
        wait_for(lambda: bool(daemon.events("daemon_starting")) or daemon.process.poll() is not None, 60,
                 "the daemon_starting log line (the app is being built)")
        code, _took = daemon.signal_and_wait(signal.SIGTERM, 60)
        output = daemon.output()
    assert code == 0, output[-3000:]
    assert daemon.events("daemon_stopped")
    assert "Traceback" not in output
