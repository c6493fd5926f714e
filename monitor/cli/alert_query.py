"""The alerts in the state database, as the CLI's silence preview reads them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa

from monitor.cli.silence_preview import CurrentAlert

if TYPE_CHECKING:
    from alerts import AlertStore


def current_alerts(store: AlertStore) -> list[CurrentAlert]:
    """Every alert the daemon keeps (firing and resolved ones: their label names count as known)."""
    from alerts.schema import alerts_state as t  # noqa: PLC0415

    if not sa.inspect(store.engine).has_table(t.name):
        return []
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(t.c.labels, t.c.status).order_by(t.c.scope, t.c.fingerprint)).all()
    return [CurrentAlert(dict(row.labels), str(row.status)) for row in rows]
