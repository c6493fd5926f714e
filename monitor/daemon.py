"""``lakewarden run``: the main loop, bounded shutdown, the command and delivery threads.

Signal handlers only set a flag (``StopSignals``). Commands from the inbox (filled by the scheduler,
at most one pending poll per model: ``monitor.inbox``) are handled one at a time on the bus by the
``commands`` thread; polls queued together are read together on the poll pool first, then handled
one at a time (``monitor.poll_pool``); the main thread only waits for the stop flag, so it can
always act on it.

On SIGTERM or SIGINT everything happens within ``service.shutdown_deadline`` (D), then exit 0:

- at once: ``daemon_stopping`` is logged, the scheduler stops (intake ends), queued commands are
  dropped (the next start polls again from the watermark), and if a command is being handled the
  engine is cancelled (running Spark jobs or warehouse statements end, the poll fails fast);
- the command thread gets until D/2 to finish; one that does not (Spark still starting, say) is
  abandoned, logged as ``command_abandoned``;
- the engine is closed (Spark stopped) and the profile pool's workers ended, alongside the delivery
  thread, which goes on sending until D/2, then hands the rest of its batch back to the outbox
  (leases released, due at once), so the next start sends it without waiting for the leases to
  expire; if a send outlives the delivery's share, its row is released as well (it may be sent
  twice, never lost);
- last, any child process still alive (the JVM of a Spark session that was still starting) is
  ended (``monitor.children``); local lifecycle jobs are left running for the next start to adopt.

A second SIGTERM or SIGINT exits at once with 128 + the signal number (143, 130): the handler
flushes stdout and stderr, writes one ``shutdown_forced`` JSON line to stderr, kills this process's
own children and calls ``os._exit`` (the only hard exit, and only on a second signal). The outbox
stays consistent: every change to it is one database transaction, which a killed process rolls
back; rows leased at that moment are sent after their lease expires, never lost.

Between commands the command thread closes the poll cycle when the inbox runs empty (one
``poll_cycle`` line, ``monitor.poll_cycle``) and runs the self-check tick every
``service.self_alerts.interval``: the watchdog and the self-alerts are synced, and the state
database is probed (``monitor.self_watch``). A poll cycle that just closed brings the tick forward,
so polls failing alert without waiting.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType

import structlog

from config.basics.fence import FenceLost
from monitor.app import App
from monitor.bus import Command
from monitor.children import children, end_children, leads_session
from monitor.inbox import Inbox
from monitor.leases import single_replica
from monitor.messages import PollDue
from monitor.scheduler import Ticker
from monitor.self_watch import watchdog_route_warning
from monitor.web import WebServer, daemon_server
from monitor.webhooks import WebhookIngress

log = structlog.get_logger(__name__)

_POLL_FLAG = 0.05  # seconds between two looks at the stop flag by the main thread
_POLL_BATCH = 5000  # polls taken from the inbox at once and read together (``monitor.poll_pool``)


class StopSignals:
    """SIGTERM and SIGINT handlers that only set a flag (and count, for the log).

    Installed before the app is built, so a signal during start-up (Spark takes seconds to start)
    still ends in a graceful stop and exit 0 instead of the default kill. The main thread never
    waits on ``event`` (it looks at ``is_set`` in a loop): the handler runs on the main thread, and
    setting the event takes its lock, which the main thread must not hold at that moment.

    A second signal, once installed, is the operator insisting: the handler exits at once (see
    ``force_exit``), after ``on_force`` (best effort: e.g. ending child processes).
    """

    def __init__(self, on_force: Callable[[], None] | None = None) -> None:
        self.event = threading.Event()
        self.count = 0
        self.on_force = on_force
        self._installed = False

    def install(self) -> StopSignals:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        self._installed = True
        return self

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.count += 1
        if self.count > 1 and self._installed:
            force_exit(signum, self.on_force)
        self.event.set()
        # Logging from a signal handler can deadlock on the handler's lock; the main loop logs instead.


def force_exit(signum: int, on_force: Callable[[], None] | None = None) -> None:
    """The second signal: flush, one JSON line on stderr (lock-free ``os.write``), ``on_force``, exit 128+signum."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # best effort: the interrupted code may hold the stream's lock
            stream.flush()
    code = 128 + signum
    line = {"event": "shutdown_forced", "level": "warning", "signal": signal.Signals(signum).name, "exit_code": code,
            "note": "second signal: exiting without the graceful stop; the outbox keeps every notification"}
    with contextlib.suppress(OSError):
        os.write(2, (json.dumps(line) + "\n").encode())
    if on_force is not None:
        with contextlib.suppress(Exception):  # nothing may stop the exit
            on_force()
    os._exit(code)


