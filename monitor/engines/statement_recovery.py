"""A statement whose submit got no answer: find it by its tag in the query history and cancel it.

Every statement lakewarden submits ends in a comment ``/* lakewarden:<hex> */`` that is unique to it.
When the submit's HTTP request fails after it was sent (a read timeout: databricks-sdk does not repeat
a POST then, so the statement ran at most once), the statement id never came back, but the statement
may be running. The query history (``GET /api/2.0/sql/history/queries``, filtered to the warehouse and
to statements started since just before the submit) lists it with its text: every listed statement
carrying the tag is cancelled, so nothing lakewarden lost track of keeps running, and a write is never
running twice (the next poll starts a new one only after this one is cancelled or ended).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import structlog

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient

log = structlog.get_logger(__name__)

LOOKUPS = 3            # the history can lag the submit by a moment: look this many times
LOOKUP_PAUSE = 1.0     # seconds between looks
SKEW = timedelta(minutes=1)  # the history's clock and ours may differ a little


def new_tag() -> str:
    return f"lakewarden:{uuid.uuid4().hex}"


def tagged(sql: str, tag: str) -> str:
    """``sql`` with its tag as a trailing block comment (on its own line, after any ``--`` comment)."""
    return f"{sql}\n/* {tag} */"


def is_write(sql: str) -> bool:
    """Whether the statement changes data (it is then submitted with ``wait_timeout: 0s``)."""
    words = sql.lstrip().split(None, 1)
    return bool(words) and words[0].upper() in {"INSERT", "CREATE", "MERGE", "DELETE", "UPDATE", "DROP", "ALTER",
                                                "REPLACE", "TRUNCATE", "COPY", "OPTIMIZE"}


def is_lost_answer(exc: BaseException) -> bool:
    """A submit that was sent but whose answer never came (a read timeout, or a connection cut mid-answer)."""
    import requests  # noqa: PLC0415

    seen: BaseException | None = exc
    while seen is not None:
        # Not a bare TimeoutError: databricks-sdk raises that when 429/503 answers used up its retry
        # budget, and those answers mean the statement was never accepted.
        if isinstance(seen, (requests.Timeout, requests.exceptions.ChunkedEncodingError)):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def find_and_cancel(client: WorkspaceClient, warehouse_id: str, tag: str, submitted: datetime,
                    sleep: Callable[[float], object]) -> list[str]:
    """Cancel every statement of the warehouse carrying ``tag``; the ids cancelled (empty: not found)."""
    from databricks.sdk.service.sql import QueryFilter, TimeRange  # noqa: PLC0415 - slow import

    since = int((submitted - SKEW).timestamp() * 1000)
    wanted = QueryFilter(warehouse_ids=[warehouse_id], query_start_time_range=TimeRange(start_time_ms=since))
    for attempt in range(LOOKUPS):
        found = [str(q.query_id) for q in client.query_history.list(filter_by=wanted, max_results=1000).res or []
                 if q.query_id and tag in (q.query_text or "")]
        for statement_id in found:
            client.statement_execution.cancel_execution(statement_id)
            log.warning("lost_statement_cancelled", statement_id=statement_id, warehouse_id=warehouse_id)
        if found:
            return found
        if attempt + 1 < LOOKUPS:
            sleep(LOOKUP_PAUSE)
    return []
