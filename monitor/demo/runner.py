"""``lakewarden demo``: the real daemon on the embedded default, over simulated drifting traffic.

1. Generates a seeded churn-like dataset, trains and registers a champion in MLflow (SQLite).
2. Writes the baseline table, then one hour of scored traffic at a time into the inference table,
   with drift injected for a few windows and then recovery; after each window it writes the
   Lakehouse-Monitoring-shaped profile and drift metric tables (``monitor.profile``).
3. Runs the real daemon (scheduler, bus, sources, risk, alerts outbox, lifecycle) on
   ``config/examples/local.yaml`` with an accelerated clock: one simulated hour per window.
4. Prints the timeline and leaves the alert logs, the state database and the lakehouse folder.

Stopping: given the CLI's ``StopSignals``, a SIGTERM or SIGINT stops the demo between two steps
(a Spark job running is cancelled, the champion's training is killed, the daemon thread does its
bounded shutdown) and ``run_demo`` returns 0 after saying so; the CLI then ends every child process
left (``monitor.cli.demo_cmd``). A second signal exits at once (``monitor.daemon.StopSignals``).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import partial
from importlib import resources
from pathlib import Path
from typing import TextIO

import sqlalchemy as sa

from config import Settings, load_settings
from config.basics.clock import SimulatedClock
from config.service import LocalSparkSettings
from monitor.app import App, build_app, mlflow_env
from monitor.daemon import Daemon, StopSignals
from monitor.demo import data
from monitor.demo.next_steps import next_steps, traffic, write_demo_config
from monitor.demo.timeline import Timeline
from monitor.engines.local_spark import LocalSparkEngine
from monitor.lifecycle_triggers import manual_trigger
from monitor.logs import configure_logging
from monitor.messages import AlertsEnqueued, AssessmentMade, LifecycleProgressed, SourceFailed
from monitor.profile import ProfileSpec, write_profile
from retrain import LocalServingBackend, ServedEntity, Step, entity_name_for

MARKER = ".lakewarden-demo"


class DemoStopped(Exception):
    """A stop signal came: the demo unwinds from wherever it is."""


class _Stopper:
    """Watches the stop flag from a thread and cuts short what the main thread waits on."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event
        self.engine: LocalSparkEngine | None = None
        self.training: subprocess.Popen[str] | None = None
        self.armed = True
        threading.Thread(target=self._watch, name="demo-stop", daemon=True).start()

    def _watch(self) -> None:
        self.event.wait()
        if not self.armed:
            return
        if self.engine is not None:
            self.engine.cancel()
        if self.training is not None and self.training.poll() is None:
            self.training.kill()

    def check(self) -> None:
        if self.event.is_set():
            raise DemoStopped


def demo_settings(workdir: Path, retrain: bool = True) -> Settings:
    env = {"LAKEWARDEN_HTTP_PORT": "0", **os.environ, "LAKEWARDEN_HOME": str(workdir),
           "LAKEWARDEN_POLL_INTERVAL": "1s"}
    path = resources.files("config").joinpath("examples/local.yaml")
    with resources.as_file(path) as file:
        settings = load_settings(file, env)
    if not retrain:
        models = tuple(m.model_copy(update={"lifecycle": m.lifecycle.model_copy(update={"enabled": False})})
                       for m in settings.models)
        settings = settings.model_copy(update={"models": models})
    return settings


def prepare_workdir(workdir: Path) -> None:
    """Start from nothing, but only ever delete a folder the demo made itself."""
    if workdir.exists() and any(workdir.iterdir()):
        if not (workdir / MARKER).exists():
            raise RuntimeError(f"{workdir} is not empty and was not made by the demo; choose another --workdir")
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / MARKER).write_text("made by `lakewarden demo`; deleted and rebuilt on the next run\n")


