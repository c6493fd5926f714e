"""Assessments and source watermarks, stored together so a window is judged exactly once.

The watermark moves in the same transaction that stores the window's assessment: a crash after the
read and before the write means the window is read again on the next poll, never skipped.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from monitor import schema
from monitor.risk import Assessment


class AssessmentStore:
    def __init__(self, engine: sa.Engine, clock: Callable[[], datetime]) -> None:
        self._engine = engine
        self._clock = clock

    def watermark(self, model: str, source: str) -> datetime | None:
        table = schema.watermarks
        with self._engine.connect() as conn:
            value = conn.execute(
                sa.select(table.c.window_end).where(table.c.model == model, table.c.source == source)
            ).scalar()
        return _utc(value) if value is not None else None

    def save(self, assessment: Assessment, source: str) -> bool:
        """Store the assessment and move the watermark; False when this window was already judged."""
        now = self._clock()
        table, marks = schema.assessments, schema.watermarks
        with self._engine.begin() as conn:
            exists = conn.execute(sa.select(table.c.id).where(
                table.c.model == assessment.model, table.c.granularity == assessment.granularity,
                table.c.window_start == assessment.window_start, table.c.window_end == assessment.window_end,
            )).first()
            if exists is None:
                conn.execute(sa.insert(table).values(
                    model=assessment.model, granularity=assessment.granularity,
                    window_start=assessment.window_start, window_end=assessment.window_end,
                    risk=assessment.risk, severity=assessment.severity,
                    findings=assessment.findings_json(), skipped=assessment.skipped_json(),
                    inputs=_jsonable(assessment.inputs), created_at=now,
                ))
            moved = conn.execute(sa.update(marks).where(marks.c.model == assessment.model, marks.c.source == source)
                                 .values(window_end=assessment.window_end, updated_at=now)).rowcount
            if not moved:
                conn.execute(sa.insert(marks).values(model=assessment.model, source=source,
                                                     window_end=assessment.window_end, updated_at=now))
        return exists is None

    def latest(self, model: str) -> dict[str, Any] | None:
        rows = self.history(model, limit=1)
        return rows[0] if rows else None

    def history(self, model: str, limit: int = 50) -> list[dict[str, Any]]:
        table = schema.assessments
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(table).where(table.c.model == model)
                                .order_by(table.c.window_end.desc(), table.c.id.desc()).limit(limit)).mappings()
            return [dict(r) for r in rows]

    def audit(self, kind: str, subject: str, detail: dict[str, Any]) -> None:
        with self._engine.begin() as conn:
            conn.execute(sa.insert(schema.audit).values(at=self._clock(), kind=kind, subject=subject,
                                                        detail=_jsonable(detail)))


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no NaN/inf; keep what was seen, as text
    if isinstance(value, datetime):
        return value.isoformat()
    return value
