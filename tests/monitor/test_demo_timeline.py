"""The demo's timeline prints every notification the outbox finished with, once, whatever order they finish in."""

from __future__ import annotations

import io
from typing import Any

from monitor.demo.timeline import Timeline


def row(row_id: int, status: str = "done", reason: str = "first", superseded_by: int | None = None) -> dict[str, Any]:
    return {"id": row_id, "status": status, "receiver": "on-call", "channel_kind": "file",
            "superseded_by": superseded_by, "last_error": "HTTP 401" if status == "dead" else None,
            "payload": {"status": "firing", "reason": reason,
                        "commonLabels": {"alertname": "ModelAtRisk", "model": "churn", "severity": "high"}}}


def test_rows_finishing_out_of_order_are_each_printed_once_with_why() -> None:
    out = io.StringIO()
    timeline = Timeline(out)
    timeline.on_outbox_rows([row(2, reason="repeat")])  # row 1 is still being sent
    timeline.on_outbox_rows([row(1), row(2, reason="repeat"), row(3, superseded_by=4), row(5, status="dead")])
    assert out.getvalue().splitlines() == [
        "      sent     on-call/file: FIRING ModelAtRisk{model=churn,severity=high} (repeat)",
        "      sent     on-call/file: FIRING ModelAtRisk{model=churn,severity=high} (first)",
        "      not sent on-call/file: FIRING ModelAtRisk{model=churn,severity=high} (first), replaced by a newer "
        "notification",
        "      DEAD     on-call/file: FIRING ModelAtRisk{model=churn,severity=high} (first): HTTP 401",
    ]
    assert timeline.sent == 2
