"""Inference (payload) tables: the two schemas, and the per-window serving metrics as SQL.

AI Gateway ``<prefix>_payload``: ``request_time`` timestamp, ``request_date`` date (the partition),
``status_code``, ``sampling_fraction``, ``execution_duration_ms``, ``logging_error_codes``,
``served_entity_id``. Legacy auto-capture: ``timestamp_ms`` (epoch milliseconds), ``date``,
``status_code``, ``sampling_fraction``, ``execution_time_ms``, ``request_metadata`` (a map; the key
``model_version`` is unconfirmed and kept here only).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from monitor.engines.base import EngineError

PayloadKind = Literal["ai_gateway", "legacy"]
LEGACY_MODEL_KEY = "model_version"  # request_metadata key naming the served model version (unconfirmed)
QUANTILES = {"p50": 0.5, "p90": 0.9, "p99": 0.99}


@dataclass(frozen=True)
class PayloadSchema:
    kind: PayloadKind
    required: tuple[str, ...]
    ts_sql: str
    duration_sql: str
    date_column: str
    logging_sql: str | None
    model_sql: str

    def filters(self, served_entity: str | None) -> tuple[str, dict[str, Any]]:
        sql = (f"`{self.date_column}` >= :since_date AND `{self.date_column}` <= :until_date "
               f"AND {self.ts_sql} >= :since AND {self.ts_sql} < :until")
        if served_entity is None:
            return sql, {}
        return f"{sql} AND {self.model_sql} = :served_entity", {"served_entity": served_entity}


AI_GATEWAY = PayloadSchema(
    kind="ai_gateway",
    required=("request_time", "request_date", "status_code", "execution_duration_ms"),
    ts_sql="`request_time`", duration_sql="`execution_duration_ms`", date_column="request_date",
    logging_sql="coalesce(size(`logging_error_codes`), 0) > 0", model_sql="`served_entity_id`",
)
LEGACY = PayloadSchema(
    kind="legacy",
    required=("timestamp_ms", "date", "status_code", "execution_time_ms"),
    ts_sql="timestamp_millis(`timestamp_ms`)", duration_sql="`execution_time_ms`", date_column="date",
    logging_sql=None, model_sql=f"`request_metadata`['{LEGACY_MODEL_KEY}']",
)


def detect(table: str, columns: dict[str, str], wanted: str) -> PayloadSchema:
    """The payload schema of ``table``: the configured one (checked), or whichever the columns fit."""
    present = {c.lower() for c in columns}
    candidates = [AI_GATEWAY, LEGACY] if wanted == "auto" else [s for s in (AI_GATEWAY, LEGACY) if s.kind == wanted]
    for schema in candidates:
        if all(c in present for c in schema.required):
            if schema.logging_sql is not None and "logging_error_codes" not in present:
                return replace(schema, logging_sql=None)
            return schema
    expected = "; ".join(f"{s.kind}: {', '.join(s.required)}" for s in candidates)
    raise EngineError(f"table {table} is not an inference (payload) table: expected the columns of {expected}, "
                      f"found {', '.join(sorted(columns)) or 'none'}")


def metrics_sql(ref: str, schema: PayloadSchema, start_sql: str,
                served_entity: str | None) -> tuple[str, dict[str, Any]]:
    """Per window: requests, estimated requests (1/sampling_fraction), latency quantiles, logging errors, newest row."""
    where, params = schema.filters(served_entity)
    logging = f"count_if({schema.logging_sql})" if schema.logging_sql else "CAST(NULL AS BIGINT)"
    quantiles = ", ".join(str(q) for q in QUANTILES.values())
    sql = (f"SELECT {start_sql} AS window_start, count(1) AS requests, "
           "sum(CASE WHEN sampling_fraction > 0 THEN 1.0 / sampling_fraction ELSE 1.0 END) AS estimated, "
           f"percentile_approx({schema.duration_sql}, array({quantiles})) AS latency, "
           f"{logging} AS logging_errors, max({schema.ts_sql}) AS newest "
           f"FROM {ref} WHERE {where} GROUP BY 1")
    return sql, params


def status_sql(ref: str, schema: PayloadSchema, start_sql: str,
               served_entity: str | None) -> tuple[str, dict[str, Any]]:
    where, params = schema.filters(served_entity)
    sql = (f"SELECT {start_sql} AS window_start, status_code, count(1) AS n "
           f"FROM {ref} WHERE {where} GROUP BY 1, 2")
    return sql, params


def range_params(since: datetime, until: datetime) -> dict[str, Any]:
    return {"since": since, "until": until, "since_date": since.date(), "until_date": until.date()}


def newest_sql(ref: str, schema: PayloadSchema, served_entity: str | None, since: datetime | None,
               until: datetime | None = None) -> tuple[str, dict[str, Any]]:
    """The newest request's time (NULL when none); with ``since``, only the partitions from its date on are
    read; with ``until``, later requests are left out (a replay as of that time)."""
    clauses: list[str] = []
    params: dict[str, Any] = {}
    if until is not None:
        clauses.append(f"{schema.ts_sql} <= :until")
        params["until"] = until
    if since is not None:
        clauses.append(f"`{schema.date_column}` >= :since_date AND {schema.ts_sql} >= :since")
        params.update(since=since, since_date=since.date())
    if served_entity is not None:
        clauses.append(f"{schema.model_sql} = :served_entity")
        params["served_entity"] = served_entity
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    return f"SELECT max({schema.ts_sql}) AS newest FROM {ref}{where}", params
