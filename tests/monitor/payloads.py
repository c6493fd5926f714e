"""Inference (payload) tables in the two Databricks schemas, from a list of simple request records."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa

START = datetime(2025, 6, 2, tzinfo=UTC)
TS = pa.timestamp("us", tz="UTC")

AI_GATEWAY = pa.schema([
    ("databricks_request_id", pa.string()), ("request_date", pa.date32()), ("client_request_id", pa.string()),
    ("request_time", TS), ("status_code", pa.int32()), ("sampling_fraction", pa.float64()),
    ("execution_duration_ms", pa.int64()), ("request", pa.string()), ("response", pa.string()),
    ("logging_error_codes", pa.list_(pa.string())), ("served_entity_id", pa.string()), ("requester", pa.string()),
])
LEGACY = pa.schema([
    ("databricks_request_id", pa.string()), ("client_request_id", pa.string()), ("date", pa.date32()),
    ("timestamp_ms", pa.int64()), ("status_code", pa.int32()), ("sampling_fraction", pa.float64()),
    ("execution_time_ms", pa.int64()), ("request", pa.string()), ("response", pa.string()),
    ("request_metadata", pa.map_(pa.string(), pa.string())),
])


@dataclass
class Call:
    """One logged request."""

    request_id: str
    at: datetime
    status: int = 200
    ms: int = 20
    request: Any = field(default_factory=lambda: {"dataframe_records": [{"age": 30}]})
    response: Any = field(default_factory=lambda: {"predictions": [0.5]})
    logging_errors: list[str] = field(default_factory=list)
    entity: str = "churn-1"


def at(hours: float) -> datetime:
    return START + timedelta(hours=hours)


def _text(value: Any) -> str | None:
    return value if value is None or isinstance(value, str) else json.dumps(value)


def ai_gateway(calls: list[Call]) -> pa.Table:
    return pa.Table.from_pylist([{
        "databricks_request_id": c.request_id, "request_date": c.at.date(), "client_request_id": None,
        "request_time": c.at, "status_code": c.status, "sampling_fraction": 1.0, "execution_duration_ms": c.ms,
        "request": _text(c.request), "response": _text(c.response), "logging_error_codes": c.logging_errors,
        "served_entity_id": c.entity, "requester": "someone"} for c in calls], schema=AI_GATEWAY)


def legacy(calls: list[Call]) -> pa.Table:
    return pa.Table.from_pylist([{
        "databricks_request_id": c.request_id, "client_request_id": None, "date": c.at.date(),
        "timestamp_ms": int(c.at.timestamp() * 1000), "status_code": c.status, "sampling_fraction": 1.0,
        "execution_time_ms": c.ms, "request": _text(c.request), "response": _text(c.response),
        "request_metadata": [("model_name", "churn"), ("model_version", c.entity)]} for c in calls], schema=LEGACY)
