"""The retrain package's tables: lifecycle runs and their audit trail.

``retrain_runs`` holds one row per lifecycle run, a durable state machine: ``state`` is where the run
is (pending, running, or one of the final states), ``step`` what it does now (one of the run's
``plan``, ``rollback``, ``emergency`` or ``done``). ``external`` is a JSON object of the side effects already done (job
external id, model version, aliases moved), written as each one completes, so a restart resumes
without repeating them. Two unique indexes make the guardrails hold under concurrent callers: one
idempotency key per trigger, and one unfinished run per model.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from config.basics.sql import UtcDateTime

# Times are config.basics.sql.UtcDateTime, the column type every package shares (it used to be defined
# here). No migration: on SQLite it writes the same naive UTC text and creates the same DATETIME column.
metadata = sa.MetaData()

retrain_runs = sa.Table(
    "retrain_runs",
    metadata,
    sa.Column("run_id", sa.String(32), primary_key=True),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("registered_model", sa.String(400), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("step", sa.String(16), nullable=False),
    sa.Column("trigger", sa.JSON, nullable=False),
    sa.Column("idempotency_key", sa.String(64), nullable=False, unique=True),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("external", sa.JSON, nullable=False),
    sa.Column("decision", sa.Text, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("finished_at", UtcDateTime, nullable=True),
)
sa.Index("ix_retrain_runs_model_created", retrain_runs.c.model, retrain_runs.c.created_at)
sa.Index(
    "ux_retrain_runs_one_in_flight",
    retrain_runs.c.model,
    unique=True,
    sqlite_where=retrain_runs.c.finished_at.is_(None),
    postgresql_where=retrain_runs.c.finished_at.is_(None),
)

retrain_events = sa.Table(
    "retrain_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(32), nullable=True),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
)
sa.Index("ix_retrain_events_run", retrain_events.c.run_id, retrain_events.c.id)


# The global kill switch: one row per switch (``lifecycle``), set by ``lakewarden lifecycle pause``.
retrain_switches = sa.Table(
    "retrain_switches",
    metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("paused", sa.Boolean, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("by", sa.String(200), nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
)

# Serving endpoints of the embedded default (``workspace.kind: local``): what a Databricks endpoint's
# config would be, so the rollout and its rollback run the same code on a laptop.
retrain_local_endpoints = sa.Table(
    "retrain_local_endpoints",
    metadata,
    sa.Column("name", sa.String(63), primary_key=True),
    sa.Column("config_version", sa.Integer, nullable=False),
    sa.Column("config", sa.JSON, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)


def _v1(conn: sa.Connection) -> None:
    metadata.create_all(conn, tables=[retrain_runs, retrain_events])


def _v2(conn: sa.Connection) -> None:
    """Steps as configured: the v1 ``wait`` step is part of ``retrain``; the kill switch; local endpoints."""
    conn.execute(retrain_runs.update().where(retrain_runs.c.step == "wait").values(step="retrain"))
    metadata.create_all(conn, tables=[retrain_switches, retrain_local_endpoints])


MIGRATIONS: tuple[Callable[[sa.Connection], None], ...] = (_v1, _v2)
