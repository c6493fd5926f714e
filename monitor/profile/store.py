"""What the profiler keeps in the state database (tables in ``monitor.schema``, migration 2).

- reference statistics per (baseline table, reference key), with the baseline's fingerprint: reused
  while the fingerprint matches, recomputed when the baseline table changed;
- the monitor version per profile table: 0 at first, +1 whenever the spec's fingerprint changes;
- per written window: row count and a checksum of its timestamps, so that a window that received late
  rows (or lost rows) is recomputed on the next run.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from config.basics.clock import Clock, utc_now
from config.basics.sql import begin_write
from monitor import schema
from monitor.profile import codec
from monitor.profile.partials import GroupKey, GroupStats
from monitor.profile.windows import Window


@dataclass(frozen=True)
class WindowState:
    row_count: int
    checksum: str
    monitor_version: int


@dataclass(frozen=True)
class StoredReference:
    groups: dict[GroupKey, GroupStats]
    custom: dict[GroupKey, dict[tuple[str, str], float | None]]


def encode_reference(ref: StoredReference) -> bytes:
    groups = [[list(key), codec.to_json(stats)] for key, stats in ref.groups.items()]
    custom = [[list(key), [[col, name, value] for (col, name), value in values.items()]]
              for key, values in ref.custom.items()]
    return zlib.compress(json.dumps({"f": codec.FORMAT, "groups": groups, "custom": custom}).encode(), 6)


def decode_reference(payload: bytes) -> StoredReference:
    data = json.loads(zlib.decompress(payload))
    if data.get("f") != codec.FORMAT:
        raise ValueError("stored reference statistics are in an older format")
    groups: dict[GroupKey, GroupStats] = {}
    for key, stats in data["groups"]:
        groups[(int(key[0]), key[1], key[2], key[3])] = codec.from_json(stats)
    custom: dict[GroupKey, dict[tuple[str, str], float | None]] = {}
    for key, values in data["custom"]:
        custom[(int(key[0]), key[1], key[2], key[3])] = {(c, n): v for c, n, v in values}
    return StoredReference(groups, custom)


class ProfileStore:
    """The profiler's state, on the service's state database (SQLAlchemy engine, migrated)."""

    def __init__(self, engine: sa.Engine, clock: Clock | None = None) -> None:
        self._engine = engine
        self._clock = clock or utc_now

    # -- reference statistics ---------------------------------------------------------------------

    def reference(self, baseline_table: str, reference_key: str, fingerprint: str) -> StoredReference | None:
        """The stored statistics if they were computed from a baseline with this fingerprint."""
        t = schema.profile_references
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(t.c.fingerprint, t.c.stats).where(
                t.c.baseline_table == baseline_table, t.c.reference_key == reference_key)).first()
        if row is None or row.fingerprint != fingerprint:
            return None
        try:
            return decode_reference(row.stats)
        except ValueError:
            return None

    def save_reference(self, baseline_table: str, reference_key: str, fingerprint: str,
                       ref: StoredReference) -> None:
        t = schema.profile_references
        values: dict[str, Any] = {"fingerprint": fingerprint, "stats": encode_reference(ref),
                                  "computed_at": self._clock()}
        with begin_write(self._engine) as conn:  # update, else insert: one writer at a time
            updated = conn.execute(sa.update(t).where(t.c.baseline_table == baseline_table,
                                                      t.c.reference_key == reference_key).values(**values)).rowcount
            if not updated:
                conn.execute(sa.insert(t).values(baseline_table=baseline_table, reference_key=reference_key,
                                                 **values))

    # -- monitor version --------------------------------------------------------------------------

    def monitor_version(self, profile_table: str, spec_fingerprint: str) -> tuple[int, bool]:
        """(version, changed): 0 the first time, +1 when the spec's fingerprint differs from the stored one."""
        t = schema.profile_versions
        now = self._clock()
        with begin_write(self._engine) as conn:  # read, then write: one writer at a time
            row = conn.execute(sa.select(t.c.spec_fingerprint, t.c.monitor_version)
                               .where(t.c.profile_table == profile_table)).first()
            if row is None:
                conn.execute(sa.insert(t).values(profile_table=profile_table, spec_fingerprint=spec_fingerprint,
                                                 monitor_version=0, updated_at=now))
                return 0, False
            if row.spec_fingerprint == spec_fingerprint:
                return int(row.monitor_version), False
            version = int(row.monitor_version) + 1
            conn.execute(sa.update(t).where(t.c.profile_table == profile_table).values(
                spec_fingerprint=spec_fingerprint, monitor_version=version, updated_at=now))
            return version, True

    # -- written windows --------------------------------------------------------------------------

    def windows(self, profile_table: str, granularity: str) -> dict[datetime, WindowState]:
        t = schema.profile_windows
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(t.c.window_start, t.c.row_count, t.c.checksum, t.c.monitor_version)
                                .where(t.c.profile_table == profile_table, t.c.granularity == granularity)).all()
        return {r.window_start: WindowState(int(r.row_count), r.checksum, int(r.monitor_version))
                for r in rows}

    def record_windows(self, profile_table: str, granularity: str, monitor_version: int,
                       written: dict[Window, tuple[int, str]]) -> None:
        t = schema.profile_windows
        now = self._clock()
        with begin_write(self._engine) as conn:
            for (start, end), (count, checksum) in written.items():
                conn.execute(sa.delete(t).where(t.c.profile_table == profile_table, t.c.granularity == granularity,
                                                t.c.window_start == start))
                conn.execute(sa.insert(t).values(profile_table=profile_table, granularity=granularity,
                                                 window_start=start, window_end=end, monitor_version=monitor_version,
                                                 row_count=count, checksum=checksum, written_at=now))
