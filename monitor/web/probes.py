"""``/healthz`` (liveness) and ``/readyz`` (readiness): the :class:`~monitor.health.HealthSource`'s answers as JSON.

200 when ok, 503 when not, 500 when the source raised; ``GET`` and ``HEAD`` only (others: 405 with
``Allow: GET, HEAD``). Never behind the API token: the kubelet has none.
"""

from __future__ import annotations

from typing import Any

import structlog
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from monitor.health import HealthSource
from monitor.web.errors import json_response

log = structlog.get_logger(__name__)

ALLOW = {"Allow": "GET, HEAD"}
ANY = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]  # answered by the endpoint itself


def method_not_allowed() -> Response:
    return json_response({"error": "method not allowed"}, 405, ALLOW)


def probe_routes(health: HealthSource) -> list[Route]:
    async def probe(request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return method_not_allowed()
        path = request.url.path
        ask = health.liveness if path == "/healthz" else health.readiness
        try:
            ok, details = await run_in_threadpool(ask)
        except Exception as exc:
            log.warning("health_probe_failed", path=path, exc_info=exc)
            return json_response({"status": "error", "error": type(exc).__name__}, 500)
        body: dict[str, Any] = {"status": "ok" if ok else "unavailable", **details}
        return json_response(body, 200 if ok else 503)

    return [Route("/healthz", probe, methods=ANY), Route("/readyz", probe, methods=ANY)]
