"""Serving the ASGI app with uvicorn from a background thread, with limits against slow or many clients.

The socket is bound here, before uvicorn starts, so a port in use is an ``OSError`` that names the
address (uvicorn would log it and exit the process). uvicorn runs its own event loop in a thread
named ``lakewarden-http``; ``stop`` asks it to exit (in-flight requests finish, for up to
``grace`` seconds) and waits for the thread.

Limits: a client gets ``header_timeout`` to send its request line and headers (uvicorn has no such
timer: its keep-alive timer only runs between requests), idle keep-alive connections close after 5 s,
more than ``max_connections`` open at once get a 503, a header block over 64 KiB is a 400 (h11), and
each part of a body must arrive within ``header_timeout`` (``monitor.web.bodies``). Slow clients
cost a coroutine each, never a thread.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import structlog
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

log = structlog.get_logger(__name__)

_MAX_HEADER_BYTES = 64 * 1024


class _TimedH11(H11Protocol):
    """uvicorn's h11 protocol, closing a connection whose request line and headers take too long."""

    header_timeout = 10.0  # set per server by :func:`_protocol`

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_timer: asyncio.TimerHandle | None = None
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._header_timer is None and self._between_requests():
            self._arm()  # a new request begins on a kept-alive connection
        super().data_received(data)
        if not self._between_requests() and self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        super().connection_lost(exc)

    def _between_requests(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _arm(self) -> None:
        self._header_timer = self.loop.call_later(self.header_timeout, self._too_slow)

    def _too_slow(self) -> None:
        self._header_timer = None
        if self._between_requests() and not self.transport.is_closing():
            log.debug("http_header_timeout", client=self.client[0] if self.client else None)
            self.transport.close()


def _protocol(header_timeout: float) -> type[H11Protocol]:
    return type("TimedH11", (_TimedH11,), {"header_timeout": header_timeout})


class WebServer:
    """Serves ``app`` on ``host:port`` from a daemon thread; ``port`` is the bound port once started."""

    def __init__(self, host: str, port: int, app: Any, *, header_timeout: float = 10.0,
                 max_connections: int = 256, grace: float = 5.0,
                 on_stop: Callable[[], None] | None = None) -> None:
        self._host = host
        self._on_stop = on_stop
        self._port = port
        self._app = app
        self._header_timeout = header_timeout
        self._max_connections = max_connections
        self._grace = grace
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def port(self) -> int:
        """The port listened on (the one the OS picked when 0 was asked); before start, the one asked."""
        return self._port if self._socket is None else int(self._socket.getsockname()[1])

    def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("HTTP server already started")
        sock = self._bind()
        config = uvicorn.Config(
            self._app, http=_protocol(self._header_timeout), lifespan="off", log_config=None, access_log=False,
            server_header=False, date_header=True, timeout_keep_alive=5, limit_concurrency=self._max_connections,
            timeout_graceful_shutdown=max(1, round(self._grace)), h11_max_incomplete_event_size=_MAX_HEADER_BYTES,
            proxy_headers=False, ws="none",
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="lakewarden-http", daemon=True)
        self._server, self._thread, self._socket = server, thread, sock
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        if not server.started:
            self.stop()
            raise RuntimeError("the HTTP server did not start within 10 s; see the log above")
        log.info("http_started", host=self._host, port=self.port)

    def _bind(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self._host, self._port))
            sock.listen(128)
        except OSError as exc:
            sock.close()
            raise OSError(
                exc.errno,
                f"cannot listen on {self._host}:{self._port}: {exc.strerror or exc}; "
                "free the port or set service.http.host/port",
            ) from exc
        sock.set_inheritable(True)
        return sock

    def stop(self) -> None:
        """Stop accepting, let in-flight requests finish (up to the grace), close the socket; idempotent."""
        server, thread, sock = self._server, self._thread, self._socket
        if server is None or thread is None or sock is None:
            return
        port = self.port
        server.should_exit = True
        thread.join(timeout=self._grace + 5)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout=2)
        sock.close()
        self._server = self._thread = self._socket = None
        if self._on_stop is not None:
            self._on_stop()
        log.info("http_stopped", host=self._host, port=port)
