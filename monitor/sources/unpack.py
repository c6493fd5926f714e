"""Unpack request and response JSON of a payload table into a processed table, in the engine.

One row per scored record, from the four request shapes (``dataframe_split {columns, data}``,
``dataframe_records [...]``, ``instances [...]``, ``inputs``: records, rows of values in the
configured column order, or columns ``{name: [values]}``) and ``{"predictions": [...]}`` responses
(scalars, or objects with ``prediction_field``). Only successful requests (status 200) are unpacked.
Values are cast with ``try_cast``: a value that does not fit its type becomes NULL (a data quality
finding later), never a failed cycle. Rows already in the processed table (by request id and
position) are not written again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from config.basics.clock import utc
from config.sources import InferenceSource, ProcessedTable
from monitor.engines.base import Engine
from monitor.engines.identifiers import quote_ident
from monitor.sources.payload import PayloadSchema, range_params

REQUEST_TYPE = ("struct<dataframe_split:struct<columns:array<string>,data:array<array<string>>>,"
                "dataframe_records:array<string>,instances:array<string>,inputs:string>")
RESPONSE_TYPE = "struct<predictions:array<string>>"
SQL_TYPES = {"double": "DOUBLE", "float": "FLOAT", "bigint": "BIGINT", "int": "INT", "string": "STRING",
             "boolean": "BOOLEAN"}


@runtime_checkable
class SparkWriter(Protocol):
    """An engine that can append a query's result to a table without pulling it into Python."""

    @property
    def spark(self) -> Any: ...

    def write(self, name: str, data: Any, mode: Any = "append") -> None: ...


def _record(rec: str, names: str, width: int) -> str:
    """A record given as an object, or as a list of values in the configured column order."""
    values = f"from_json({rec}, 'array<string>')"
    return (f"CASE WHEN startswith(ltrim({rec}), '{{') THEN from_json({rec}, 'map<string,string>') "
            f"WHEN size({values}) = {width} THEN map_from_arrays({names}, {values}) END")


def unpack_sql(ref: str, schema: PayloadSchema, cfg: InferenceSource, processed_ref: str | None
               ) -> tuple[str, dict[str, Any]]:
    out = cfg.processed
    if out is None:
        raise ValueError("sources.inference.processed is not configured")
    where, params = schema.filters(cfg.served_entity)
    names_list = []
    for index, column in enumerate(out.columns):
        params[f"c{index}"] = column
        names_list.append(f":c{index}")
    names, width = f"array({', '.join(names_list)})", len(out.columns)
    keep = "request_id, ts, model_id, preds"
    split = "req.dataframe_split"
    instances = "LATERAL VIEW posexplode(req.instances) x AS pos, rec"
    listed = "LATERAL VIEW posexplode(from_json(req.inputs, 'array<string>')) x AS pos, rec"
    columnar = ("map_from_arrays(map_keys(cols), transform(map_values(cols), v -> try_element_at(v, pos + 1)))")
    column_rows = "array_repeat(0, coalesce(size(try_element_at(map_values(cols), 1)), 0))"
    rows = " UNION ALL ".join([
        f"SELECT {keep}, pos, CASE WHEN size({split}.columns) = size(rec) THEN map_from_arrays({split}.columns, rec) "
        f"END AS f FROM src LATERAL VIEW posexplode({split}.data) x AS pos, rec",
        f"SELECT {keep}, pos, from_json(rec, 'map<string,string>') AS f "
        "FROM src LATERAL VIEW posexplode(req.dataframe_records) x AS pos, rec",
        f"SELECT {keep}, pos, {_record('rec', names, width)} AS f FROM src {instances}",
        f"SELECT {keep}, pos, {_record('rec', names, width)} AS f FROM src {listed} "
        "WHERE startswith(ltrim(req.inputs), '[')",
        f"SELECT {keep}, pos, {columnar} AS f FROM (SELECT *, from_json(req.inputs, 'map<string,array<string>>') "
        "AS cols FROM src WHERE startswith(ltrim(req.inputs), '{')) c "
        f"LATERAL VIEW posexplode({column_rows}) x AS pos, one",
    ])
    prediction = "try_element_at(preds, pos + 1)"
    if out.prediction_field is not None:
        params["prediction_path"] = f"$.{out.prediction_field}"
        prediction = f"get_json_object({prediction}, :prediction_path)"
    features = [f"try_cast(try_element_at(f, :c{i}) AS {SQL_TYPES[kind]}) AS {quote_ident(column)}"
                for i, (column, kind) in enumerate(out.columns.items())]
    select = ", ".join([
        "r.request_id AS request_id", "r.pos AS position", f"r.ts AS {quote_ident(out.timestamp_column)}",
        f"r.model_id AS {quote_ident(out.model_id_column)}", *features,
        f"try_cast({prediction} AS {SQL_TYPES[out.prediction_type]}) AS {quote_ident(out.prediction_column)}",
    ])
    done = ""
    if processed_ref is not None:
        done = (f" LEFT ANTI JOIN (SELECT request_id, position FROM {processed_ref} "
                f"WHERE {quote_ident(out.timestamp_column)} >= :since) p "
                "ON r.request_id = p.request_id AND r.pos = p.position")
    sql = (f"WITH src AS (SELECT databricks_request_id AS request_id, {schema.ts_sql} AS ts, "
           f"CAST({schema.model_sql} AS STRING) AS model_id, from_json(request, '{REQUEST_TYPE}') AS req, "
           f"from_json(response, '{RESPONSE_TYPE}').predictions AS preds FROM {ref} "
           f"WHERE status_code = 200 AND {where}), rows AS ({rows}) "
           f"SELECT {select} FROM rows r{done} WHERE r.f IS NOT NULL")
    return sql, params


def sync_processed(engine: Engine, cfg: InferenceSource, schema: PayloadSchema, now: datetime) -> None:
    """Append the records of requests not yet in the processed table (from ``recheck`` before its newest row)."""
    out: ProcessedTable | None = cfg.processed
    if out is None:
        return
    exists = engine.table_exists(out.table)
    since = now - cfg.lookback
    if exists:
        ts = quote_ident(out.timestamp_column)
        newest = engine.query(f"SELECT max({ts}) AS newest FROM {engine.table_ref(out.table)}").column(0)[0].as_py()
        if newest is not None:
            since = max(since, utc(newest) - cfg.recheck)
    sql, params = unpack_sql(engine.table_ref(cfg.table), schema, cfg, engine.table_ref(out.table) if exists else None)
    params.update(range_params(since, now + timedelta(seconds=1)))
    if isinstance(engine, SparkWriter):
        engine.write(out.table, engine.spark.sql(sql, args=params), mode="append")
        return
    if not exists:
        engine.query(f"CREATE TABLE IF NOT EXISTS {engine.table_ref(out.table)} AS {sql} LIMIT 0", params)
    engine.query(f"INSERT INTO {engine.table_ref(out.table)} {sql}", params)