def train_champion(settings: Settings, lakehouse: Path, stopper: _Stopper | None = None) -> None:
    life = settings.models[0].lifecycle
    params = {"model_name": life.registered_model or "churn", "lakehouse_root": str(lakehouse),
              **life.retrain.parameters}
    args = [sys.executable, "-m", "monitor.demo.train", *(f"--{k}={v}" for k, v in params.items())]
    env = {**os.environ, **mlflow_env(settings)}
    with subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        if stopper is not None:
            stopper.training = proc
        try:
            _out, err = proc.communicate(timeout=600)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise RuntimeError("training the champion took more than 10 minutes; it was stopped") from None
        finally:
            if stopper is not None:
                stopper.training = None
    if stopper is not None:
        stopper.check()  # killed by the stop, not failed
    if proc.returncode != 0:
        raise RuntimeError(f"training the champion failed:\n{err[-2000:]}")


def run_demo(workdir: str, scenario: data.DemoScenario | None = None, retrain: bool = True,
             out: TextIO | None = None, signals: StopSignals | None = None) -> int:
    began = time.monotonic()
    signals = signals or StopSignals()
    stopper = _Stopper(signals.event)
    root = Path(workdir).resolve()
    prepare_workdir(root)
    settings = demo_settings(root, retrain)
    scenario = scenario or data.DemoScenario()
    tl = Timeline(out) if out is not None else Timeline()
    with (root / "lakewarden.log").open("a", encoding="utf-8") as log_file:
        configure_logging(level=settings.service.log_level, fmt="json", stream=log_file)  # stdout: timeline
        tl.say(f"lakewarden demo in {root}\n  starting local Spark (about 15 s on 2 cores)...")
        app: App | None = None
        try:
            app = _prepare(settings, scenario, retrain, tl, log_file, stopper)
            _feed(app, scenario, tl, signals, stopper)
        except Exception as exc:
            if not signals.event.is_set():
                raise
            if app is not None:
                app.close()  # what the daemon's own shutdown did not close (it may not have started)
            configure_logging(level=settings.service.log_level)
            what = "" if isinstance(exc, DemoStopped) else f" ({type(exc).__name__} while stopping)"
            tl.say(f"\n  stopped by a signal after {tl.assessed} judged windows{what}; "
                   f"state and logs are in {root}")
            return 0
        counts = {k: v for k, v in app.outbox.counts().items() if v}
    configure_logging(level=settings.service.log_level)  # the log file is closed: back to stderr
    outbox = ", ".join(f"{count} {status}" for status, count in sorted(counts.items())) or "empty"
    tl.say(f"\n  {tl.assessed} windows judged; alerts: {tl.fired} fired, {tl.resolved} resolved; "
           f"{tl.sent} notifications sent (outbox: {outbox})")
    config = write_demo_config(root)
    for name, path in (("config", config), ("logs (JSON)", log_file.name), ("alert log", root / "alerts.jsonl"),
                       ("pages", root / "pages.jsonl"), ("state database", root / "state.db"),
                       ("lakehouse", root / "lakehouse")):
        tl.say(f"  {name + ':':<16} {path}")
    tl.say(f"  finished in {time.monotonic() - began:.0f} s")
    tl.say(next_steps(config))
    return 0


def _prepare(settings: Settings, scenario: data.DemoScenario, retrain: bool, tl: Timeline, log: TextIO,
             stopper: _Stopper) -> App:
    """Spark, the training and baseline tables, the champion, and the daemon's app with the timeline."""
    source = settings.models[0].sources.lakehouse
    if source is None or not isinstance(settings.engine, LocalSparkSettings):
        raise RuntimeError("the demo config must use a local_spark engine and a lakehouse source")
    engine = LocalSparkEngine(settings.engine.lakehouse_root)
    stopper.engine = engine
    stopper.check()
    with _stderr_to(log):  # the JVM inherits stderr at start: its warnings go to the log file
        engine.spark  # noqa: B018 - starts the session
    stopper.check()
    engine.write("main.demo.churn_training", data.training_frame(scenario.seed, scenario.training_rows),
                 mode="overwrite")
    engine.write(source.baseline_table or "main.demo.churn_baseline", scenario.baseline(), mode="overwrite")
    if retrain:
        tl.say("  training the champion model and registering it in MLflow (SQLite)...")
        train_champion(settings, engine.root, stopper)
    stopper.check()
    app = build_app(settings, clock=SimulatedClock(scenario.start), engine=engine)
    if retrain:
        _serve_champion(app)
    app.bus.subscribe(AssessmentMade, tl.on_assessment)
    app.bus.subscribe(AlertsEnqueued, tl.on_alerts)
    app.bus.subscribe(LifecycleProgressed, tl.on_lifecycle)
    app.bus.subscribe(SourceFailed, tl.on_source_failed)
    return app


