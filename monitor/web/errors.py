"""Errors as JSON with the status, for every path of the app: ``{"error": "..."}``, except under
``/api/v2/`` where the body is the message as a bare JSON string, as Alertmanager's OpenAPI document
says (``BadRequest``/``InternalServerError``: ``type: string``). amtool decodes a 400 into a string:
given an object it reports only ``json: cannot unmarshal object into Go value of type string``, and
the reason is lost."""

from __future__ import annotations

import json
from typing import Any

import structlog
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

log = structlog.get_logger(__name__)

_NO_STORE = {"Cache-Control": "no-store"}
ALERTMANAGER_PREFIX = "/api/v2/"


class ApiError(Exception):
    """An answer other than success: ``status``, a message that says what to do, extra JSON fields."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.extra = extra


class Json(JSONResponse):
    """JSON as ``json.dumps`` writes it (times and other values as text), never cached."""

    def __init__(self, content: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> None:
        super().__init__(content, status_code, headers={**_NO_STORE, **(headers or {})})

    def render(self, content: Any) -> bytes:
        return json.dumps(content, default=str).encode("utf-8")


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Json(body, status, headers)


def _error(request: Request, message: str, status: int, headers: dict[str, str] | None = None,
           **extra: Any) -> Response:
    if request.url.path.startswith(ALERTMANAGER_PREFIX):
        return json_response(message, status, headers)
    return json_response({"error": message, **extra}, status, headers)


async def api_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)  # noqa: S101 - registered for ApiError only
    return _error(_request, exc.message, exc.status, exc.headers, **exc.extra)


async def http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)  # noqa: S101 - registered for HTTPException only
    message = "not found" if exc.status_code == 404 else "method not allowed" if exc.status_code == 405 else exc.detail
    return _error(_request, message, exc.status_code, dict(exc.headers or {}))


async def server_error(request: Request, exc: Exception) -> Response:
    log.warning("http_request_failed", path=request.url.path, exc_info=exc)
    return _error(request, type(exc).__name__, 500)
