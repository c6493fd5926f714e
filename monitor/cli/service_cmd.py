"""``lakewarden run``, ``check`` and ``health``."""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from datetime import datetime
from typing import TYPE_CHECKING, Any

import structlog

from config.basics.severity import severity_rank
from monitor.cli import as_of, exitcodes
from monitor.cli.common import add_config, add_json, print_json
from monitor.cli.progress import progress

if TYPE_CHECKING:
    from config import Settings
    from config.models import ModelSettings
    from monitor.app import App
    from monitor.risk.stored import StoredAssessment


def register(sub: Any) -> None:
    run_parser = sub.add_parser("run", help="run the daemon until SIGTERM or SIGINT")
    add_config(run_parser)
    run_parser.set_defaults(handler=lambda args: run(args.config))

    check_parser = sub.add_parser("check", help="run one cycle for every model; exit code by worst severity")
    add_config(check_parser)
    as_of.add_argument(check_parser, as_of.HELP + ": the clock is set to it, data after it is left out, and "
                       "nothing is stored (a temporary state database) or sent")
    add_json(check_parser, "one JSON object per model: severity, risk, the window judged or why none was")
    check_parser.set_defaults(handler=_check)

    health_parser = sub.add_parser("health", help="GET the daemon's /healthz; exit 0 when healthy (container check)")
    add_config(health_parser, required=False,
               help_text="the daemon's YAML config (default: $LAKEWARDEN_CONFIG): ask on its service.http port")
    health_parser.add_argument("--url", default=None,
                               help="the URL to GET (default: /healthz on the config's service.http host and port, "
                                    f"without a config {DEFAULT_HEALTH_URL})")
    health_parser.add_argument("--timeout", type=float, default=3.0, help="seconds to wait for the answer (default 3)")
    health_parser.set_defaults(handler=_health)


DEFAULT_HEALTH_URL = "http://127.0.0.1:8080/healthz"


def _health(args: argparse.Namespace) -> int:
    return health(args.url or health_url(args.config), args.timeout)


def health_url(config: str | None) -> str:
    """``/healthz`` on the config's ``service.http`` port; a wildcard bind host is asked on loopback."""
    if config is None:
        return DEFAULT_HEALTH_URL
    from config import load_settings  # noqa: PLC0415 - the health check stays light without a config

    http = load_settings(config).service.http
    host = "127.0.0.1" if http.host in ("0.0.0.0", "", "*") else "[::1]" if http.host == "::" else http.host  # noqa: S104
    host = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{host}:{http.port}/healthz"


def _check(args: argparse.Namespace) -> int:
    when = None
    if args.as_of is not None:
        when = as_of.parse_time(args.as_of)
        if when is None:
            print(as_of.not_a_time("check", "--as-of", args.as_of))
            return exitcodes.CONFIG_ERROR
    return check(args.config, when, as_json=args.json)


def _settings(path: str) -> Settings:
    from config import load_settings  # noqa: PLC0415 - the health check stays light
    from monitor.logs import configure_logging, register_secret  # noqa: PLC0415

    settings = load_settings(path)
    configure_logging(level=settings.service.log_level, fmt=settings.service.log_format)
    for secret in _secrets(settings):
        register_secret(secret)
    return settings


def _secrets(settings: object) -> list[str]:
    """Every SecretStr value in the settings, so the log redactor can mask it wherever it appears."""
    from pydantic import BaseModel, SecretStr  # noqa: PLC0415

    found: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, SecretStr):
            found.append(value.get_secret_value())
        elif isinstance(value, BaseModel):
            for name in type(value).model_fields:
                walk(getattr(value, name))
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)

    walk(settings)
    return [s for s in found if s]


def run(path: str) -> int:
    from monitor.app import build_app  # noqa: PLC0415 - Spark, MLflow and SQLAlchemy load here
    from monitor.daemon import Daemon, StopSignals, kill_children, start_app  # noqa: PLC0415

    # Before the slow start, so an early SIGTERM still stops cleanly; a second one exits at once.
    signals = StopSignals(on_force=kill_children()).install()
    settings = _settings(path)
    structlog.get_logger(__name__).info("daemon_starting", config=path)
    app = start_app(lambda: build_app(settings), signals, settings.service.shutdown_deadline.total_seconds())
    if app is None:
        return exitcodes.OK
    return Daemon(app, signals=signals).run()


