"""Alert pipeline benchmark: the decision path, then delivery to a loopback sink.

1. Decision path: 10,000 alerts across 1,000 groups (1,000 models x 10 signals) through sync
   (state, routing, grouping), then one flush (time intervals, inhibition, silences, dedup against
   the notification log, escalation, record into the outbox), on the daemon's own SQLite set-up
   (WAL, BEGIN IMMEDIATE). Every decision is logged (rendered as JSON to /dev/null) and counted.
   Also reported: CPU time of each phase (alerts per CPU-second moves less with the machine's load
   than alerts per second), and the steady state, every model synced again with the same alerts.
   Objects made before the measurement are frozen out of the garbage collector's scans (as a
   server does after start-up); ``--no-gc-freeze`` measures without that.
2. Delivery: 2,000 notifications enqueued at 100 per second into the outbox; one delivery worker
   (the daemon's loop: claim, send through the webhook channel, ack) sends them to a loopback HTTP
   sink. Latency is enqueue -> received by the sink. Then the same 2,000 again as fast as possible.

    .venv/bin/python bench/alerts.py [--alerts 10000] [--groups 1000] [--notifications 2000] [--rate 100]
                                     [--no-gc-freeze]

Prints alerts per second, p50/p99 latency and peak RSS; targets: >= 5,000 alerts/s through the
decision path, p99 < 50 ms at 100 notifications/s.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import structlog

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alerts import MIGRATIONS, Alert, AlertStore, SilenceStore, build_channels, build_pipeline
from alerts.outbox import enqueue
from config import parse_settings
from config.basics.clock import SimulatedClock, utc_now
from config.basics.severity import ALERT_SEVERITIES
from config.basics.sql import begin_write
from config.matchers import Matcher
from monitor.state import open_store

T0 = datetime(2025, 3, 1, 12, tzinfo=UTC)


class Sink:
    """A loopback HTTP receiver that notes when each notification arrived."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                owner.arrived[json.loads(body)["groupKey"]] = time.perf_counter()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"


def settings_text(root: Path, sink: str) -> str:
    return f"""
models: [{{name: churn, sources: {{lakehouse: {{table: main.ml.churn}}}}}}]
state: {{url: "sqlite:///{root}/state.db"}}
route:
  receiver: log
  group_by: [model]
  group_wait: 30s
  group_interval: 5m
  routes:
    - matchers: ['severity="critical"']
      receiver: pager
      continue: true
      escalation: oncall
    - matchers: ['team=~"team-[0-4]"']
      receiver: team
      mute_time_intervals: [never]
inhibit_rules:
  - source_matchers: ['severity="critical"']
    target_matchers: ['severity="low"']
    equal: [model]
time_intervals:
  - name: never
    time_intervals: [{{years: ["1999"]}}]
receivers:
  - name: log
    webhook_configs: [{{url: "{sink}", timeout: 5s}}]
  - name: pager
    webhook_configs: [{{url: "{sink}", timeout: 5s}}]
  - name: team
    webhook_configs: [{{url: "{sink}", timeout: 5s}}]
alerting:
  escalation_policies: [{{name: oncall, steps: [{{wait: 15m, receiver: pager}}]}}]
"""


def decision_path(root: Path, sink: Sink, alerts: int, groups: int, freeze: bool = True) -> dict[str, Any]:
    settings = parse_settings(settings_text(root, sink.url()), "bench.yaml", {})
    engine = open_store(settings.state.url, {"alerts": MIGRATIONS}).engine
    clock = SimulatedClock(T0)
    store = AlertStore(engine, clock)
    SilenceStore(engine, clock).add([Matcher.parse('model="m7"')], T0 + timedelta(days=1), created_by="bench",
                                    comment="one silenced model")
    notifier = build_pipeline(settings, store, build_channels(settings.receivers, clock), "bench")
    per_group = alerts // groups
    batches = [[Alert({"alertname": "ModelAtRisk", "model": f"m{g}", "team": f"team-{g % 10}",
                       "signal": f"s{i}", "severity": ALERT_SEVERITIES[(g + i) % 4]},
                      {"summary": f"signal s{i} of m{g}", "risk": str(40 + i)}, T0) for i in range(per_group)]
               for g in range(groups)]
    if freeze:
        # What exists before the measurement (imports, configuration, the prepared alerts) is frozen,
        # as a server does after start-up: full collections then scan what the decision path made,
        # not the 10,000 alerts this harness holds.
        gc.collect()
        gc.freeze()
    started, cpu = time.perf_counter(), time.process_time()
    for g, batch in enumerate(batches):
        notifier.service.sync(f"model:m{g}", batch)
    synced, sync_cpu = time.perf_counter(), time.process_time()
    clock.now = T0 + timedelta(seconds=30)
    report = notifier.dispatcher.flush(max_batches=1000)
    flushed, flush_cpu = time.perf_counter(), time.process_time()
    # The daemon's steady state: every model synced again with the same alerts (nothing changes,
    # nothing is due), as on each poll while the alerts keep firing.
    for g, batch in enumerate(batches):
        notifier.service.sync(f"model:m{g}", batch)
    resynced, resync_cpu = time.perf_counter(), time.process_time()
    return {"alerts": alerts, "groups": report.groups, "sync_s": synced - started, "flush_s": flushed - synced,
            "total_s": flushed - started, "alerts_per_s": alerts / (flushed - started), "cpu_s": flush_cpu - cpu,
            "sync_cpu_s": sync_cpu - cpu, "flush_cpu_s": flush_cpu - sync_cpu,
            "resync_s": resynced - flushed, "resync_cpu_s": resync_cpu - flush_cpu,
            "outbox_rows": report.outbox_rows, "decisions": dict(notifier.dispatcher.counts)}


