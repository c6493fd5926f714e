"""``lakewarden run``, ``check`` and ``health``."""

from __future__ import annotations

import argparse
import json
import time
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any

import structlog

from config.basics.severity import severity_rank
from monitor.cli import exitcodes

if TYPE_CHECKING:
    from config import Settings


def register(sub: Any) -> None:
    run_parser = sub.add_parser("run", help="run the daemon until SIGTERM or SIGINT")
    run_parser.add_argument("--config", required=True, help="path to the YAML config")
    run_parser.set_defaults(handler=lambda args: run(args.config))

    check_parser = sub.add_parser("check", help="run one cycle for every model; exit code by worst severity")
    check_parser.add_argument("--config", required=True, help="path to the YAML config")
    check_parser.set_defaults(handler=lambda args: check(args.config))

    health_parser = sub.add_parser("health", help="GET the daemon's /healthz; exit 0 when healthy (container check)")
    health_parser.add_argument("--url", default="http://127.0.0.1:8080/healthz")
    health_parser.add_argument("--timeout", type=float, default=3.0)
    health_parser.set_defaults(handler=_health)


def _health(args: argparse.Namespace) -> int:
    return health(args.url, args.timeout)


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
    from monitor.daemon import Daemon, StopSignals  # noqa: PLC0415

    signals = StopSignals().install()  # before the slow start, so an early SIGTERM still stops cleanly
    settings = _settings(path)
    structlog.get_logger(__name__).info("daemon_starting", config=path)
    return Daemon(build_app(settings), signals=signals).run()


def check(path: str) -> int:
    from monitor.app import build_app  # noqa: PLC0415 - Spark, MLflow and SQLAlchemy load here
    from monitor.messages import PollDue, SourceFailed  # noqa: PLC0415

    settings = _settings(path)
    app = build_app(settings)
    failed: dict[str, str] = {}
    app.bus.subscribe(SourceFailed, lambda event: failed.update({event.model: event.error}))
    try:
        for model in settings.models:
            started, raised = time.monotonic(), None
            try:
                app.bus.handle(PollDue(model.name))
            except Exception as exc:
                failed[model.name] = raised = str(exc)
            app.cycle.polled(model.name, time.monotonic() - started, raised)
        app.cycle.close()  # the one poll_cycle line, as the daemon logs per cycle
        app.delivery.run_once(limit=100)
        worst = "ok"
        for model in settings.models:
            # The worst of each stream's newest window (the lakehouse, inference and monitor-status streams).
            newest = [r for s in app.assessments.streams(model.name)
                      for r in app.assessments.history(model.name, limit=1, stream=s)]
            latest = max(newest, key=lambda r: (severity_rank(r.severity), r.risk), default=None)
            severity = latest.severity if latest else "ok"
            status = f"FAILED: {failed[model.name]}" if model.name in failed else severity
            risk = f"risk {latest.risk:.0f}" if latest else "no assessment yet"
            print(f"{model.name:<24} {status:<10} {risk}")
            if severity_rank(severity) > severity_rank(worst):
                worst = severity
    finally:
        app.close()
    return exitcodes.INCOMPLETE if failed else exitcodes.SEVERITY[worst]


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
