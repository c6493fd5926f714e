"""Loopback servers that implement the channel contracts strictly (docs/external/notification-channels.md).

Each is a real HTTP(S) server on 127.0.0.1 that rejects what the real service would reject
(wrong content type, malformed or oversized payloads, bad credentials) and keeps state the tests
look at (Slack messages, PagerDuty incidents, Alertmanager alerts). ``fail_next`` queues a scripted
answer (or a hang, for timeouts) before the contract handling. ``hold`` keeps every 2xx answer back
for that many seconds after its effect is recorded: a client killed meanwhile has sent, but never
learns that it did (the crash-safety tests kill delivery workers there).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

Reply = tuple[int, dict[str, str], bytes]


def make_cert(folder: Path, name: str = "loopback") -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost (SAN IP:127.0.0.1): (cert, key) PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / f"{name}.crt", folder / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


@dataclass
class Fault:
    status: int = 500
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    hang: float = 0.0


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes
    method: str = "POST"

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def route(self) -> str:
        return urlsplit(self.path).path

    def query(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(urlsplit(self.path).query).items()}


class ContractServer:
    """Base: records requests, plays queued faults, else calls ``handle``."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.requests: list[Request] = []
        self.faults: list[Fault] = []
        self.released = threading.Event()
        self.lock = threading.Lock()
        self.hold = 0.0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self.do_POST()

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                request = Request(self.path, {k.lower(): v for k, v in self.headers.items()}, body,
                                  self.command)
                with owner.lock:
                    owner.requests.append(request)
                    fault = owner.faults.pop(0) if owner.faults else None
                if fault is not None and fault.hang:
                    owner.released.wait(fault.hang)
                status, headers, payload = ((fault.status, fault.headers, fault.body) if fault is not None
                                            else owner.handle(request))
                if owner.hold and 200 <= status < 300:
                    owner.released.wait(owner.hold)
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                    pass

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.scheme = "https" if tls is not None else "http"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def url(self, path: str = "") -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def fail_next(self, status: int = 500, body: bytes = b"", headers: dict[str, str] | None = None,
                  hang: float = 0.0) -> None:
        self.faults.append(Fault(status, body, headers or {}, hang))

    def handle(self, request: Request) -> Reply:
        raise NotImplementedError

    @contextmanager
    def running(self) -> Iterator[ContractServer]:
        self.thread.start()
        try:
            yield self
        finally:
            self.released.set()
            self.server.shutdown()
            self.server.server_close()


def json_reply(status: int, data: Any) -> Reply:
    return status, {"Content-Type": "application/json"}, json.dumps(data).encode()


def text_reply(status: int, text: str) -> Reply:
    return status, {"Content-Type": "text/plain"}, text.encode()


def is_json(request: Request) -> bool:
    return request.headers.get("content-type", "").split(";")[0].strip() == "application/json"


def blocks_error(blocks: Any) -> str | None:
    """Slack's Block Kit limits, as the API enforces them."""
    if blocks is None:
        return None
    if not isinstance(blocks, list) or len(blocks) > 50:
        return "invalid_blocks"
    if len(json.dumps(blocks)) > 13000:
        return "msg_blocks_too_long"
    for block in blocks:
        kind = block.get("type")
        if kind == "header" and (block["text"]["type"] != "plain_text" or len(block["text"]["text"]) > 150):
            return "invalid_blocks"
        if kind == "section":
            if "text" in block and len(block["text"]["text"]) > 3000:
                return "invalid_blocks"
            fields = block.get("fields", [])
            if len(fields) > 10 or any(len(f["text"]) > 2000 for f in fields):
                return "invalid_blocks"
        if kind not in ("header", "section", "context", "divider", "actions"):
            return "invalid_blocks"
    return None
