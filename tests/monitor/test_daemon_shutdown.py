"""``lakewarden run`` as a real child process: graceful SIGTERM/SIGINT with deliveries in flight.

A loopback webhook first answers slowly with 503, so the daemon is mid-delivery when SIGTERM comes:
it must exit 0 within its shutdown deadline and keep every notification in the outbox, handed
back (not leased for minutes). Started again with the webhook healthy, it delivers each of them.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from alerts import idempotency_key
from monitor.engines.local_spark import LocalSparkEngine
from tests.monitor.cli_support import (
    MODEL,
    Dataset,
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

DEADLINE = 4.0  # service.shutdown_deadline in seconds
MARGIN = 10.0  # stopping Spark and closing the state database
CHANNELS = 3  # webhook channels of the one receiver: three outbox rows per notification
SLOW = 3.0  # seconds the failing webhook takes to answer


@pytest.fixture(scope="module")
def dataset(spark_engine: LocalSparkEngine) -> Dataset:
    # two calm windows, two drifted, two recovered: a firing and a resolved notification
    return write_dataset(spark_engine, "daemon_shutdown", small_scenario(6, drift_from=2, drift_until=4))


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
    assert len(rows) % CHANNELS == 0 and len(rows) >= 2 * CHANNELS  # firing and resolved, per channel
    assert not [row for row in rows if row["status"] in ("done", "dead")]
    # Graceful: the batch the worker had claimed is handed back, not left leased for minutes.
    assert all(row["status"] == "pending" and row["lease_owner"] is None for row in rows), rows
    assert daemon.events("notifications_released")
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
    assert firing and {r.payload["status"] for r in delivered} == {"firing", "resolved"}
    for request in firing:
        (alert,) = request.payload["alerts"]
        assert alert["labels"]["model"] == MODEL
        assert alert["labels"]["severity"] in ("medium", "high", "critical")
        assert request.payload["commonLabels"]["model"] == MODEL
    # Each delivery maps back to exactly one outbox row: the row's idempotency key is recomputed from
    # what the receiver got (alert fingerprint, status, episode start) and which channel it came through.
    keys = [
        idempotency_key(r.payload["alerts"][0]["fingerprint"], r.payload["status"],
                        datetime.fromisoformat(r.payload["alerts"][0]["startsAt"]),
                        receiver="hook", kind="webhook", index=int(r.path.rsplit("/", 1)[1]))
        for r in delivered
    ]
    assert len(keys) == len(set(keys)) == len(rows)  # each notification once, none twice
    assert set(keys) == {row["idempotency_key"] for row in rows}


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
