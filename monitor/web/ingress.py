"""The Databricks job webhook (``monitor.webhooks.WebhookIngress``) on the app, its behaviour unchanged.

The ingress is synchronous and reads the body itself, after authenticating and checking the length
(an unauthenticated body is never read). It runs in a worker thread, and its body is a file whose
``read`` pulls the request's parts from the event loop, each within ``timeout`` seconds.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from email.message import Message
from http import HTTPStatus
from typing import Any

import anyio.from_thread
import structlog
from prometheus_client import Counter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from monitor.web.errors import json_response
from monitor.web.probes import ANY
from monitor.webhooks import JOBS_PATH, Reply, WebhookIngress

log = structlog.get_logger(__name__)


class _StreamBody(io.RawIOBase):
    """A blocking file over the request's body stream, for code running in a worker thread."""

    def __init__(self, request: Request, timeout: float) -> None:
        self._timeout = timeout
        self._pending = b""
        self._stream = request.stream().__aiter__()
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending and not self._done:
            self._pending = anyio.from_thread.run(self._next)
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size

    async def _next(self) -> bytes:
        try:
            with anyio.fail_after(self._timeout):
                return await self._stream.__anext__()
        except StopAsyncIteration:
            self._done = True
            return b""


def ingress_route(ingress: WebhookIngress, timeout: float, requests: Counter | None = None) -> Route:
    def outcome(status: int) -> str:
        """``accepted``, ``unauthorized``, ``unknown_run``, ``bad_request`` (any other 4xx: malformed,
        too large, too slow, wrong content type) or ``error`` (5xx)."""
        return {202: "accepted", 401: "unauthorized", 404: "unknown_run"}.get(
            status, "bad_request" if status < 500 else "error")

    async def webhook(request: Request) -> Response:
        if request.method != "POST":
            return json_response({"error": "not found"}, 404)
        headers = Message()
        for name, value in request.headers.items():
            headers[name] = value
        body = io.BufferedReader(_StreamBody(request, timeout))
        client = request.client.host if request.client else ""
        post: Callable[[], Reply] = lambda: ingress.post(JOBS_PATH, headers, body, client)  # noqa: E731
        try:
            reply = await run_in_threadpool(post)
        except TimeoutError:
            reply = Reply(HTTPStatus.REQUEST_TIMEOUT, {"error": f"the body did not arrive within {timeout:g} s"})
        except Exception as exc:
            log.warning("http_post_failed", path=JOBS_PATH, exc_info=exc)
            reply = Reply(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": type(exc).__name__})
        if requests is not None:
            requests.labels(outcome=outcome(int(reply.status))).inc()
        response = json_response(reply.body, int(reply.status), {"Connection": "close"})
        for name, value in reply.headers:
            response.headers.append(name, value)
        return response

    return Route(JOBS_PATH, webhook, methods=ANY)
