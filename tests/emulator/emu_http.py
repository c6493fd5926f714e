"""The emulator's HTTP layer: routing, bearer auth, Databricks error bodies and fault injection.

Handlers take a :class:`Request` and return ``(status, body)``; they raise :class:`ApiError` for the
error bodies the real workspace sends (``{"error_code": ..., "message": ...}``).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit


class ApiError(Exception):
    """An error answer: HTTP status, Databricks error code and message."""

    def __init__(self, status: int, error_code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error_code": self.error_code, "message": self.message}


def not_found(what: str) -> ApiError:
    return ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"{what} does not exist.")


def bad_request(message: str, code: str = "INVALID_PARAMETER_VALUE") -> ApiError:
    return ApiError(400, code, message)


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: dict[str, Any]
    headers: dict[str, str]
    params: dict[str, str] = field(default_factory=dict)

    def arg(self, name: str, default: Any = None) -> Any:
        """A value from the JSON body, else from the query string."""
        if name in self.body:
            return self.body[name]
        return self.query.get(name, default)


Handler = Callable[[Request], tuple[int, Any]]


@dataclass
class Fault:
    """One scripted misbehaviour: answer ``status`` (or only wait ``delay``) for matching requests."""

    path: str
    method: str | None = None
    status: int | None = None
    error_code: str = "TEMPORARILY_UNAVAILABLE"
    message: str = "injected fault"
    retry_after: float | None = None
    delay: float = 0.0
    times: int | None = 1
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method != method:
            return False
        return re.search(self.path, path) is not None and (self.times is None or self.hits < self.times)


class Router:
    """Routes, the token check, faults, and a log of every request for tests to assert on."""

    def __init__(self, tokens: set[str]) -> None:
        self.tokens = tokens
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self.public: set[tuple[str, str]] = set()  # (method, path) answered without a bearer token
        self.public_prefixes: tuple[str, ...] = ()  # paths under these need no bearer token (presigned links)
        self.issued: dict[str, float] = {}  # OAuth access tokens (emu_oauth) -> expiry
        self.now: Callable[[], float] = time.time  # the emulator's clock, for token expiry
        self.faults: list[Fault] = []
        self.log: list[Request] = []
        self._lock = threading.Lock()

    def add(self, method: str, pattern: str, handler: Handler, *, public: bool = False) -> None:
        """Route ``method pattern`` to ``handler``; ``public`` routes (plain paths) need no bearer token."""
        regex = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "$")
        self.routes.append((method, regex, handler))
        if public:
            self.public.add((method, pattern))

    def accepts(self, token: str) -> bool:
        """A configured token, or one the OAuth piece issued (``issued``: token -> expiry, epoch seconds)."""
        with self._lock:
            expiry = self.issued.get(token)
        return token in self.tokens or (expiry is not None and expiry > self.now())

    def inject(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def requests(self, method: str | None = None, path: str = "") -> list[Request]:
        with self._lock:
            return [r for r in self.log if (method is None or r.method == method) and re.search(path, r.path)]

    def _fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.matches(method, path):
                    fault.hits += 1
                    return fault
        return None

    def dispatch(self, request: Request) -> tuple[int, Any, dict[str, str]]:
        with self._lock:
            self.log.append(request)
        try:
            fault = self._fault(request.method, request.path)
            if fault is not None:
                time.sleep(fault.delay)
                if fault.status is not None:
                    headers = {} if fault.retry_after is None else {"Retry-After": f"{fault.retry_after:g}"}
                    raise ApiError(fault.status, fault.error_code, fault.message, headers)
            if (request.method, request.path) not in self.public and not request.path.startswith(self.public_prefixes):
                if request.path == "/.well-known/databricks-config":
                    raise ApiError(404, "NOT_FOUND", "no host metadata here")
                auth = request.headers.get("authorization", "")
                if not auth.startswith("Bearer ") or not self.accepts(auth.removeprefix("Bearer ")):
                    raise ApiError(401, "UNAUTHENTICATED", "Invalid access token.")
            for method, regex, handler in self.routes:
                match = regex.match(request.path)
                if match is not None and method == request.method:
                    request.params = {k: unquote(v) for k, v in match.groupdict().items()}
                    status, body = handler(request)
                    return status, body, {}
            raise ApiError(404, "ENDPOINT_NOT_FOUND", f"No API found for '{request.method} {request.path}'")
        except ApiError as exc:
            return exc.status, exc.body(), exc.headers


def make_server(router: Router, host: str, port: int) -> ThreadingHTTPServer:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _serve(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
                body: Any = {k: v[-1] for k, v in parse_qs(raw.decode()).items()}  # OAuth token requests
            else:
                try:
                    body = json.loads(raw) if raw.strip() else {}
                except ValueError:
                    body = {}
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            headers = {k.lower(): v for k, v in self.headers.items()}
            request = Request(self.command, url.path, query, body if isinstance(body, dict) else {}, headers)
            status, payload, extra = router.dispatch(request)
            binary = isinstance(payload, bytes)  # a result chunk behind a presigned link: Arrow IPC bytes
            data = payload if binary else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/vnd.apache.arrow.stream" if binary else "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in extra.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    server = ThreadingHTTPServer((host, port), _Handler)
    server.daemon_threads = True
    return server
