"""Bytes for :class:`GroupStats`: what the Spark kernel sends back and what the state database keeps.

JSON with numpy arrays as base64 of their little-endian bytes, compressed with zlib. Nothing is
unpickled: decoding only builds numbers, strings and arrays of fixed dtypes.
"""

from __future__ import annotations

import base64
import json
import zlib
from typing import Any

import numpy as np

from monitor.profile.partials import (
    CategoricalStats,
    ColumnStats,
    GroupStats,
    Moments,
    NumericStats,
    QualityStats,
    RegressionStats,
)
from monitor.profile.sketch import Histogram

FORMAT = 1


def _arr(values: np.ndarray[Any, Any]) -> str:
    return base64.b64encode(np.ascontiguousarray(values).tobytes()).decode("ascii")


def _unarr(text: str, dtype: str) -> np.ndarray[Any, Any]:
    return np.frombuffer(base64.b64decode(text), dtype=np.dtype(dtype)).copy()


def _hist(h: Histogram) -> list[str]:
    return [_arr(h.keys.astype("<i8")), _arr(h.counts.astype("<i8"))]


def _unhist(data: list[str]) -> Histogram:
    return Histogram(_unarr(data[0], "<i8").astype(np.int64), _unarr(data[1], "<i8").astype(np.int64))


def _moments(m: Moments) -> list[float]:
    return [m.n, m.mean, m.m2]


def _column(stats: ColumnStats) -> dict[str, Any]:
    if isinstance(stats, NumericStats):
        return {"t": "n", "nulls": stats.nulls, "nan": stats.nan, "inf": stats.inf, "zeros": stats.zeros,
                "m": _moments(stats.moments), "min": stats.min, "max": stats.max, "h": _hist(stats.hist),
                "r": _arr(stats.registers)}
    return {"t": "c", "nulls": stats.nulls, "k": list(stats.counts), "v": list(stats.counts.values()),
            "other": stats.other, "trunc": stats.truncated, "minl": stats.min_length,
            "maxl": stats.max_length, "totl": stats.total_length}


def _uncolumn(data: dict[str, Any]) -> ColumnStats:
    if data["t"] == "n":
        n, mean, m2 = data["m"]
        return NumericStats(nulls=data["nulls"], nan=data["nan"], inf=data["inf"], zeros=data["zeros"],
                            moments=Moments(int(n), mean, m2), min=data["min"], max=data["max"],
                            hist=_unhist(data["h"]), registers=_unarr(data["r"], "i1").astype(np.int8))
    return CategoricalStats(nulls=data["nulls"], counts=dict(zip(data["k"], data["v"], strict=True)),
                            other=data["other"], truncated=data["trunc"], min_length=data["minl"],
                            max_length=data["maxl"], total_length=data["totl"])


def _quality(q: QualityStats) -> dict[str, Any]:
    r = q.regression
    return {"cm": [[p, label, n] for (p, label), n in q.confusion.items()],
            "s": {label: _hist(h) for label, h in q.scores.items()},
            "r": [r.n, r.sum_sq_error, r.sum_abs_error, r.sum_abs_pct_error, r.n_pct, _moments(r.label)]}


def _unquality(data: dict[str, Any]) -> QualityStats:
    n, sse, sae, sape, n_pct, (ln, lmean, lm2) = data["r"]
    return QualityStats(confusion={(p, label): int(c) for p, label, c in data["cm"]},
                        scores={label: _unhist(h) for label, h in data["s"].items()},
                        regression=RegressionStats(int(n), sse, sae, sape, int(n_pct),
                                                   Moments(int(ln), lmean, lm2)))


def to_json(stats: GroupStats) -> dict[str, Any]:
    return {"rows": stats.rows, "cols": {name: _column(c) for name, c in stats.columns.items()},
            "q": None if stats.quality is None else _quality(stats.quality)}


def from_json(data: dict[str, Any]) -> GroupStats:
    quality = None if data["q"] is None else _unquality(data["q"])
    return GroupStats(int(data["rows"]), {name: _uncolumn(c) for name, c in data["cols"].items()}, quality)


def encode(stats: GroupStats) -> bytes:
    return zlib.compress(json.dumps({"f": FORMAT, "g": to_json(stats)}, allow_nan=True).encode(), 1)


def decode(payload: bytes) -> GroupStats:
    data = json.loads(zlib.decompress(payload))
    if data.get("f") != FORMAT:
        raise ValueError(f"statistics stored in format {data.get('f')!r}, this lakewarden reads {FORMAT}")
    return from_json(data["g"])
