"""``/metrics``: every series lakewarden exposes, through ``prometheus_client``.

Most series are read from the state database at scrape time (:class:`StateCollector`, a custom
collector), not counted in process: the state database is where the truth is, so the numbers survive
a restart, agree between replicas that share one PostgreSQL database, and match what ``lakewarden
alerts outbox`` or ``explain`` say. Counters read this way (``*_total``) count the rows the state
keeps; they only fall if rows are pruned, which Prometheus' ``rate()`` treats as a reset. What exists
nowhere but in this process is read live at every scrape (:class:`LiveCollector`: readiness, polls
skipped, leases held, lease takeovers and losses) or counted here (poll cycles, their duration and wall
time, the models and SQL statements in them: a :class:`~monitor.poll_cycle.PollCycle` observer; webhook
requests).

**State read in the background**: with ``service.http.metrics_cache`` above 0 (default 5 s), a
scrape does not wait for the state database (the first one after start does): while scrapes keep
coming a thread re-reads the state's families every period (:class:`StateCollector`), so a scrape
costs its rendering only. ``0s``: every scrape reads. The live and in-process series are never cached.
Rendering (``prometheus_client``'s text or OpenMetrics encoder, chosen by the ``Accept`` header) runs
at every scrape.

Cardinality is bounded by the config: labels are models, streams' kinds, receivers, channel kinds,
severities, reasons, states, steps and lease kinds; never a window, fingerprint, run id or silence id.

To add a series: a function in :mod:`monitor.web.families` (see there), or a metric object here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from monitor.health import HealthSource
from monitor.web import families
from monitor.web.context import WebState

log = structlog.get_logger(__name__)

CYCLE_BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
version = families.version


class Metrics:
    """The registry and the in-process series; :meth:`render` is what ``/metrics`` answers."""

    def __init__(self, state: WebState | None = None, health: HealthSource | None = None, *,
                 leases: Callable[[], Mapping[str, Any] | None] | None = None, cache_seconds: float = 0.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.webhook_requests = Counter("lakewarden_webhook_requests", "Databricks job webhook requests, by outcome.",
                                        ["outcome"], registry=self.registry)
        self.poll_cycles = Counter("lakewarden_poll_cycles", "Poll cycles completed (every due model polled once).",
                                   registry=self.registry)
        self.poll_cycle_seconds = Histogram("lakewarden_poll_cycle_duration_seconds",
                                            "Time spent polling in one poll cycle.", buckets=CYCLE_BUCKETS,
                                            registry=self.registry)
        self.poll_cycle_wall_seconds = Histogram(
            "lakewarden_poll_cycle_wall_seconds", "Wall time of one poll cycle, from its first poll to its close "
            "(models read at once: less than lakewarden_poll_cycle_seconds, which sums the models' times).",
            buckets=CYCLE_BUCKETS, registry=self.registry)
        self.poll_cycle_models = Counter("lakewarden_poll_cycle_models", "Models polled in completed poll cycles "
                                         "(divide lakewarden_poll_statements_total by it for statements per model).",
                                         registry=self.registry)
        self.poll_statements = Counter("lakewarden_poll_statements", "SQL statements the engine ran in completed "
                                       "poll cycles (table-version probes, window versions, rows; a cycle with "
                                       "nothing new sends few or none).", registry=self.registry)
        skipped = state.skipped_polls if state is not None else dict
        self.registry.register(LiveCollector(health, skipped, leases))
        if state is not None:
            self._state_collector: StateCollector | None = StateCollector(state, cache_seconds, monotonic)
            self.registry.register(self._state_collector)
        else:
            self._state_collector = None

    def close(self) -> None:
        """Stop reading the state in the background (called when the server stops)."""
        if self._state_collector is not None:
            self._state_collector.close()

    def on_cycle(self, fields: Mapping[str, Any]) -> None:
        """A :class:`~monitor.poll_cycle.PollCycle` observer: one closed cycle's fields."""
        self.poll_cycles.inc()
        self.poll_cycle_seconds.observe(float(fields.get("duration_s", 0.0)))
        self.poll_cycle_wall_seconds.observe(float(fields.get("wall_s", 0.0)))
        self.poll_cycle_models.inc(len(fields.get("models", ())))
        self.poll_statements.inc(int(fields.get("statements", 0)))

    def render(self, accept: str | None = None) -> tuple[bytes, str]:
        """The exposition for an ``Accept`` header: (body, content type). Prometheus' text format 0.0.4
        unless the client asks for OpenMetrics (or text 1.0.0)."""
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type


class LiveCollector(Collector):
    """The process's own state, read at every scrape."""

    def __init__(self, health: HealthSource | None, skipped: Callable[[], Mapping[str, int]],
                 leases: Callable[[], Mapping[str, Any] | None] | None) -> None:
        self._health = health
        self._skipped = skipped
        self._leases = leases

    def collect(self) -> Iterator[Metric]:
        live = families.LiveSnapshot(
            ready=None if self._health is None else bool(self._health.readiness()[0]),
            skipped_polls=self._skipped(), leases=None if self._leases is None else self._leases())
        for family in families.LIVE_FAMILIES:
            metric = family(live)
            if metric is not None:
                yield metric


class StateCollector(Collector):
    """The state database's families.

    ``cache_seconds`` 0: read at every scrape. Otherwise a scrape never waits for the database once
    the first read is done: while scrapes keep coming, a background thread re-reads the families every
    ``cache_seconds``, so a scrape costs only its rendering and shows values at most ``cache_seconds``
    (plus one read) old. The thread stops after ``idle_seconds`` without a scrape (a replica nobody
    scrapes reads nothing) and the next scrape starts it again. A failed read keeps the last families
    and is logged; the next period tries again."""

    def __init__(self, state: WebState, cache_seconds: float = 0.0,
                 monotonic: Callable[[], float] = time.monotonic, idle_seconds: float = 300.0) -> None:
        self._state = state
        self._ttl = cache_seconds
        self._idle = max(idle_seconds, cache_seconds)
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._cached: list[Metric] | None = None
        self._last_scrape = 0.0
        self._refresher: threading.Thread | None = None
        self._closed = threading.Event()

    def close(self) -> None:
        """Stop the background re-read (the server is stopping); scrapes after this read at once."""
        self._closed.set()

    @property
    def refreshing(self) -> bool:
        """Whether the background re-read runs (it does while scrapes keep coming)."""
        refresher = self._refresher
        return refresher is not None and refresher.is_alive()

    def collect(self) -> Iterator[Metric]:
        if self._ttl <= 0 or self._closed.is_set():
            yield from self._read()
            return
        with self._lock:
            self._last_scrape = self._monotonic()
            if self._cached is None:
                self._cached = self._read()
            if not self.refreshing:
                self._refresher = threading.Thread(target=self._refresh, name="lakewarden-metrics", daemon=True)
                self._refresher.start()
            found = self._cached
        yield from found

    def _read(self) -> list[Metric]:
        snapshot = families.StateSnapshot.read(self._state.engine, self._state.model_names(), self._state.clock())
        return [family(snapshot) for family in families.STATE_FAMILIES]

    def _refresh(self) -> None:
        while not self._closed.wait(self._ttl):
            with self._lock:
                if self._monotonic() - self._last_scrape > self._idle:
                    self._refresher = None
                    return
            try:
                found = self._read()
            except Exception as exc:
                log.warning("metrics_read_failed", error=f"{type(exc).__name__}: {exc}"[:500])
                continue
            with self._lock:
                self._cached = found
