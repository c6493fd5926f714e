"""Reference (baseline) statistics: computed once per baseline, kept in the state database.

The statistics of the baseline table (per model id and slice: moments, sketch histograms, category
counts, quality inputs, custom metrics) are everything a window needs to be compared with it: bin
edges, quantiles and counts all come from them. They are stored under the baseline table's name and
the spec's reference key, with a fingerprint of the baseline's data; a changed baseline (new files,
another Delta version) or a changed spec computes them again.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, replace
from pathlib import Path

from monitor.engines.base import EngineError
from monitor.profile.custom import custom_values
from monitor.profile.scan import Rows, SparkEngine, scan, slice_values
from monitor.profile.spec import ColumnInfo, ProfileError, ProfileSpec
from monitor.profile.store import ProfileStore, StoredReference


@dataclass(frozen=True)
class Reference:
    """The baseline's statistics and the columns they cover."""

    stats: StoredReference
    infos: tuple[ColumnInfo, ...]
    reused: bool  # True when read from the state database


def table_fingerprint(engine: SparkEngine, table: str) -> str:
    """A fingerprint of a table's data: its files (local lakehouse), its Delta detail, or count and schema."""
    path_of = getattr(engine, "path", None)
    digest = hashlib.sha256()
    if callable(path_of):
        root = Path(path_of(table))
        for dirpath, dirnames, filenames in sorted(os.walk(root)):
            dirnames.sort()
            for name in sorted(filenames):
                if name.startswith((".", "_")):
                    continue
                stat = (Path(dirpath) / name).stat()
                digest.update(f"{Path(dirpath, name).relative_to(root)}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
        return "files:" + digest.hexdigest()[:40]
    ref = engine.table_ref(table)
    try:
        detail = engine.query(f"DESCRIBE DETAIL {ref}").to_pylist()[0]
        digest.update(repr((detail.get("lastModified"), detail.get("numFiles"), detail.get("sizeInBytes"))).encode())
        return "delta:" + digest.hexdigest()[:40]
    except (EngineError, IndexError):
        count = engine.query(f"SELECT count(1) AS n FROM {ref}").column("n")[0].as_py()
        digest.update(repr((count, sorted(engine.columns(table).items()))).encode())
        return "count:" + digest.hexdigest()[:40]


_SCHEMAS: dict[tuple[str, str], dict[str, str]] = {}  # (table folder, files fingerprint) -> columns
_SCHEMAS_KEPT = 256


def _columns(engine: SparkEngine, table: str, fingerprint: str) -> dict[str, str]:
    """The baseline's columns; for local files asked once per fingerprint (the same files have the same
    schema), since asking Spark costs about 0.1 s, as much as a small window's whole scan."""
    path_of = getattr(engine, "path", None)
    if not fingerprint.startswith("files:") or not callable(path_of):
        return engine.columns(table)
    key = (str(path_of(table)), fingerprint)
    found = _SCHEMAS.get(key)
    if found is None:
        found = engine.columns(table)
        if len(_SCHEMAS) >= _SCHEMAS_KEPT:
            _SCHEMAS.clear()
        _SCHEMAS[key] = found
    return dict(found)


def baseline_spec(spec: ProfileSpec, schema: dict[str, str]) -> ProfileSpec:
    """The spec as it applies to the baseline table: columns it lacks (model id, score) are left out."""
    assert spec.baseline_table is not None  # noqa: S101 - callers check
    has_quality = spec.prediction_col in schema and spec.label_col in schema
    return replace(spec, table=spec.baseline_table,
                   model_id_col=spec.model_id_col if spec.model_id_col in schema else None,
                   prediction_proba_col=spec.prediction_proba_col if spec.prediction_proba_col in schema else None,
                   score_cols=tuple(name for name in spec.score_cols if name in schema),
                   label_col=spec.label_col if has_quality else None,
                   prediction_col=spec.prediction_col if has_quality or spec.prediction_col in schema else None)


def compute_reference(engine: SparkEngine, spec: ProfileSpec, infos: tuple[ColumnInfo, ...],
                      store: ProfileStore | None = None) -> Reference:
    """The baseline's statistics: from ``store`` when the baseline is unchanged, else scanned (and saved)."""
    if spec.baseline_table is None:
        raise ProfileError(f"profile of {spec.table}: no baseline table configured")
    table = spec.baseline_table
    fingerprint = table_fingerprint(engine, table)
    schema = _columns(engine, table, fingerprint)  # TableNotFound names a missing baseline
    b_infos = tuple(info for info in infos if info.name in schema)
    if not b_infos:
        raise ProfileError(f"baseline table {table} has none of the monitored columns "
                           f"{[i.name for i in infos]} (it has {sorted(schema)})")
    key = spec.reference_key()
    if store is not None:
        found = store.reference(table, key, fingerprint)
        if found is not None:
            return Reference(found, b_infos, reused=True)
    b_spec = baseline_spec(spec, schema)
    rows = Rows(table, "1", reader=spec.reader)
    slices = slice_values(engine, b_spec, rows)
    groups = scan(engine, b_spec, b_infos, rows, slices)
    if not any(g.rows for g in groups.values()):
        raise ProfileError(f"baseline table {table} is empty: a baseline needs rows to compare windows with")
    stats = StoredReference(groups, custom_values(engine, b_spec, rows, slices))
    if store is not None:
        store.save_reference(table, key, fingerprint, stats)
    return Reference(stats, b_infos, reused=False)