def _feed(app: App, scenario: data.DemoScenario, tl: Timeline, signals: StopSignals, stopper: _Stopper) -> None:
    """Write one window of traffic and its metrics at a time, and let the real daemon judge it."""
    model = app.settings.models[0]
    source = model.sources.lakehouse
    assert source is not None  # noqa: S101 - checked in _prepare
    spec = ProfileSpec(table=source.table, baseline_table=source.baseline_table,
                       timestamp_col=source.timestamp_column, granularity=source.granularity,
                       feature_cols=data.FEATURES, prediction_col=source.prediction_column,
                       prediction_proba_col=source.prediction_proba_column, label_col=source.label_column)
    engine = app.engine
    if not isinstance(engine, LocalSparkEngine) or not isinstance(app.clock, SimulatedClock):
        raise RuntimeError("the demo runs on local Spark with a simulated clock")
    # The CLI ends the demo's children itself, lifecycle jobs included, once the daemon has stopped.
    daemon = Daemon(app, signals=signals, end_children_at_exit=False)
    thread = threading.Thread(target=daemon.run, name="daemon", daemon=True)
    tl.say(f"  daemon running: 1 s polls, 1 simulated hour per window, starting {scenario.start:%Y-%m-%d}; "
           f"drift injected in windows {scenario.drift_from}-{scenario.drift_until - 1}, then recovery\n")
    try:
        for index in range(scenario.windows):
            stopper.check()
            start, end = scenario.window(index)
            engine.write(source.table, scenario.frame(index), mode="append")
            write_profile(engine, spec, windows=[(start, end)])
            app.clock.set(end + timedelta(minutes=5))
            if index == 0:
                thread.start()  # once the first window's metrics exist, like a monitor's first refresh
            # The timeline hears of an assessment after every other handler (alerts, lifecycle):
            # once it has, the window's whole cycle is over.
            _wait(partial(_judged, tl, end), timeout=60, stop=signals.event)
            # The next hour "arrives" once a run started by this one is over or waits for windows
            # (a canary), so the accelerated clock never races a job's timeout.
            _wait(lambda: not _lifecycle_busy(app), timeout=300, stop=signals.event)
            _show_sent(app, tl, signals)
        stopper.check()
        if any(run.model == model.name for run in app.lifecycle.runs()):
            _bad_challenger(app, tl)
        stopper.check()
        _wait(lambda: app.outbox.counts().get("pending", 0) == 0, timeout=30, stop=signals.event)
        _show_sent(app, tl, signals)
        stopper.check()
    finally:
        finished = not signals.event.is_set()  # (the daemon's stop below is the same event)
        if finished:
            stopper.armed = False  # the demo is over: the daemon stops, nothing is cut short
        daemon.stop.set()
        if thread.is_alive():  # the daemon's own bounded shutdown, plus a margin
            thread.join(timeout=app.settings.service.shutdown_deadline.total_seconds() + 5)
        if finished:
            _show_sent(app, tl, signals, wait=False)  # what the daemon sent while it stopped


