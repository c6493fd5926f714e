"""The monitor package's own tables: schema versions, watermarks, assessments, audit log."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from config.basics.sql import UtcDateTime

# Times are config.basics.sql.UtcDateTime (they were ``sa.DateTime(timezone=True)``), so they read back
# aware UTC instead of naive. No migration: the DDL is the same (DATETIME on SQLite, TIMESTAMP WITH TIME
# ZONE on PostgreSQL), and on SQLite the stored text is the same, since the monitor only ever wrote UTC
# values and SQLite's DATETIME wrote their naive digits. A naive value is now refused on the way in.
metadata = sa.MetaData()

schema_versions = sa.Table(
    "monitor_schema_versions",
    metadata,
    sa.Column("package", sa.String(64), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("applied_at", UtcDateTime, nullable=False),
)

watermarks = sa.Table(
    "monitor_watermarks",
    metadata,
    sa.Column("model", sa.String(128), primary_key=True),
    sa.Column("source", sa.String(256), primary_key=True),
    sa.Column("window_end", UtcDateTime, nullable=False),
    sa.Column("monitor_version", sa.BigInteger, nullable=True),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

assessments = sa.Table(
    "monitor_assessments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model", sa.String(128), nullable=False),
    sa.Column("granularity", sa.String(32), nullable=False),
    sa.Column("window_start", UtcDateTime, nullable=False),
    sa.Column("window_end", UtcDateTime, nullable=False),
    sa.Column("risk", sa.Float, nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("findings", sa.JSON, nullable=False),
    sa.Column("skipped", sa.JSON, nullable=False),
    sa.Column("inputs", sa.JSON, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("model", "granularity", "window_start", "window_end", name="uq_assessment_window"),
)

audit = sa.Table(
    "monitor_audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("subject", sa.String(256), nullable=False),
    sa.Column("detail", sa.JSON, nullable=False),
)


def _v1(conn: sa.Connection) -> None:
    metadata.create_all(conn, tables=[watermarks, assessments, audit])




# -- version 2 ----------------------------------------------------------------------------------
# Assessments per stream (source and granularity), keyed by window, with the window's version so a
# refresh that rewrites a window is re-judged in place (the replaced revision is kept), the stream's
# persistence state, and the series measures later windows need. ``assessments`` above stays the
# version-1 shape that migration 1 creates; migration 2 rebuilds the table into this one.
# ``monitor_watermarks`` is no longer written from version 2 on: the stored window versions replace it.
metadata_v2 = sa.MetaData()

window_assessments = sa.Table(
    "monitor_assessments",
    metadata_v2,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model", sa.String(128), nullable=False),
    sa.Column("stream", sa.String(160), nullable=False),
    sa.Column("granularity", sa.String(32), nullable=False),
    sa.Column("window_start", UtcDateTime, nullable=False),
    sa.Column("window_end", UtcDateTime, nullable=False),
    sa.Column("version", sa.String(512), nullable=True),  # NULL: judged by version 1, version unknown
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("risk", sa.Float, nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("findings", sa.JSON, nullable=False),
    sa.Column("skipped", sa.JSON, nullable=False),  # everything not raised, with the reason
    sa.Column("inputs", sa.JSON, nullable=False),
    sa.Column("measures", sa.JSON, nullable=False),
    sa.Column("row_count", sa.BigInteger, nullable=True),
    sa.Column("state_firing", sa.Boolean, nullable=False),
    sa.Column("state_severity", sa.String(16), nullable=False),
    sa.Column("state_reason", sa.Text, nullable=False),
    sa.Column("alert_severity", sa.String(16), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("model", "stream", "window_start", "window_end", name="uq_assessment_stream_window"),
)
sa.Index("ix_assessments_model_end", window_assessments.c.model, window_assessments.c.window_end)

assessment_revisions = sa.Table(
    "monitor_assessment_revisions",
    metadata_v2,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("assessment_id", sa.Integer, nullable=False),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("version", sa.String(512), nullable=True),
    sa.Column("risk", sa.Float, nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("findings", sa.JSON, nullable=False),
    sa.Column("replaced_at", UtcDateTime, nullable=False),
)


def _v2(conn: sa.Connection) -> None:
    conn.execute(sa.text("ALTER TABLE monitor_assessments RENAME TO monitor_assessments_v1"))
    metadata_v2.create_all(conn, tables=[window_assessments, assessment_revisions])
    old = sa.table("monitor_assessments_v1", *(sa.column(name) for name in (
        "model", "granularity", "window_start", "window_end", "risk", "severity", "findings", "skipped", "inputs",
        "created_at")))
    alerting = old.c.severity.in_(["medium", "high", "critical"])  # v1 alerted from medium by default
    new = window_assessments.c
    # measures: ``{}`` bound as JSON; a string literal is ``varchar`` on PostgreSQL, which a json column refuses.
    conn.execute(sa.insert(window_assessments).from_select(
        [new.model, new.stream, new.granularity, new.window_start, new.window_end, new.version, new.revision,
         new.risk, new.severity, new.findings, new.skipped, new.inputs, new.measures, new.row_count,
         new.state_firing, new.state_severity, new.state_reason, new.alert_severity, new.created_at,
         new.updated_at],
        sa.select(old.c.model, sa.literal("lakehouse:", sa.String) + old.c.granularity, old.c.granularity,
                  old.c.window_start, old.c.window_end, sa.null(), sa.literal(1), old.c.risk, old.c.severity,
                  old.c.findings, old.c.skipped, old.c.inputs, sa.literal({}, sa.JSON), sa.null(),
                  sa.case((alerting, sa.true()), else_=sa.false()),
                  sa.case((alerting, old.c.severity), else_=sa.literal("ok")),
                  sa.literal("carried over from schema version 1"),
                  sa.case((alerting, old.c.severity), else_=sa.literal("ok")), old.c.created_at, old.c.created_at),
    ))
    conn.execute(sa.text("DROP TABLE monitor_assessments_v1"))


# -- version 3 (monitor.profile) ----------------------------------------------------------------
# The profiler's state: reference statistics per baseline (reused while the baseline is unchanged),
# the monitor version per profile table, and each written window's row count and timestamp checksum.
metadata_v3 = sa.MetaData()

profile_references = sa.Table(
    "monitor_profile_references",
    metadata_v3,
    sa.Column("baseline_table", sa.String(256), primary_key=True),
    sa.Column("reference_key", sa.String(64), primary_key=True),  # ProfileSpec.reference_key()
    sa.Column("fingerprint", sa.String(128), nullable=False),  # of the baseline table's data
    sa.Column("stats", sa.LargeBinary, nullable=False),  # monitor.profile.store.encode_reference
    sa.Column("computed_at", UtcDateTime, nullable=False),
)

profile_versions = sa.Table(
    "monitor_profile_versions",
    metadata_v3,
    sa.Column("profile_table", sa.String(256), primary_key=True),
    sa.Column("spec_fingerprint", sa.String(64), nullable=False),
    sa.Column("monitor_version", sa.BigInteger, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

profile_windows = sa.Table(
    "monitor_profile_windows",
    metadata_v3,
    sa.Column("profile_table", sa.String(256), primary_key=True),
    sa.Column("granularity", sa.String(32), primary_key=True),
    sa.Column("window_start", UtcDateTime, primary_key=True),
    sa.Column("window_end", UtcDateTime, nullable=False),
    sa.Column("monitor_version", sa.BigInteger, nullable=False),
    sa.Column("row_count", sa.BigInteger, nullable=False),
    sa.Column("checksum", sa.String(64), nullable=False),  # of the window's timestamps: late rows show
    sa.Column("written_at", UtcDateTime, nullable=False),
)


def _v3(conn: sa.Connection) -> None:
    metadata_v3.create_all(conn, tables=[profile_references, profile_versions, profile_windows])


# -- version 4 (monitor.leases) -----------------------------------------------------------------
# Leases with fencing tokens: which replica holds which work (a model, the alert-group flushes) and
# which replicas are alive (``replica:<instance id>``). ``token`` only ever grows, per name.
metadata_v4 = sa.MetaData()

leases = sa.Table(
    "monitor_leases",
    metadata_v4,
    sa.Column("name", sa.String(256), primary_key=True),
    sa.Column("holder", sa.String(256), nullable=True),  # the replica's instance id; None: released
    sa.Column("token", sa.BigInteger, nullable=False),
    sa.Column("acquired_at", UtcDateTime, nullable=True),
    sa.Column("expires_at", UtcDateTime, nullable=False),
)


def _v4(conn: sa.Connection) -> None:
    metadata_v4.create_all(conn, tables=[leases])


MIGRATIONS: tuple[Callable[[sa.Connection], None], ...] = (_v1, _v2, _v3, _v4)
