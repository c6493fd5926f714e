"""The state database: one engine, every package's migrations, SQLite in WAL mode by default."""

from monitor.state.store import Migration, StateStore, open_store

__all__ = ["Migration", "StateStore", "open_store"]
