"""The alerts in the state database, as the CLI's silence preview reads them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa

from monitor.cli.silence_preview import CurrentAlert

if TYPE_CHECKING:
    from alerts import AlertStore
    from config import Settings


def current_alerts(store: AlertStore, settings: Settings) -> list[CurrentAlert]:
    """Every alert the daemon keeps: the firing ones with their status now (``alerts.listing``, the
    query ``alerts list`` and the API answer), then the resolved ones (their label names count as known)."""
    from alerts.listing import AlertListing  # noqa: PLC0415
    from alerts.schema import alerts_state as t  # noqa: PLC0415

    if not sa.inspect(store.engine).has_table(t.name):
        return []
    firing = AlertListing(store.engine, settings.route, settings.inhibit_rules, store.clock).query()
    with store.engine.connect() as conn:
        resolved = conn.execute(sa.select(t.c.labels).where(t.c.status != "firing")).scalars().all()
    return [*(CurrentAlert(dict(a.alert.labels), "firing", a.status.silenced_by, a.status.inhibited_by)
              for a in firing),
            *(CurrentAlert(dict(labels), "resolved") for labels in resolved)]
