"""The baseline's rows of a profile metrics table: log_type BASELINE, the stream's granularity first."""

from __future__ import annotations

from typing import Any

from monitor.sources.baseline_rule import baseline_rows


def row(column: str, granularity: str | None, version: int = 1, **extra: Any) -> dict[str, Any]:
    return {"log_type": "BASELINE", "column_name": column, "granularity": granularity, "row_version": version,
            "window_end": None, **extra}


def test_rows_of_the_streams_granularity_win_over_rows_without_one() -> None:
    rows = [row("age", None), row("age", "1 hour"), row("age", "1 day"),
            {**row("age", "1 hour"), "log_type": "INPUT"}]
    assert baseline_rows(rows, "1 hour") == [row("age", "1 hour")]
    assert baseline_rows(rows, "1 week") == [row("age", None)]  # no set of its own: the one without


def test_the_newest_monitor_version_then_the_latest_window_is_kept_per_column_and_slice() -> None:
    rows = [row("age", "1 hour", 1), row("age", "1 hour", 3), row("age", "1 hour", 2),
            row("age", "1 hour", 3, window_end="2026-01-02"), row("age", "1 hour", 1, slice_key="region")]
    kept = baseline_rows(rows, "1 hour")
    assert row("age", "1 hour", 3, window_end="2026-01-02") in kept and len(kept) == 2