@contextmanager
def _stderr_to(target: TextIO) -> Iterator[None]:
    saved = os.dup(2)
    sys.stderr.flush()
    os.dup2(target.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def _wait(done: Callable[[], bool], timeout: float, stop: threading.Event | None = None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not (stop is not None and stop.is_set()):
        if done():
            return True
        time.sleep(0.1)
    return False


def _show_sent(app: App, tl: Timeline, signals: StopSignals, wait: bool = True) -> None:
    """Print the notifications the outbox finished with since the last call (the delivery loop sends
    within its interval: wait for it when something waits)."""
    from alerts.schema import alerts_outbox as t  # noqa: PLC0415

    if wait:
        _wait(lambda: not app.outbox.counts().get("pending", 0) and not app.outbox.counts().get("in_flight", 0),
              timeout=10, stop=signals.event)
    with app.store.engine.connect() as conn:
        rows = conn.execute(sa.select(t).where(t.c.status.in_(("done", "dead"))).order_by(t.c.id)).mappings().all()
    tl.on_outbox_rows([dict(row) for row in rows])


def _judged(tl: Timeline, end: datetime) -> bool:
    return tl.judged_until is not None and tl.judged_until >= end


def _lifecycle_busy(app: App) -> bool:
    """A run is working (not waiting for the canary's windows, which only new hours bring)."""
    return any(not (run.step is Step.ROLLOUT and run.external.get("canary_live_at"))
               for run in app.lifecycle.unfinished())


def _serve_champion(app: App) -> None:
    """The demo's serving endpoint: a local record serving the champion, as a rollout finds it."""
    life = app.settings.models[0].lifecycle
    if life.rollout is None or life.registered_model is None:
        return
    model = life.registered_model
    version = app.lifecycle.registry.get_alias(model, life.promote.champion_alias)
    if version is None:
        raise RuntimeError(f"the demo's champion training registered no {life.promote.champion_alias} of {model}")
    entity = ServedEntity(entity_name_for(model, version), model, version)
    LocalServingBackend(app.store.engine, app.clock).create(life.rollout.endpoint, [entity], {entity.name: 100})


def _bad_challenger(app: App, tl: Timeline) -> None:
    """The second case: a challenger trained on coin-flip labels fails validation and changes nothing."""
    model = app.settings.models[0]
    life = model.lifecycle
    if life.registered_model is None or life.rollout is None or not isinstance(app.clock, SimulatedClock):
        return
    serving = LocalServingBackend(app.store.engine, app.clock)
    before = (app.lifecycle.registry.get_alias(life.registered_model, life.promote.champion_alias),
              serving.read(life.rollout.endpoint).routes)
    app.clock.set(app.clock() + life.trigger.cooldown)  # the first run's cooldown has passed
    tl.say("\n  second case: a person asks for a retrain whose training labels are coin flips")
    trigger = manual_trigger(model, app.assessments, "demo: a challenger trained on noisy labels", "demo")
    trigger = dataclasses.replace(trigger, parameters=(("label_noise", "1.0"),))
    decision = app.lifecycle.consider(trigger)
    tl.say(f"      lifecycle {decision.reason.value:<10} {decision.message}")
    if decision.run_id is not None:  # the daemon's next lifecycle tick takes it from here
        _wait(lambda: not _lifecycle_busy(app), timeout=300)
        # The run's end is news for the group its start was sent in: due after the group_interval.
        interval = app.settings.route.group_interval or timedelta(minutes=5)  # Alertmanager's default
        app.clock.set(app.clock() + interval + timedelta(seconds=1))
    after = (app.lifecycle.registry.get_alias(life.registered_model, life.promote.champion_alias),
             serving.read(life.rollout.endpoint).routes)
    same = "unchanged" if after == before else (f"CHANGED from version {before[0]} ({traffic(before[1])}) to "
                                                 f"version {after[0]} ({traffic(after[1])})")
    tl.say(f"  champion is version {after[0]}, endpoint {life.rollout.endpoint} sends {traffic(after[1])}: {same}")
