"""How fast the HTTP surface answers on a large state: ``/metrics`` for 1,000 models, the overview for 100
models x 30 days of hourly windows, and one model's page with those 30 days (720 windows).

    .venv/bin/python bench/web.py [--repeat 20]

Each state is seeded into a fresh SQLite file (``bench/web_world.py``), served by the real app on
uvicorn on 127.0.0.1, and asked ``--repeat`` times over HTTP after one warm-up request; it prints the
median and the slowest answer, and the CPU time per request (server and client are one process, so
this is what a quiet machine would take, whatever the load).
``/metrics`` is measured without its scrape cache (``metrics_cache: 0s``: every scrape reads the state)
and with the default (5 s: the state's families read once, rendered at every scrape). As in the daemon,
the objects built at start-up are frozen out of the garbage collector's scans (``gc.freeze()``).
Targets (issue 13): /metrics < 50 ms, overview < 300 ms, model page < 500 ms.
"""

from __future__ import annotations

import argparse
import gc
import http.client
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import structlog

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.web_world import seed, settings_for
from config.basics.clock import utc_now
from monitor.app import open_state
from monitor.health import Health
from monitor.web import WebServer, WebState, build_app

_OPENMETRICS = {"Accept": "application/openmetrics-text; version=1.0.0"}


def timed(port: int, path: str, repeat: int, headers: dict[str, str] | None = None) -> tuple[float, float, float, int]:
    def once() -> tuple[float, int]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        started = time.perf_counter()
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - started
        conn.close()
        if response.status != 200:
            raise SystemExit(f"{path}: HTTP {response.status}: {body[:300]!r}")
        return elapsed, len(body)

    once()
    cpu = time.process_time()
    runs = [once() for _ in range(repeat)]
    cpu_ms = (time.process_time() - cpu) / repeat * 1000  # server and client: one process
    return statistics.median(t for t, _ in runs) * 1000, max(t for t, _ in runs) * 1000, cpu_ms, runs[-1][1]


def serve(models: int, hours: int, folder: str, **http: str) -> tuple[WebServer, object]:
    settings = settings_for(models, f"sqlite:///{folder}/state-{models}-{hours}-{len(os.listdir(folder))}.db",
                            **http)
    store = open_state(settings)
    started = time.perf_counter()
    seed(settings, store.engine, utc_now, hours=hours)
    print(f"seeded {models} models x {hours} hourly windows in {time.perf_counter() - started:.1f} s")
    health = Health()
    health.set_started()
    server = WebServer("127.0.0.1", 0, build_app(health, state=WebState.build(settings, store.engine, utc_now),
                                                 http=settings.service.http))
    server.start()
    gc.collect()  # what the daemon does after start-up (monitor/daemon.py): the state built so far is
    gc.freeze()  # left out of the collector's scans
    return server, store


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.INFO))  # no per-request lines
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        server, store = serve(1000, 24, folder, metrics_cache="0s")
        rows.append(("/metrics, 1,000 x 24, no cache", *timed(server.port, "/metrics", args.repeat), 50))
        server.stop()
        store.close()  # type: ignore[attr-defined]
        server, store = serve(1000, 24, folder)
        rows.append(("/metrics, 1,000 x 24, cache 5 s", *timed(server.port, "/metrics", args.repeat), 50))
        rows.append(("  the same, OpenMetrics", *timed(server.port, "/metrics", args.repeat, _OPENMETRICS), 50))
        server.stop()
        store.close()  # type: ignore[attr-defined]
        server, store = serve(100, 30 * 24, folder)
        rows.append(("overview, 100 models x 720 windows", *timed(server.port, "/", args.repeat), 300))
        rows.append(("model page, 720 windows", *timed(server.port, "/models/m007?days=30", args.repeat), 500))
        rows.append(("/metrics, 100 models x 720 windows", *timed(server.port, "/metrics", args.repeat), 50))
        server.stop()
        store.close()  # type: ignore[attr-defined]
    print(f"{'what':<40} {'median ms':>10} {'max ms':>8} {'CPU ms':>7} {'bytes':>9} {'target ms':>10}")
    for what, median, worst, cpu, size, target in rows:
        print(f"{what:<40} {median:>10.1f} {worst:>8.1f} {cpu:>7.1f} {size:>9} {target:>10}")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