def check(path: str, when: datetime | None = None, as_json: bool = False) -> int:
    """One poll of every model, then one line per model: its severity, risk, and the data window it judged.

    A model with no judged data window is not a pass: its source failed (FAILED), or its tables hold
    no window, or none within ``lookback`` (NOT JUDGED, with the reason); either exits INCOMPLETE.
    With ``when`` (``--as-of``): the clock is a simulated one at that time, data after it is left out,
    the state database is a temporary one and nothing is delivered.
    """
    import tempfile  # noqa: PLC0415

    from config.basics.clock import SimulatedClock, utc_now  # noqa: PLC0415
    from monitor.app import build_app  # noqa: PLC0415 - Spark, MLflow and SQLAlchemy load here
    from monitor.messages import SourceFailed  # noqa: PLC0415

    settings = _settings(path)
    with tempfile.TemporaryDirectory(prefix="lakewarden-replay-") as scratch, \
            progress("starting the engine and opening the state database...") as shown:
        if when is not None:
            settings = _replay_settings(settings, f"sqlite:///{scratch}/state.db")
            print(f"replay as of {when.isoformat()}: a temporary state database, lifecycle off; "
                  "nothing is stored or sent", file=sys.stderr if as_json else sys.stdout)
        # Its own delivery identity: the daemon's (its instance id) would take back a running daemon's claims.
        app = build_app(settings, SimulatedClock(when) if when is not None else utc_now, replay=when is not None,
                        worker_id=f"check-{os.getpid()}")
        failed: dict[str, str] = {}
        app.bus.subscribe(SourceFailed, lambda event: failed.update({event.model: event.error}))
        try:
            shown.update(f"polling {len(settings.models)} models...")
            # Reads on the poll pool (service.poll_concurrency), each model judged as its read ends.
            failed.update(app.poll_all([model.name for model in settings.models]))
            app.cycle.close()  # the one poll_cycle line, as the daemon logs per cycle
            if when is None:
                shown.update("sending notifications...")
                app.delivery.run_once(limit=100)
            shown.done()
            worst, incomplete, found = "ok", bool(failed), []
            for model in settings.models:
                severity, line, judged = _model_line(app, model, failed.get(model.name))
                found.append({"model": model.name, "severity": severity, "judged": judged,
                              "error": failed.get(model.name), "line": line.split(None, 1)[1]})
                if not as_json:
                    print(line)
                incomplete = incomplete or not judged
                if severity_rank(severity) > severity_rank(worst):
                    worst = severity
            if as_json:
                print_json(found)
        finally:
            app.close()
    return exitcodes.INCOMPLETE if incomplete else exitcodes.SEVERITY[worst]


def _replay_settings(settings: Settings, state_url: str) -> Settings:
    """The settings of a replay: a temporary state database, and no lifecycle (nothing may start or roll back)."""
    models = tuple(m.model_copy(update={"lifecycle": m.lifecycle.model_copy(update={"enabled": False})})
                   for m in settings.models)
    return settings.model_copy(update={"state": settings.state.model_copy(update={"url": state_url}),
                                       "models": models})


def _model_line(app: App, model: ModelSettings, error: str | None) -> tuple[str, str, bool]:
    """(worst severity of the streams' newest windows, the model's line, whether a data window was judged)."""
    from monitor.risk.freshness_rules import format_age, format_time  # noqa: PLC0415
    from monitor.sources import is_data_stream  # noqa: PLC0415

    # The worst of each stream's newest window (the lakehouse, inference, monitor-status and freshness streams).
    newest = [r for s in app.assessments.streams(model.name)
              for r in app.assessments.history(model.name, limit=1, stream=s)]
    latest = max(newest, key=lambda r: (severity_rank(r.severity), r.risk), default=None)
    severity = latest.severity if latest else "ok"
    risk = f"risk {latest.risk:.0f}" if latest else "no assessment yet"
    data = max((r for r in newest if is_data_stream(r.stream)), key=lambda r: r.window_end, default=None)
    if error is not None:
        return severity, f"{model.name:<24} {f'FAILED: {error}':<10} {risk}", data is not None
    if data is None:
        return severity, f"{model.name:<24} NOT JUDGED: {_not_judged(model, newest, app.clock())}", False
    window = f"{format_time(data.window_start)} to {format_time(data.window_end)}"
    age = format_age(app.clock() - data.window_end)
    return severity, f"{model.name:<24} {severity:<10} {risk:<9} window {data.stream} {window}, ended {age} ago", True


def _not_judged(model: ModelSettings, newest: list[StoredAssessment], now: datetime) -> str:
    """Why no data window was judged, from the freshness facts: an empty table, or none within lookback."""
    from config.durations import format_duration  # noqa: PLC0415
    from monitor.observations_codec import window_from_json  # noqa: PLC0415
    from monitor.risk.freshness_rules import format_age, format_time  # noqa: PLC0415
    from monitor.sources import FRESHNESS  # noqa: PLC0415

    facts = next((window_from_json(r.inputs["window"]).freshness for r in newest
                  if r.stream.startswith(f"{FRESHNESS}:") and "window" in r.inputs), None)
    if facts is None:
        return ("no window within lookback (signals.freshness is off: the tables' newest window is not known); "
                "use --as-of to replay older windows")
    reasons = []
    for n in facts.newest:
        sources = model.sources
        lookback = (sources.lakehouse.lookback if n.stream.startswith("lakehouse:") and sources.lakehouse
                    else sources.inference.lookback if sources.inference else None)
        if n.window_end is None:
            reasons.append(f"{n.table} holds no window for granularity {n.granularity}")
        elif lookback is not None and n.window_end <= now - lookback:
            reasons.append(f"no window within lookback {format_duration(lookback)}: the newest window of {n.table} "
                           f"ended {format_time(n.window_end)}, {format_age(now - n.window_end)} ago; "
                           "use --as-of to replay it")
        else:
            reasons.append(f"the newest window of {n.table} ended {format_time(n.window_end)} but was not judged "
                           "yet (a window is judged once both metric tables have it)")
    return "; ".join(reasons) or "no stream holds a window"


def health(url: str, timeout: float) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - the operator's own URL
            body = json.loads(response.read() or b"{}")
            print(json.dumps(body))
            return exitcodes.OK if response.status == 200 else exitcodes.ERROR
    except urllib.error.HTTPError as exc:
        print(f"unhealthy: HTTP {exc.code} from {url}")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        print(f"unhealthy: {url} did not answer ({exc})")
    return exitcodes.ERROR
