"""Query history (``GET /api/2.0/sql/history/queries``): the statements of the emulated warehouses.

Filters ``filter_by.warehouse_ids`` and ``filter_by.query_start_time_range.start_time_ms`` (one value
each, dot notation as databricks-sdk sends them); newest first, as the API lists them. ``lag`` hides
statements younger than that many seconds (the real history is not instant).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from emu_http import Request, Router

_STATUS = {"PENDING": "QUEUED", "RUNNING": "RUNNING", "SUCCEEDED": "FINISHED", "FAILED": "FAILED",
           "CANCELED": "CANCELED", "CLOSED": "FINISHED"}


class History:
    def __init__(self, statements: Callable[[], list[Any]], now_ms: Callable[[], int]) -> None:
        self._statements = statements
        self._now_ms = now_ms
        self.lag = 0.0

    def register(self, router: Router) -> None:
        router.add("GET", "/api/2.0/sql/history/queries", self._list)

    def _list(self, request: Request) -> tuple[int, Any]:
        warehouse = request.query.get("filter_by.warehouse_ids")
        since = int(request.query.get("filter_by.query_start_time_range.start_time_ms") or 0)
        visible_before = self._now_ms() - int(self.lag * 1000)
        found = [s for s in self._statements() if (warehouse is None or s.warehouse_id == warehouse)
                 and since <= s.started_ms <= visible_before]
        found.sort(key=lambda s: s.started_ms, reverse=True)
        return 200, {"res": [{"query_id": s.statement_id, "status": _STATUS.get(s.state, "RUNNING"),
                              "query_text": s.sql, "warehouse_id": s.warehouse_id, "endpoint_id": s.warehouse_id,
                              "query_start_time_ms": s.started_ms} for s in found],
                     "has_next_page": False}
