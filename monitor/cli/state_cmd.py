"""``lakewarden state upgrade [--sql]``: bring the state database's tables up to this release, or print the
statements that would, for a DBA who applies schema changes before a rollout."""

from __future__ import annotations

import argparse
from typing import Any

from monitor.cli import exitcodes
from monitor.cli.common import add_config


def register(sub: Any) -> None:
    state = sub.add_parser("state", help="the state database: upgrade its tables (or print the SQL that would)")
    cmds = state.add_subparsers(dest="state_command", required=True, metavar="SUBCOMMAND")
    upgrade = cmds.add_parser(
        "upgrade", help="apply pending migrations now (replicas that start later find nothing to do)",
        description="Apply the pending migrations of every package (monitor, alerts, retrain) to the state "
                    "database of the config (or LAKEWARDEN_STATE_URL), under the migration lock, so running "
                    "replicas and starting ones wait rather than migrate too. --sql prints the statements "
                    "instead and changes nothing.")
    add_config(upgrade)
    upgrade.add_argument("--sql", action="store_true",
                         help="print the SQL an upgrade of this database would run (for a DBA), change nothing")
    upgrade.set_defaults(handler=_upgrade)


def _upgrade(args: argparse.Namespace) -> int:
    from config import load_settings  # noqa: PLC0415 - keep --help fast
    from config.urls import redacted_database_url  # noqa: PLC0415
    from monitor.app import package_migrations  # noqa: PLC0415
    from monitor.state.store import StateStore, create_engine  # noqa: PLC0415

    settings = load_settings(args.config)
    where = redacted_database_url(settings.state.url)
    migrations = package_migrations()
    store = StateStore(create_engine(settings.state.url, settings.state.busy_timeout))
    try:
        pending = store.pending(migrations)
        steps = ", ".join(f"{package} {old} -> {new}" for package, (old, new) in pending.items())
        if args.sql:
            if not pending:
                print(f"-- {where}: every package is at its latest version; nothing to do")
                return exitcodes.OK
            statements = store.upgrade_sql(migrations)
            print(f"-- lakewarden state upgrade for {where}: {steps}")
            print("-- Review, then apply as written, in one transaction (PostgreSQL: psql -v ON_ERROR_STOP=1 -f FILE).")
            print("BEGIN;")
            for statement in statements:
                print(statement)
            print("COMMIT;")
            return exitcodes.OK
        if not pending:
            print(f"{where}: every package is at its latest version; nothing to do")
            return exitcodes.OK
        store.migrate(migrations)
        print(f"{where}: upgraded {steps}")
        return exitcodes.OK
    finally:
        store.close()
