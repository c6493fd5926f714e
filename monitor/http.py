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
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import Message
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BufferedIOBase
from typing import Any, Protocol, cast
from urllib.parse import urlsplit

import structlog

from config.basics.clock import Clock, utc_now
from monitor.logs import redact_text

__all__ = ["Health", "HealthSource", "HttpServer", "PostHandler", "Reply"]

log = structlog.get_logger(__name__)

_MAX_ERROR_CHARS = 500  # a model's error in /readyz: enough to act on, short enough for a probe


class HealthSource(Protocol):
    """What the probes ask. Each answer is ``(ok, details)``; details are JSON-able and shown as is."""

    def liveness(self) -> tuple[bool, dict[str, Any]]: ...

    def readiness(self) -> tuple[bool, dict[str, Any]]: ...


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


class Health:
    """The daemon's health, updated by the daemon and read by the HTTP threads (all under one lock).

    Live: always, while the process can answer; also while stopping, because a liveness failure
    gets the process killed and that would cut the graceful drain short.

    Ready: started and not stopping. A model whose source fails does *not* make the service unready:
    readiness decides whether the pod is kept in service, and a failing readiness probe ends in
    restarts or a pod taken out of rotation, for every model. One broken table (a typo in a table
    name, a revoked grant) is a problem of that model, which a restart does not fix and which must not
    stop the watching of the others. It shows in the details instead: status ``degraded`` and the
    model's error, e.g. ``{"status": "degraded", "models": {"churn": {"ok": false, "error": "..."}}}``.

    Not ready, though, while the state database cannot be written (``state_failed``, from the daemon's
    self-check): nothing can be judged, stored or notified then, and no alert can say so (the outbox
    lives in that database). Status ``state_unwritable`` with the reason under ``state``.

    Stale data (``stale_data`` findings of ``signals.freshness``) does not make the service unready
    either: a metric table that stopped getting windows is the data pipeline's problem, which no
    restart of lakewarden fixes, and the stale_data finding already reaches the model's alerts. But
    ``/readyz`` never says a plain ``ok`` over it: the stale streams are listed under the model
    (``"stale": ["the newest window of ... ended 3h ago, ..."]``) and the status is ``stale`` (or
    ``degraded`` when a source also failed).
    """

    def __init__(self, clock: Clock = utc_now) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._started = False
        self._stopping = False
        self._models: dict[str, dict[str, Any]] = {}
        self._state_error: str | None = None

    def set_started(self) -> None:
        with self._lock:
            self._started = True

    def set_stopping(self) -> None:
        with self._lock:
            self._stopping = True

    def model_ok(self, name: str, stale: Sequence[str] = ()) -> None:
        """The model's sources were read; ``stale``: its stale streams, in words (none: all fresh)."""
        entry: dict[str, Any] = {"ok": True, "checked_at": self._clock().isoformat()}
        if stale:
            entry["stale"] = [_short(text) for text in stale]
        with self._lock:
            self._models[name] = entry

    def model_failed(self, name: str, error: str, stale: Sequence[str] = ()) -> None:
        entry: dict[str, Any] = {"ok": False, "error": _short(error), "checked_at": self._clock().isoformat()}
        if stale:
            entry["stale"] = [_short(text) for text in stale]
        with self._lock:
            self._models[name] = entry

    def state_ok(self) -> None:
        with self._lock:
            self._state_error = None

    def state_failed(self, error: str) -> None:
        text = redact_text(error)[:_MAX_ERROR_CHARS]
        with self._lock:
            self._state_error = text

    def liveness(self) -> tuple[bool, dict[str, Any]]:
        with self._lock:
            phase = self._phase()
        return True, {"status": "ok", "phase": phase}

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        with self._lock:
            phase = self._phase()
            models = {name: dict(entry) for name, entry in sorted(self._models.items())}
            state_error = self._state_error
        ready = phase == "running" and state_error is None
        if phase != "running":
            status = phase
        elif state_error is not None:
            status = "state_unwritable"
        elif not all(entry["ok"] for entry in models.values()):
            status = "degraded"
        elif any(entry.get("stale") for entry in models.values()):
            status = "stale"
        else:
            status = "ok"
        details: dict[str, Any] = {"status": status, "phase": phase, "models": models}
        if state_error is not None:
            details["state"] = {"ok": False, "error": state_error}
        return ready, details

    def _phase(self) -> str:
        if self._stopping:
            return "stopping"
        return "running" if self._started else "starting"


def _short(text: str) -> str:
    """Errors may quote library messages: registered secrets and URL credentials are masked; long texts cut."""
    text = redact_text(text)
    return text if len(text) <= _MAX_ERROR_CHARS else text[: _MAX_ERROR_CHARS - 1] + "…"


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