def kill_children(detached: bool = False) -> Callable[[], None]:
    """An ``on_force`` that SIGKILLs this process's children (and, with ``detached``, their groups)."""
    def kill() -> None:
        for pid in children():
            try:
                if leads_session(pid):
                    if detached:
                        os.killpg(pid, signal.SIGKILL)
                else:
                    os.kill(pid, signal.SIGKILL)
            except OSError:
                continue
    return kill


def wait_for_stop(stop: threading.Event, until: Callable[[], bool]) -> bool:
    """On the main thread: wait until ``until()`` or the stop flag; True when stopped (see StopSignals)."""
    while not stop.is_set():
        if until():
            return False
        time.sleep(_POLL_FLAG)
    return True


def _remaining(until: float) -> float:
    return max(0.0, until - time.monotonic())


def _in_background(name: str, work: Callable[[], object]) -> threading.Thread:
    def guarded() -> None:
        try:
            work()
        except Exception:
            log.exception("shutdown_step_failed", step=name)
    thread = threading.Thread(target=guarded, name=name, daemon=True)
    thread.start()
    return thread


def start_app(build: Callable[[], App], signals: StopSignals, deadline: float) -> App | None:
    """``build()`` on a thread while the main thread watches the stop flag; None if the stop came first.

    Start-up (imports, the state database's migrations, Java's check) takes seconds; a stop during
    it ends within ``deadline`` seconds: the build gets most of it to finish (then its app is
    closed), else it is abandoned and the children it started (a JVM) are ended.
    """
    built: list[App] = []
    failed: list[BaseException] = []

    def work() -> None:
        try:
            built.append(build())
        except BaseException as exc:  # re-raised on the main thread
            failed.append(exc)

    thread = threading.Thread(target=work, name="start-up", daemon=True)
    thread.start()
    if not wait_for_stop(signals.event, lambda: not thread.is_alive()):
        if failed:
            raise failed[0]
        return built[0]
    started = time.monotonic()
    end = started + deadline
    reserve = min(2.0, deadline * 0.15)
    log.info("daemon_stopping", signals=signals.count, phase="start-up")
    thread.join(_remaining(end - 2 * reserve))
    if built:
        _in_background("close", built[0].close).join(_remaining(end - reserve))
    elif thread.is_alive():
        log.warning("start_up_abandoned", deadline_s=deadline, note="stopped before the app was built")
    end_children(grace=max(0.1, _remaining(end - 0.1)))
    log.info("daemon_stopped", seconds=round(time.monotonic() - started, 2), phase="start-up")
    return None


