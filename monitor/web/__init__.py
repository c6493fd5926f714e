"""The HTTP surface: one Starlette app served by uvicorn (``monitor.web.app``, ``monitor.web.server``).

``daemon_server`` builds it as the daemon serves it: probes, the job webhook, ``/metrics``, the APIs
and the status page over the daemon's state database.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from monitor.web.app import build_app
from monitor.web.context import WebState
from monitor.web.metrics import Metrics
from monitor.web.server import WebServer

if TYPE_CHECKING:
    from monitor.app import App
    from monitor.webhooks import WebhookIngress

__all__ = ["Metrics", "WebServer", "WebState", "build_app", "daemon_server"]


def daemon_server(app: App, ingress: WebhookIngress, skipped_polls: Callable[[], Mapping[str, int]]) -> WebServer:
    settings = app.settings
    http = settings.service.http
    state = WebState.build(settings, app.store.engine, app.clock, skipped_polls)
    metrics = Metrics(state, app.health, leases=app.leases.metrics, cache_seconds=http.metrics_cache.total_seconds())
    app.cycle.observers.append(metrics.on_cycle)
    asgi = build_app(app.health, ingress=ingress, state=state, http=http, metrics=metrics)
    return WebServer(http.host, http.port, asgi, header_timeout=http.header_timeout.total_seconds(),
                     max_connections=http.max_connections, on_stop=metrics.close)
