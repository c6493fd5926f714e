"""Tables owned by the alerts package and their forward migrations (version = index + 1)."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from config.basics.sql import UtcDateTime

metadata = sa.MetaData()

OUTBOX_STATUSES = ("pending", "in_flight", "done", "dead")
ALERT_STATUSES = ("firing", "resolved")

# Times are config.basics.sql.UtcDateTime, the column type every package shares (it used to be defined
# here). No migration: on SQLite it writes the same naive UTC text and creates the same DATETIME column.

alerts_state = sa.Table(
    "alerts_state",
    metadata,
    sa.Column("fingerprint", sa.String(16), primary_key=True),
    sa.Column("labels", sa.JSON, nullable=False),
    sa.Column("annotations", sa.JSON, nullable=False),
    sa.Column("scope", sa.String(200), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("starts_at", UtcDateTime, nullable=False),
    sa.Column("ends_at", UtcDateTime, nullable=True),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("last_notified_status", sa.String(16), nullable=True),
    sa.CheckConstraint("status IN ('firing', 'resolved')", name="alerts_state_status"),
    sa.Index("alerts_state_scope_status", "scope", "status"),
)

alerts_outbox = sa.Table(
    "alerts_outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("receiver", sa.String(200), nullable=False),
    sa.Column("channel_kind", sa.String(32), nullable=False),
    sa.Column("channel_index", sa.Integer, nullable=False),
    sa.Column("idempotency_key", sa.String(64), nullable=False, unique=True),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UtcDateTime, nullable=False),
    sa.Column("lease_owner", sa.String(200), nullable=True),
    sa.Column("lease_until", UtcDateTime, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("delivered_at", UtcDateTime, nullable=True),
    # v4: order per group (alerts.outbox): rows of one group_ref go out in id (decision) order; a newer
    # row with latest_wins replaces older undelivered ones (superseded_by); first_attempt_at is when a
    # send of this row (or of one it superseded) first began, so a channel knows a resend when it sees one.
    sa.Column("group_ref", sa.String(64), nullable=True),
    sa.Column("latest_wins", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("superseded_by", sa.Integer, nullable=True),
    sa.Column("first_attempt_at", UtcDateTime, nullable=True),
    sa.CheckConstraint("status IN ('pending', 'in_flight', 'done', 'dead')", name="alerts_outbox_status"),
    sa.Index("alerts_outbox_due", "status", "next_attempt_at"),
    sa.Index("alerts_outbox_group", "group_ref", "id"),
)


# --- v2: aggregation groups, the notification log, decisions, silences, escalations, message refs --

alerts_groups = sa.Table(
    "alerts_groups",
    metadata,
    sa.Column("id", sa.String(24), primary_key=True),  # hash of route path and group key
    sa.Column("group_key", sa.Text, nullable=False),
    sa.Column("route_path", sa.String(200), nullable=False),
    sa.Column("receiver", sa.String(200), nullable=False),
    sa.Column("labels", sa.JSON, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("next_flush_at", UtcDateTime, nullable=False),
    sa.Column("last_flush_at", UtcDateTime, nullable=True),
    sa.Index("alerts_groups_due", "next_flush_at"),
)

alerts_group_members = sa.Table(
    "alerts_group_members",
    metadata,
    sa.Column("group_id", sa.String(24), primary_key=True),
    sa.Column("fingerprint", sa.String(16), primary_key=True),
    sa.Column("added_at", UtcDateTime, nullable=False),
    # v2 had an index on fingerprint; no query reads memberships by fingerprint alone (v3 drops it)
)

alerts_nflog = sa.Table(  # the last notification per group and receiver (the dedup log)
    "alerts_nflog",
    metadata,
    sa.Column("group_id", sa.String(24), primary_key=True),
    sa.Column("receiver", sa.String(200), primary_key=True),
    sa.Column("group_key", sa.Text, nullable=False),
    sa.Column("firing", sa.JSON, nullable=False),
    sa.Column("resolved", sa.JSON, nullable=False),
    sa.Column("notified_at", UtcDateTime, nullable=False),
    sa.Column("reason", sa.String(32), nullable=False),
)

alerts_decisions = sa.Table(  # audit: every decision that notified or muted a group
    "alerts_decisions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("group_id", sa.String(24), nullable=False),
    sa.Column("receiver", sa.String(200), nullable=False),
    sa.Column("reason", sa.String(32), nullable=False),
    sa.Column("firing", sa.Integer, nullable=False),
    sa.Column("resolved", sa.Integer, nullable=False),
    sa.Column("muted", sa.Integer, nullable=False),
    sa.Column("outbox_rows", sa.Integer, nullable=False),
    sa.Index("alerts_decisions_at", "at"),
)

alerts_silences = sa.Table(
    "alerts_silences",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("matchers", sa.JSON, nullable=False),
    sa.Column("starts_at", UtcDateTime, nullable=False),
    sa.Column("ends_at", UtcDateTime, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("comment", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Index("alerts_silences_ends", "ends_at"),
)

alerts_escalations = sa.Table(
    "alerts_escalations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("group_id", sa.String(24), nullable=False),
    sa.Column("group_key", sa.Text, nullable=False),
    sa.Column("receiver", sa.String(200), nullable=False),
    sa.Column("policy", sa.String(200), nullable=False),
    sa.Column("opened_at", UtcDateTime, nullable=False),
    sa.Column("step", sa.Integer, nullable=False),   # the next step to run, from 0
    sa.Column("round", sa.Integer, nullable=False),  # the pass over the steps, from 0
    sa.Column("next_at", UtcDateTime, nullable=True),  # None: every step and repeat has run
    sa.Column("notified", sa.JSON, nullable=False),  # receivers escalated to so far
    sa.Column("acked_at", UtcDateTime, nullable=True),
    sa.Column("acked_by", sa.String(200), nullable=True),
    sa.Column("ack_comment", sa.Text, nullable=True),
    sa.Column("ack_sent", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("closed_at", UtcDateTime, nullable=True),
    sa.Index("alerts_escalations_open", "closed_at", "group_id"),
)

alerts_message_refs = sa.Table(  # what a channel needs to update a message it sent (Slack channel + ts)
    "alerts_message_refs",
    metadata,
    sa.Column("ref_key", sa.String(64), primary_key=True),
    sa.Column("channel", sa.String(200), nullable=False),
    sa.Column("ts", sa.String(64), nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

_V2 = [alerts_groups, alerts_group_members, alerts_nflog, alerts_decisions, alerts_silences, alerts_escalations,
       alerts_message_refs]


_v1_metadata = sa.MetaData()  # the v1 shapes, which v4 changed; old and new databases converge by migrating
_outbox_v1 = sa.Table(
    "alerts_outbox",
    _v1_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("receiver", sa.String(200), nullable=False),
    sa.Column("channel_kind", sa.String(32), nullable=False),
    sa.Column("channel_index", sa.Integer, nullable=False),
    sa.Column("idempotency_key", sa.String(64), nullable=False, unique=True),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UtcDateTime, nullable=False),
    sa.Column("lease_owner", sa.String(200), nullable=True),
    sa.Column("lease_until", UtcDateTime, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("delivered_at", UtcDateTime, nullable=True),
    sa.CheckConstraint("status IN ('pending', 'in_flight', 'done', 'dead')", name="alerts_outbox_status"),
    sa.Index("alerts_outbox_due", "status", "next_attempt_at"),
)
_state_v1 = alerts_state.to_metadata(_v1_metadata)


def _v1(conn: sa.Connection) -> None:
    _v1_metadata.create_all(conn, tables=[_state_v1, _outbox_v1])


def _v2(conn: sa.Connection) -> None:
    # As above: creates today's shape, which v3 brings older databases to (their members index).
    metadata.create_all(conn, tables=_V2)


def _v3(conn: sa.Connection) -> None:
    """Drop ``alerts_group_members_fp``: members are read by group and joined to the state by its
    key, so the index was only written, on every sync, at a random place (fingerprints are hashes)."""
    if "alerts_group_members_fp" in {ix["name"] for ix in sa.inspect(conn).get_indexes("alerts_group_members")}:
        conn.execute(sa.schema.DropIndex(sa.Index("alerts_group_members_fp")))


def _v4(conn: sa.Connection) -> None:
    """Order per group in the outbox: ``group_ref``, ``latest_wins``, ``superseded_by``, ``first_attempt_at``.

    Rows queued before the upgrade keep ``group_ref`` NULL: they are delivered as before, unordered."""
    for name in ("group_ref", "latest_wins", "superseded_by", "first_attempt_at"):
        column = alerts_outbox.c[name]
        kind = column.type.compile(dialect=conn.dialect)
        default = " NOT NULL DEFAULT FALSE" if name == "latest_wins" else ""
        conn.exec_driver_sql(f"ALTER TABLE alerts_outbox ADD COLUMN {name} {kind}{default}")
    sa.Index("alerts_outbox_group", alerts_outbox.c.group_ref, alerts_outbox.c.id).create(conn)


MIGRATIONS: tuple[Callable[[sa.Connection], None], ...] = (_v1, _v2, _v3, _v4)
