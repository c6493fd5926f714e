"""Tables owned by the alerts package and their forward migrations (version = index + 1)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

metadata = sa.MetaData()

OUTBOX_STATUSES = ("pending", "in_flight", "done", "dead")
ALERT_STATUSES = ("firing", "resolved")


class UtcDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware UTC in Python, naive UTC in the database (SQLite has no time zones).

    Stored values share one format, so ``<=`` in SQL compares instants correctly.
    """

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} given where UTC is required")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got {type(value).__name__}")
        return value.replace(tzinfo=UTC)


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
    sa.CheckConstraint("status IN ('pending', 'in_flight', 'done', 'dead')", name="alerts_outbox_status"),
    sa.Index("alerts_outbox_due", "status", "next_attempt_at"),
)


def _v1(conn: sa.Connection) -> None:
    # Creates the tables as defined above. Once a later migration changes a table, this function
    # must create the v1 shape explicitly instead, so that old databases and new ones converge.
    metadata.create_all(conn, tables=[alerts_state, alerts_outbox])


MIGRATIONS: tuple[Callable[[sa.Connection], None], ...] = (_v1,)
