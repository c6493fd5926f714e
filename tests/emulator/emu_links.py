"""Presigned-style result links for EXTERNAL_LINKS statements, served on the emulator's own port.

A link is ``{url}/emu-storage/{token}?X-Emu-Expires=...&X-Emu-Signature=...``, like a cloud-storage
presigned URL: it carries its own credential, so storage refuses a request that also sends an
``Authorization`` header (400, as S3 does), refuses one without the ``http_headers`` it came with
(403), and refuses it past its ``expiration`` on the emulator clock (403 "Request has expired").
``early_expiry`` makes storage refuse the first link of each chunk as expired although its
``expiration`` is still ahead (clock skew); ``lifetime`` sets how long links live. Every chunk
download is counted in ``downloads`` (chunk index per request, in order).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from emu_clock import EmuClock
from emu_http import ApiError, Request, Router

PREFIX = "/emu-storage/"
KEY_HEADER = "x-emu-server-side-encryption-key"


@dataclass
class Link:
    statement_id: str
    chunk_index: int
    expires: float
    key: str
    body: Callable[[], bytes]
    refuse: bool = False


class Links:
    def __init__(self, clock: EmuClock, url: Callable[[], str]) -> None:
        self.clock = clock
        self._url = url
        self.lifetime = 900.0  # seconds: the API promises at most 15 minutes
        self.early_expiry = False
        self.downloads: list[int] = []
        self._issued: dict[str, Link] = {}
        self._refused_once: set[tuple[str, int]] = set()
        self._lock = threading.Lock()

    def register(self, router: Router) -> None:
        router.add("GET", PREFIX + "{token}", self._download)
        router.public_prefixes += (PREFIX,)

    def issue(self, statement_id: str, index: int, row_offset: int, row_count: int, byte_count: int,
              next_index: int | None, body: Callable[[], bytes]) -> dict[str, Any]:
        """A fresh link for one chunk, as the ``external_links`` item the API answers."""
        token, key = secrets.token_hex(12), secrets.token_hex(8)
        expires = self.clock.now() + self.lifetime
        with self._lock:
            first = (statement_id, index) not in self._refused_once
            self._refused_once.add((statement_id, index))
            self._issued[token] = Link(statement_id, index, expires, key, body, refuse=self.early_expiry and first)
        stamp = datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        link: dict[str, Any] = {
            "chunk_index": index, "row_offset": row_offset, "row_count": row_count, "byte_count": byte_count,
            "external_link": f"{self._url()}{PREFIX}{token}?X-Emu-Expires={int(expires)}&X-Emu-Signature="
                             f"{secrets.token_hex(16)}",
            "expiration": stamp, "http_headers": {KEY_HEADER: key}}
        if next_index is not None:
            link["next_chunk_index"] = next_index
            link["next_chunk_internal_link"] = f"/api/2.0/sql/statements/{statement_id}/result/chunks/{next_index}"
        return link

    def _download(self, request: Request) -> tuple[int, Any]:
        if "authorization" in request.headers:
            raise ApiError(400, "InvalidArgument", "Only one auth mechanism allowed; only the X-Emu-Signature "
                           "query parameter should be specified")
        with self._lock:
            link = self._issued.get(request.params["token"])
        if link is None:
            raise ApiError(404, "NoSuchKey", "The specified key does not exist.")
        if link.refuse or self.clock.now() >= link.expires:
            raise ApiError(403, "AccessDenied", "Request has expired")
        if request.headers.get(KEY_HEADER) != link.key:
            raise ApiError(403, "AccessDenied", "The server-side encryption key is missing or wrong")
        with self._lock:
            self.downloads.append(link.chunk_index)
        return 200, link.body()
