"""Which rows of a profile metrics table are the baseline's: the documented rule, and what is not confirmed.

Documented (Lakehouse Monitoring's profile metrics table): a row about the baseline table has
``log_type = 'BASELINE'``; a row about the monitored table has ``log_type = 'INPUT'``.

Not confirmed by the documentation, and therefore decided here and nowhere else:

- ``granularity`` on baseline rows: one baseline row set per granularity of the monitor, or rows with
  a NULL granularity. Rows of the stream's own granularity are used when there are any; otherwise the
  rows with a NULL granularity.
- ``window`` on baseline rows: documented as NULL in the table description we follow, but not relied
  on: a baseline row is recognised by ``log_type`` alone, whatever its window.
- Several baseline row sets for one column and slice (an older monitor version left behind, a
  baseline recomputed for a newer window): the newest monitor version wins, then the latest window.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

Row = dict[str, Any]

def baseline_rows_sql(granularities: str) -> str:
    """The baseline part of the profile rows query: ``granularities`` is the SQL list of the streams'
    granularities (bound parameters, such as ``:p_g0, :p_g1``); rows with a NULL granularity too."""
    return f"(log_type = 'BASELINE' AND (granularity IN ({granularities}) OR granularity IS NULL))"


def baseline_rows(rows: Iterable[Row], granularity: str) -> list[Row]:
    """The baseline's rows for a stream of ``granularity``, one per (slice, model id, column)."""
    baseline = [r for r in rows if r.get("log_type") == "BASELINE"]
    own = [r for r in baseline if r.get("granularity") == granularity]
    chosen = own or [r for r in baseline if r.get("granularity") is None]
    best: dict[tuple[Any, ...], Row] = {}
    for row in chosen:
        key = (row.get("slice_key"), row.get("slice_value"), row.get("model_id"), row["column_name"])
        kept = best.get(key)
        if kept is None or _rank(row) > _rank(kept):
            best[key] = row
    return list(best.values())


def _rank(row: Row) -> tuple[int, str]:
    return (row.get("row_version") or -1, str(row.get("window_end") or ""))
