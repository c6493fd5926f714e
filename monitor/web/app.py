"""The one ASGI application: probes, the job webhook, ``/metrics``, ``/api/v1``, ``/api/v2`` and the status page.

``build_app(health, ingress=..., state=..., http=...)``: without ``state`` (no state database) only the
probes, the webhook and ``/metrics``'s build info are served. Every answer other than the page is
JSON; unknown paths are a JSON 404, unknown methods a JSON 501. Requests are logged through structlog
at debug level.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from config.service import HttpSettings
from monitor.health import HealthSource
from monitor.web import openapi
from monitor.web.api_v1 import LakewardenApi
from monitor.web.api_v2 import AlertmanagerApi
from monitor.web.auth import TokenCheck
from monitor.web.context import WebState
from monitor.web.errors import ApiError, Json, api_error, http_error, json_response, server_error
from monitor.web.ingress import ingress_route
from monitor.web.metrics import Metrics
from monitor.web.probes import probe_routes
from monitor.web.status.pages import StatusPages
from monitor.webhooks import WebhookIngress

log = structlog.get_logger(__name__)

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})


class _Guard(BaseHTTPMiddleware):
    """Unknown methods are a JSON 501; every request is logged at debug level."""

    async def dispatch(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if request.method not in _METHODS:
            response: Response = json_response({"error": f"method {request.method} not implemented"}, 501)
        else:
            response = await call_next(request)
        log.debug("http_request", method=request.method, path=request.url.path, status=response.status_code,
                  client=request.client.host if request.client else None)
        return response


def build_app(health: HealthSource, *, ingress: WebhookIngress | None = None, state: WebState | None = None,
              http: HttpSettings | None = None, metrics: Metrics | None = None) -> Starlette:
    http = http or HttpSettings()
    timeout = http.header_timeout.total_seconds()
    metrics = metrics or Metrics(state, health, cache_seconds=http.metrics_cache.total_seconds())
    auth = TokenCheck(http.api_token, http.protect_reads)
    routes: list[BaseRoute] = [*probe_routes(health)]
    if ingress is not None:
        routes.append(ingress_route(ingress, timeout, metrics.webhook_requests))

    async def scrape(request: Request) -> Response:
        auth.read(request)
        data, content_type = await run_in_threadpool(metrics.render, request.headers.get("accept"))
        return Response(data, headers={"Content-Type": content_type, "Cache-Control": "no-store"})

    routes.append(Route("/metrics", scrape, methods=["GET"]))
    if state is not None:
        limits = (http.max_body, http.max_json_depth, timeout)
        routes += LakewardenApi(state, auth, *limits).routes()
        routes += AlertmanagerApi(state, auth, *limits).routes()

        async def spec(request: Request) -> Response:
            auth.read(request)
            return Json(openapi.document())

        routes.append(Route("/api/v1/openapi.json", spec, methods=["GET"]))
        routes += StatusPages(state, auth).routes()
    return Starlette(
        routes=routes, middleware=[Middleware(_Guard)],
        exception_handlers={ApiError: api_error, HTTPException: http_error, Exception: server_error},
    )
