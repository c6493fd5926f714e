"""``lakewarden run``: the main loop, graceful shutdown, and the delivery thread.

Signal handlers only set a flag. The main thread takes commands from the inbox (filled by the
scheduler) and handles them one at a time on the bus. On SIGTERM or SIGINT: the scheduler stops
(intake ends), the command being handled finishes, queued polls are dropped (the next start polls
again from the watermark), and the delivery thread goes on sending for the first half of
``service.shutdown_deadline`` (the other half is room for the send in progress to finish). Then it
hands the rest of its batch back to the outbox (leases released, due at once), so the next start
sends it without waiting for the leases to expire; if a send outlives the whole deadline, its row
is released as well (it may be sent twice, never lost). Exit code 0.

Between commands the loop closes the poll cycle when the inbox runs empty (one ``poll_cycle`` line,
``monitor.poll_cycle``) and runs the self-check tick every ``service.self_alerts.interval``: the
watchdog and the self-alerts are synced, and the state database is probed (``monitor.self_watch``).
A poll cycle that just closed brings the tick forward, so polls failing alert without waiting.
"""

from __future__ import annotations

import gc
import queue
import signal
import threading
import time
from types import FrameType

import structlog

from monitor.app import App
from monitor.bus import Command
from monitor.http import HttpServer
from monitor.messages import PollDue
from monitor.scheduler import Ticker
from monitor.self_watch import watchdog_route_warning
from monitor.webhooks import WebhookIngress

log = structlog.get_logger(__name__)


class StopSignals:
    """SIGTERM and SIGINT handlers that only set a flag (and count, for the log).

    Installed before the app is built, so a signal during start-up (Spark takes seconds to start)
    still ends in a graceful stop and exit 0 instead of the default kill.
    """

    def __init__(self) -> None:
        self.event = threading.Event()
        self.count = 0

    def install(self) -> StopSignals:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        return self

    def _on_signal(self, _signum: int, _frame: FrameType | None) -> None:
        self.count += 1
        self.event.set()
        # Logging from a signal handler can deadlock on the handler's lock; the main loop logs instead.


class Daemon:
    def __init__(self, app: App, serve_http: bool = True, signals: StopSignals | None = None) -> None:
        self.app = app
        self.signals = signals or StopSignals()
        self.stop = self.signals.event
        self.inbox: queue.Queue[Command] = queue.Queue()
        self._serve_http = serve_http
        self._drain_until: float | None = None  # time.monotonic() when delivery hands back its batch
        self._next_tick = 0.0  # time.monotonic() when the self-check is due

    def submit(self, command: Command) -> None:
        if not self.stop.is_set():
            self.inbox.put(command)

    def run(self) -> int:
        settings = self.app.settings
        ingress = WebhookIngress(settings.service.webhooks, self.app.lifecycle.unfinished, self.submit)
        http = HttpServer(settings.service.http.host, settings.service.http.port, self.app.health, post=ingress)
        if self._serve_http:
            http.start()
        ticker = Ticker(settings, self.submit)
        # What start-up built (modules, settings, compiled routes and statements) lives as long as the
        # process: out of the collector's generations, a full collection stops walking it (gc.freeze).
        gc.collect()
        gc.freeze()
        delivery = threading.Thread(target=self._deliver_loop, name="delivery", daemon=True)
        delivery.start()
        ticker.start()
        self.app.health.set_started()
        log.info("daemon_started", models=[m.name for m in settings.models], http_port=http.port)
        unrouted = watchdog_route_warning(settings)
        if unrouted is not None:
            log.warning("watchdog_unrouted", detail=unrouted)
        try:
            while not self.stop.is_set():
                try:
                    command = self.inbox.get(timeout=0.2)
                except queue.Empty:
                    self.tick()
                    continue
                self._handle(command)
                self.tick()
        finally:
            started = time.monotonic()
            deadline = settings.service.shutdown_deadline.total_seconds()
            self._drain_until = started + deadline / 2
            log.info("daemon_stopping", signals=self.signals.count, dropped_polls=self.inbox.qsize())
            self.app.cycle.close()
            self.app.health.set_stopping()
            ticker.stop()
            delivery.join(timeout=max(0.0, deadline - (time.monotonic() - started)))
            if delivery.is_alive():
                released = self.app.outbox.release(self.app.delivery.worker_id, unsent=False)
                log.warning("shutdown_deadline_passed", deadline_s=deadline, released=released,
                            note="undelivered notifications stay in the outbox for the next start")
            if self._serve_http:
                http.stop()
            self.app.close()
            log.info("daemon_stopped", seconds=round(time.monotonic() - started, 2))
        return 0

    def tick(self) -> None:
        """Close the poll cycle once the inbox is empty; run the self-check when it is due (or a cycle closed)."""
        due = time.monotonic() >= self._next_tick
        closed = (self.inbox.empty() or due) and self.app.cycle.close() is not None
        if not (due or closed):
            return
        self._next_tick = time.monotonic() + self.app.settings.service.self_alerts.interval.total_seconds()
        try:
            self.app.watch.tick()
        except Exception:
            log.exception("self_check_failed")

    def _handle(self, command: Command) -> None:
        structlog.contextvars.bind_contextvars(command=type(command).__name__)
        started = time.monotonic()
        raised = None
        try:
            self.app.bus.handle(command)
        except Exception as exc:
            raised = f"{type(exc).__name__}: {exc}"
            log.exception("command_failed", command=repr(command))
        finally:
            structlog.contextvars.clear_contextvars()
        if isinstance(command, PollDue):
            error = self.app.cycle.polled(command.model, time.monotonic() - started, raised)
            self.app.watch.polled(command.model, error)

    def _out_of_time(self) -> bool:
        until = self._drain_until
        return until is not None and time.monotonic() >= until

    def _deliver_loop(self) -> None:
        interval = self.app.settings.service.delivery_interval.total_seconds()
        while True:
            stopping = self.stop.is_set()
            if stopping and self._out_of_time():
                return
            try:
                self.app.delivery.run_once(limit=50, stop=self._out_of_time)
            except Exception:
                log.exception("delivery_failed")
            if stopping:
                return  # one last pass after the stop, for what the final cycle enqueued
            self.stop.wait(interval)

