"""``lakewarden run``, ``check`` and ``health``."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import structlog

from config import Settings, load_settings
from monitor.app import build_app
from monitor.cli import exitcodes
from monitor.daemon import Daemon
from monitor.logs import configure_logging, register_secret
from monitor.messages import PollDue, SourceFailed

log = structlog.get_logger(__name__)


def _settings(path: str) -> Settings:
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
    settings = _settings(path)
    daemon = Daemon(build_app(settings))
    daemon.install_signal_handlers()
    return daemon.run()


def check(path: str) -> int:
    settings = _settings(path)
    app = build_app(settings)
    failed: dict[str, str] = {}
    app.bus.subscribe(SourceFailed, lambda event: failed.update({event.model: event.error}))
    try:
        for model in settings.models:
            try:
                app.bus.handle(PollDue(model.name))
            except Exception as exc:
                failed[model.name] = str(exc)
        app.delivery.run_once(limit=100)
        worst = "ok"
        for model in settings.models:
            latest = app.assessments.latest(model.name)
            severity = latest["severity"] if latest else "ok"
            status = f"FAILED: {failed[model.name]}" if model.name in failed else severity
            risk = f"risk {latest['risk']:.0f}" if latest else "no assessment yet"
            print(f"{model.name:<24} {status:<10} {risk}")
            if exitcodes.SEVERITY[severity] > exitcodes.SEVERITY[worst]:
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
