"""``monitor.web.reads.latest_streams`` on SQLite and PostgreSQL: the newest window of every model and
stream, found by index seeks, is the one a scan of every row finds (ties on the end: the newest id)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from monitor import schema
from monitor.state import open_store
from monitor.web import reads

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def _row(model: str, stream: str, start: datetime, hours: int, risk: float) -> dict[str, Any]:
    return {"model": model, "stream": stream, "granularity": f"{hours} hour", "window_start": start,
            "window_end": start + timedelta(hours=hours), "version": "1", "revision": 1, "risk": risk,
            "severity": "low", "findings": [{"tier": "medium", "n": risk}], "skipped": [], "inputs": {},
            "measures": {}, "row_count": 1, "state_firing": False, "state_severity": "low", "state_reason": "",
            "alert_severity": "low", "created_at": T0, "updated_at": T0}


def test_the_newest_window_of_every_model_and_stream(state_url: str) -> None:
    engine = open_store(state_url, {"monitor": schema.MIGRATIONS}).engine
    shuffle = random.Random(7)
    rows = []
    for m in range(12):
        # models with one to three streams, names that sort in between (``m1``, ``m10``, ``m1:x``)
        model = ["m1", "m10", "m1:x", "m2", "a", "z" * 120][m % 6] + ("" if m < 6 else "-b")
        for s in range(1 + m % 3):
            stream = ["lakehouse:main.ml.t", "inference:main.ml.t_payload", "freshness"][s]
            for h in shuffle.sample(range(40), 10 + m):
                rows.append(_row(model, stream, T0 + timedelta(hours=h), 1, float(h + m)))
    shuffle.shuffle(rows)
    # two windows ending at the same instant, the later one written second (a higher id)
    rows += [_row("m2", "lakehouse:main.ml.t", T0 + timedelta(hours=45), 1, 1.0),
             _row("m2", "lakehouse:main.ml.t", T0 + timedelta(hours=43), 3, 999.0)]
    with engine.begin() as conn:
        conn.execute(schema.window_assessments.insert(), rows)
        every = conn.execute(sa.select(schema.window_assessments)).all()
        found = reads.latest_streams(conn)
    expected: dict[tuple[str, str], Any] = {}
    for row in every:
        key = (row.model, row.stream)
        if key not in expected or (row.window_end, row.id) > (expected[key].window_end, expected[key].id):
            expected[key] = row
    assert [(x.model, x.stream) for x in found] == sorted(expected)
    assert [(x.window_start, x.window_end, x.risk, x.findings) for x in found] == [
        (r.window_start, r.window_end, r.risk, tuple(r.findings)) for _, r in sorted(expected.items())]
    assert any(x.risk == 999.0 for x in found)  # the tie on the end went to the newest id
    engine.dispose()
