"""The API's bearer token: writes always need it, reads when ``protect_reads`` is set.

Compared with ``hmac.compare_digest``; a refusal never echoes any part of what was sent. Without a
configured token writes are refused with 403 (there is nothing a client could send).
"""

from __future__ import annotations

import hmac

import structlog
from pydantic import SecretStr
from starlette.requests import Request

from monitor.web.errors import ApiError

log = structlog.get_logger(__name__)

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="lakewarden"'}


class TokenCheck:
    def __init__(self, token: SecretStr | None, protect_reads: bool) -> None:
        self._token = None if token is None else token.get_secret_value().encode("utf-8")
        self._protect_reads = protect_reads

    def read(self, request: Request) -> None:
        if self._protect_reads:
            self._check(request)

    def write(self, request: Request) -> None:
        if self._token is None:
            raise ApiError(403, "writes through the API are off: set service.http.api_token (or api_token_file) "
                                "and send it as Authorization: Bearer <token>")
        self._check(request)

    def _check(self, request: Request) -> None:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.strip().partition(" ")
        given = value.strip().encode("utf-8")
        if self._token is not None and scheme.lower() == "bearer" and hmac.compare_digest(given, self._token):
            return
        problem = "no Authorization header" if not header else (
            "wrong bearer token" if scheme.lower() == "bearer" else "not a bearer token")
        client = request.client.host if request.client else None
        log.warning("api_unauthorized", path=request.url.path, method=request.method, client=client, problem=problem)
        raise ApiError(401, "unauthorized: send Authorization: Bearer <service.http.api_token>", _CHALLENGE)