def delivery(root: Path, sink: Sink, count: int, rate: float | None) -> dict[str, Any]:
    settings = parse_settings(settings_text(root, sink.url()), "bench.yaml", {})
    engine = open_store(settings.state.url, {"alerts": MIGRATIONS}).engine
    clock = utc_now  # real time: latency is measured in real time
    worker = build_pipeline(settings, AlertStore(engine, clock), build_channels(settings.receivers, clock),
                            "bench-delivery").worker
    with begin_write(engine) as conn:  # the decision path's rows are not part of this measurement
        conn.exec_driver_sql("DELETE FROM alerts_outbox")
    enqueued: dict[str, float] = {}
    tag = f"run-{time.time_ns()}"
    done = threading.Event()

    def produce() -> None:
        began = time.perf_counter()
        for i in range(count):
            if rate:
                delay = began + i / rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            key = f"{tag}-{i}"
            payload = {"version": 2, "kind": "notification", "status": "firing", "groupKey": key, "alerts": []}
            with begin_write(engine) as conn:
                enqueue(conn, now=clock(), receiver="log", channel_kind="webhook", channel_index=0,
                        idempotency_key=key, payload=payload)
            enqueued[key] = time.perf_counter()
        done.set()

    producer = threading.Thread(target=produce)
    started = time.perf_counter()
    producer.start()
    while not (done.is_set() and len([k for k in enqueued if k in sink.arrived]) >= count):
        if worker.run_once(limit=50).claimed == 0:
            time.sleep(0.002)
    elapsed = time.perf_counter() - started
    producer.join()
    latencies = sorted((sink.arrived[k] - enqueued[k]) * 1000 for k in enqueued)
    return {"notifications": count, "rate": rate or "max", "elapsed_s": elapsed, "per_s": count / elapsed,
            "p50_ms": statistics.median(latencies), "p99_ms": latencies[int(0.99 * (len(latencies) - 1))],
            "max_ms": latencies[-1]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--groups", type=int, default=1_000)
    parser.add_argument("--notifications", type=int, default=2_000)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--no-gc-freeze", action="store_true",
                        help="do not freeze the objects made before the decision path is measured")
    args = parser.parse_args()
    devnull = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - open for the whole run
    structlog.configure(processors=[structlog.processors.TimeStamper(fmt="iso"),
                                    structlog.processors.JSONRenderer()],
                        logger_factory=structlog.PrintLoggerFactory(devnull))
    sink = Sink()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        decided = decision_path(root, sink, args.alerts, args.groups, freeze=not args.no_gc_freeze)
        paced = delivery(root, sink, args.notifications, args.rate)
        burst = delivery(root, sink, args.notifications, None)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"decision path: {decided['alerts']} alerts in {decided['groups']} groups in {decided['total_s']:.2f} s "
          f"(sync {decided['sync_s']:.2f} s, flush {decided['flush_s']:.2f} s) = {decided['alerts_per_s']:,.0f} "
          f"alerts/s ({decided['alerts'] / decided['cpu_s']:,.0f} per CPU-second); "
          f"{decided['outbox_rows']} outbox rows; decisions {decided['decisions']}")
    d = decided
    print(f"  CPU: sync {d['sync_cpu_s']:.2f} s, flush {d['flush_cpu_s']:.2f} s; the same alerts synced again "
          f"(steady state): {d['resync_s']:.2f} s = {d['alerts'] / d['resync_s']:,.0f} alerts/s "
          f"({d['alerts'] / d['resync_cpu_s']:,.0f} per CPU-second)")
    print(f"machine load average while running: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; "
          f"objects made before the measurement {'not ' if args.no_gc_freeze else ''}frozen out of GC scans")
    for run in (paced, burst):
        print(f"delivery at {run['rate']}/s: {run['notifications']} notifications in {run['elapsed_s']:.1f} s "
              f"({run['per_s']:.0f}/s); enqueue->delivered p50 {run['p50_ms']:.1f} ms, p99 {run['p99_ms']:.1f} ms, "
              f"max {run['max_ms']:.1f} ms")
    print(f"peak RSS: {peak_mb:.0f} MB")
    ok = decided["alerts_per_s"] >= 5000 and paced["p99_ms"] < 50
    print("targets (>= 5,000 alerts/s; p99 < 50 ms at 100/s):", "met" if ok else "NOT met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
