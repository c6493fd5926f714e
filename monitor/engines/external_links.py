"""EXTERNAL_LINKS + ARROW_STREAM results: chunks fetched from short-lived cloud-storage links, in order.

Each chunk of a result is an Arrow IPC stream behind a presigned URL (``external_link``) that expires
(``expiration``, at most 15 minutes) and may need ``http_headers`` (e.g. an encryption key). The
link carries its own credential: it is fetched with a plain HTTP client and *no* Authorization
header, and neither the URL nor the headers ever reach a log line or an error message (only the
statement id, the chunk index and the HTTP status do; urllib3's own DEBUG request lines pass the
log redactor of ``monitor.logs``, which masks signature query values such as ``X-Amz-Signature``
and ``sig``). A link that has expired, or that storage refuses (403/404/400), is asked again from
the workspace (``get_statement_result_chunk_n``) once per chunk; chunks are read by
``chunk_index`` from 0 to the manifest's ``total_chunk_count``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.ipc

from config.basics.clock import Clock, utc

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient

EXPIRY_MARGIN = timedelta(seconds=10)  # a link this close to its expiry is asked for again before use
_REFUSED = (400, 403, 404, 410)


class LinkError(Exception):
    """A chunk could not be fetched; the message names the statement and chunk, never the link."""


def _expired(link: Any, now: datetime) -> bool:
    if not link.expiration:
        return False
    try:
        ends = utc(datetime.fromisoformat(str(link.expiration).replace("Z", "+00:00")))
    except ValueError:
        return False
    return ends - EXPIRY_MARGIN <= now


class ChunkReader:
    """Reads every chunk of one statement's EXTERNAL_LINKS result into one Arrow table."""

    def __init__(self, client: WorkspaceClient, statement_id: str, clock: Clock, timeout: float,
                 get: Callable[..., Any] | None = None) -> None:
        import requests  # noqa: PLC0415

        self._client = client
        self._statement_id = statement_id
        self._clock = clock
        self._timeout = timeout
        self._session = requests.Session()  # its own: never the SDK's, which adds the workspace's auth
        self._get = get or self._session.get

    def read(self, first_links: list[Any], chunk_count: int) -> list[pa.Table]:
        links = {int(link.chunk_index or 0): link for link in first_links}
        tables = []
        try:
            for index in range(chunk_count):
                link = links.get(index) or self._ask(index)
                tables.append(self._fetch(index, link))
        finally:
            self._session.close()
        return tables

    def _ask(self, index: int) -> Any:
        try:
            data = self._client.statement_execution.get_statement_result_chunk_n(self._statement_id, index)
        except Exception as exc:
            raise LinkError(f"asking the workspace for chunk {index} of statement {self._statement_id} failed: "
                            f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from None
        for link in data.external_links or []:
            if int(link.chunk_index or 0) == index and link.external_link:
                return link
        raise LinkError(f"the workspace gave no link for chunk {index} of statement {self._statement_id}")

    def _fetch(self, index: int, link: Any) -> pa.Table:
        for attempt in (1, 2):
            if _expired(link, self._clock()):
                link = self._ask(index)
            status, body = self._download(index, link)
            if status == 200:
                try:
                    return pyarrow.ipc.open_stream(pa.BufferReader(body)).read_all()
                except pa.ArrowInvalid as exc:
                    raise LinkError(f"chunk {index} of statement {self._statement_id} is not an Arrow stream: "
                                    f"{exc}") from None
            if status in _REFUSED and attempt == 1:
                link = self._ask(index)  # expired early or refused: a fresh link, once
                continue
            break
        raise LinkError(f"cloud storage answered HTTP {status} for chunk {index} of statement {self._statement_id}"
                        " (the link is not shown: it carries a credential)")

    def _download(self, index: int, link: Any) -> tuple[int, bytes]:
        try:
            answer = self._get(link.external_link, headers=dict(link.http_headers or {}), timeout=self._timeout)
        except Exception as exc:  # the exception's text holds the URL: only its type is told
            raise LinkError(f"downloading chunk {index} of statement {self._statement_id} from cloud storage failed: "
                            f"{type(exc).__name__} (is cloud storage reachable from here? the link is not shown: "
                            "it carries a credential)") from None
        return int(answer.status_code), bytes(answer.content) if answer.status_code == 200 else b""
