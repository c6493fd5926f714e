"""The service's HTTP surface: ``/healthz`` and ``/readyz`` on the stdlib server, and POST ingress.

A ``ThreadingHTTPServer`` in a daemon thread; every response is JSON. GET and HEAD serve the probes;
POST goes to an optional :class:`PostHandler` for the paths it serves (the Databricks job webhook,
``monitor.webhooks``), and is 405 elsewhere.
Request lines are logged through structlog at debug level instead of the stdlib's stderr access log.
"""

from __future__ import annotations

import json
import socket
import socketserver
import threading
from dataclasses import dataclass, field
from email.message import Message
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BufferedIOBase
from typing import Any, Protocol, cast
from urllib.parse import urlsplit

import structlog

from monitor.health import HealthSource

__all__ = ["HttpServer", "PostHandler", "Reply"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Reply:
    """A POST handler's answer: a status, a JSON body and extra headers (a header may repeat)."""

    status: HTTPStatus
    body: dict[str, Any]
    headers: tuple[tuple[str, str], ...] = field(default=())


class PostHandler(Protocol):
    """Serves POST on the paths it names. ``body`` is the unread request body (``headers`` say how
    long); the handler reads at most what it accepts. Called from the server's request threads."""

    def serves(self, path: str) -> bool: ...

    def post(self, path: str, headers: Message, body: BufferedIOBase, client: str) -> Reply: ...


class _Server(ThreadingHTTPServer):
    """The stdlib server (daemon request threads) carrying the health source its handlers ask."""

    def __init__(self, address: tuple[str, int], health: HealthSource, post: PostHandler | None) -> None:
        self.health = health
        self.post = post
        if ":" in address[0]:  # an IPv6 literal such as "::"
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind() resolves the host's FQDN, a reverse DNS lookup that can hang for
        # seconds in a container without DNS; the name is only used for CGI, so skip it.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)


class _Handler(BaseHTTPRequestHandler):
    server_version = "lakewarden"
    sys_version = ""
    timeout = 10  # seconds a client may take to send its request; a stuck one does not pin a thread

    def do_GET(self) -> None:
        self._serve(head=False)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def _method_not_allowed(self) -> None:
        self._send_json(HTTPStatus.METHOD_NOT_ALLOWED, {"error": "method not allowed"}, close=True)

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _method_not_allowed

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        handler = cast(_Server, self.server).post
        if handler is None or not handler.serves(path):
            self._method_not_allowed()
            return
        try:
            reply = handler.post(path, self.headers, self.rfile, self.client_address[0])
        except TimeoutError:
            raise  # a client too slow to send its body: the stdlib logs it and closes the connection
        except Exception as exc:
            log.warning("http_post_failed", path=path, exc_info=exc)
            reply = Reply(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": type(exc).__name__})
        # A refused request's body may be left unread, so the connection cannot carry another request.
        self._send_json(reply.status, reply.body, close=True, headers=reply.headers)

    def _serve(self, *, head: bool) -> None:
        path = urlsplit(self.path).path
        health = cast(_Server, self.server).health
        probes = {"/healthz": health.liveness, "/readyz": health.readiness}
        probe = probes.get(path)
        if probe is None:
            self._send_json(HTTPStatus.NOT_FOUND, {"error": "not found"}, head=head)
            return
        try:
            ok, details = probe()
        except Exception as exc:
            log.warning("health_probe_failed", path=path, exc_info=exc)
            body: dict[str, Any] = {"status": "error", "error": type(exc).__name__}
            self._send_json(HTTPStatus.INTERNAL_SERVER_ERROR, body, head=head)
            return
        body = {"status": "ok" if ok else "unavailable", **details}
        self._send_json(HTTPStatus.OK if ok else HTTPStatus.SERVICE_UNAVAILABLE, body, head=head)

    def _send_json(
        self, status: HTTPStatus, body: dict[str, Any], *, head: bool = False, close: bool = False,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        data = json.dumps(body, default=str).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        if status == HTTPStatus.METHOD_NOT_ALLOWED:
            self.send_header("Allow", "GET, HEAD")
        for name, value in headers:
            self.send_header(name, value)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if not head:
            self.wfile.write(data)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The stdlib's errors (bad request line, unknown method...) as JSON instead of HTML."""
        try:
            status = HTTPStatus(code)
        except ValueError:
            status = HTTPStatus.INTERNAL_SERVER_ERROR
        self.log_error("code %d, message %s", code, message)
        # No body where HTTP forbids one; `command` may be unset when the request line was unreadable.
        head = getattr(self, "command", None) == "HEAD" or code < 200 or code in (204, 304)
        self._send_json(status, {"error": message or status.phrase}, head=head, close=True)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        status = code.value if isinstance(code, HTTPStatus) else code
        log.debug(
            "http_request",
            method=getattr(self, "command", None),
            path=urlsplit(getattr(self, "path", "")).path,
            status=status,
            client=self.client_address[0],
        )

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("http_server_message", message=format % args, client=self.client_address[0])


class HttpServer:
    """Serves the probes (and ``post``'s paths) from a daemon thread; ``port`` is the bound port once started."""

    def __init__(self, host: str, port: int, health: HealthSource, post: PostHandler | None = None) -> None:
        self._host = host
        self._port = port
        self._health = health
        self._post = post
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port listened on (the one the OS picked when 0 was asked); before start, the one asked."""
        return self._port if self._server is None else int(self._server.server_address[1])

    def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("HTTP server already started")
        try:
            server = _Server((self._host, self._port), self._health, self._post)
        except OSError as exc:
            raise OSError(
                exc.errno,
                f"cannot listen on {self._host}:{self._port}: {exc.strerror or exc}; "
                "free the port or set service.http.host/port",
            ) from exc
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="lakewarden-http", daemon=True
        )
        thread.start()
        self._server, self._thread = server, thread
        log.info("http_started", host=self._host, port=self.port)

    def stop(self) -> None:
        """Stop accepting, close the socket and wait for the serving thread; a no-op if not running."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        port = self.port
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        self._server = self._thread = None
        log.info("http_stopped", host=self._host, port=port)