class Daemon:
    def __init__(self, app: App, serve_http: bool = True, signals: StopSignals | None = None,
                 end_children_at_exit: bool = True) -> None:
        self.app = app
        self.signals = signals or StopSignals()
        self.stop = self.signals.event
        self.inbox = Inbox()
        self._serve_http = serve_http
        self._end_children = end_children_at_exit
        self._busy: Command | None = None  # the command the command thread is handling
        self._drain_until: float | None = None  # time.monotonic() when delivery hands back its batch
        self._next_tick = 0.0  # time.monotonic() when the self-check is due

    def submit(self, command: Command, urgent: bool = False) -> None:
        if not self.stop.is_set():
            self.inbox.put(command, urgent)

    def skipped_polls(self) -> dict[str, int]:
        """Model -> polls skipped since start because one was already waiting (a counter for /metrics)."""
        return self.inbox.skipped_polls()

    def run(self) -> int:
        settings = self.app.settings
        # SQLite: one daemon per database file (a second one fails here); then join the replicas.
        single = single_replica(str(settings.state.url), self.app.leases.holder)
        # Taken over (its replica died): poll it now, ahead of the polls waiting (``monitor.inbox``).
        self.app.leases.on_acquired = lambda model: self.submit(PollDue(model), urgent=True)
        try:
            self.app.leases.start()
        except BaseException:
            if single is not None:
                single.release()
            raise
        ingress = WebhookIngress(settings.service.webhooks, self.app.lifecycle.unfinished, self.submit)
        http = daemon_server(self.app, ingress, self.skipped_polls)
        if self._serve_http:
            http.start()
        ticker = Ticker(settings, self.submit)
        # What start-up built (modules, settings, compiled routes and statements) lives as long as the
        # process: out of the collector's generations, a full collection stops walking it (gc.freeze).
        gc.collect()
        gc.freeze()
        delivery = threading.Thread(target=self._deliver_loop, name="delivery", daemon=True)
        delivery.start()
        commands = threading.Thread(target=self._command_loop, name="commands", daemon=True)
        commands.start()
        ticker.start()
        self.app.health.set_started()
        log.info("daemon_started", models=[m.name for m in settings.models], http_port=http.port)
        unrouted = watchdog_route_warning(settings)
        if unrouted is not None:
            log.warning("watchdog_unrouted", detail=unrouted)
        try:
            wait_for_stop(self.stop, lambda: False)
        finally:
            self._shut_down(commands, delivery, ticker, http)
            if single is not None:
                single.release()
        return 0

    def _shut_down(self, commands: threading.Thread, delivery: threading.Thread, ticker: Ticker,
                   http: WebServer) -> None:
        started = time.monotonic()
        deadline = self.app.settings.service.shutdown_deadline.total_seconds()
        end = started + deadline
        reserve = min(2.0, deadline * 0.15)  # for the children still alive at the end
        self._drain_until = started + deadline / 2
        self.stop.set()  # also when run() ends for another reason than a signal
        dropped = self.inbox.drain()
        busy = self._busy
        log.info("daemon_stopping", signals=self.signals.count,
                 dropped_polls=sum(isinstance(c, PollDue) for c in dropped), skipped_polls=self.inbox.skipped(),
                 busy=type(busy).__name__ if busy else None)
        self.app.health.set_stopping()
        ticker.stop()
        # Cancelled again until the command ends: a query submitted just after a cancel is not cancelled by it.
        while busy is not None and commands.is_alive() and _remaining(self._drain_until) > 0:
            _in_background("cancel", self.app.engine.cancel).join(_remaining(self._drain_until))
            commands.join(min(0.25, _remaining(self._drain_until)))
        commands.join(_remaining(self._drain_until))
        if commands.is_alive():
            log.warning("command_abandoned", command=repr(self._busy), deadline_s=deadline,
                        note="it did not end within half the shutdown deadline; the next start does it again")
        else:
            self.app.cycle.close()
        # Lifecycle jobs keep running (the next start adopts them): say which, while the state is open.
        _in_background("report_jobs", self.app.lifecycle.report_outliving_jobs).join(
            min(5.0, _remaining(end - reserve)))
        # Spark stops and the pool's workers end while the delivery thread drains the outbox.
        closing = _in_background("close_engine", self.app.close_engine)
        delivery.join(_remaining(end - reserve))
        if delivery.is_alive():
            released = self.app.outbox.release(self.app.delivery.worker_id, unsent=False)
            log.warning("shutdown_deadline_passed", deadline_s=deadline, released=released,
                        note="undelivered notifications stay in the outbox for the next start")
        if self._serve_http:
            http.stop()
        self.app.leases.stop()  # handed over now, not after the TTL
        self.app.close_state()
        closing.join(_remaining(end - reserve / 2))
        if closing.is_alive():
            log.warning("engine_close_abandoned", deadline_s=deadline)
        if self._end_children:
            end_children(grace=max(0.1, _remaining(end - 0.1)))
        log.info("daemon_stopped", seconds=round(time.monotonic() - started, 2))

    def _command_loop(self) -> None:
        while not self.stop.is_set():
            command = self.inbox.get(timeout=0.2)
            if command is None:
                self.tick()
                continue
            if self.stop.is_set():
                return  # taken just as the stop came: dropped like the rest of the queue
            self._busy = command
            try:
                if isinstance(command, PollDue):  # with the polls queued behind it, on the poll pool
                    batch = [command, *self.inbox.take_polls(_POLL_BATCH)]
                    # Only the models this replica holds are read (``monitor.leases``); judging checks again.
                    self.app.poller.run([c.model for c in batch if self._holds(c.model)], stop=self.stop,
                                        handle=lambda model, reads: self._handle(PollDue(model, reads)))
                else:
                    self._handle(command)
            finally:
                self._busy = None
            if not self.stop.is_set():
                self.tick()

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

    def _holds(self, model: str) -> bool:
        with self.app.leases.model_gate(model) as held:
            return held

    def _handle(self, command: Command) -> None:
        if isinstance(command, PollDue):
            with self.app.leases.model_gate(command.model) as held:  # its writes are fenced inside
                if held:
                    self._handle_held(command)
            return
        self._handle_held(command)

    def _handle_held(self, command: Command) -> None:
        structlog.contextvars.bind_contextvars(command=type(command).__name__)
        started = time.monotonic()
        raised = None
        try:
            self.app.bus.handle(command)
        except FenceLost as exc:
            log.warning("lease_lost_during_work", command=repr(command), error=str(exc))
            return
        except Exception as exc:
            raised = f"{type(exc).__name__}: {exc}"
            log.exception("command_failed", command=repr(command))
        finally:
            structlog.contextvars.clear_contextvars()
        if isinstance(command, PollDue) and not self.stop.is_set():  # a poll cancelled by the stop is no failure
            read = command.reads.seconds if command.reads is not None else 0.0  # on the poll pool, before
            error = self.app.cycle.polled(command.model, time.monotonic() - started + read, raised)
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

