"""The profiler's state (monitor.profile.store) on SQLite and PostgreSQL, replicas writing at once included."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from monitor import schema
from monitor.profile.store import ProfileStore, StoredReference
from monitor.state import StateStore, open_store
from monitor.state.store import create_engine

pytestmark = pytest.mark.both_databases

T0 = datetime(2025, 3, 1, tzinfo=UTC)


@pytest.fixture
def state(state_url: str) -> Iterator[StateStore]:
    store = open_store(state_url, {"monitor": schema.MIGRATIONS})
    yield store
    store.close()


def test_references_versions_and_windows_round_trip(state: StateStore) -> None:
    store = ProfileStore(state.engine, lambda: T0)
    empty = StoredReference({}, {})
    assert store.reference("main.ml.base", "k", "fp1") is None
    store.save_reference("main.ml.base", "k", "fp1", empty)
    store.save_reference("main.ml.base", "k", "fp2", empty)  # recomputed: replaced, not added
    assert store.reference("main.ml.base", "k", "fp1") is None
    assert store.reference("main.ml.base", "k", "fp2") == empty
    assert store.monitor_version("main.ml.profile", "spec1") == (0, False)
    assert store.monitor_version("main.ml.profile", "spec1") == (0, False)
    assert store.monitor_version("main.ml.profile", "spec2") == (1, True)
    hour = timedelta(hours=1)
    store.record_windows("main.ml.profile", "1 hour", 1, {(T0, T0 + hour): (10, "a")})
    store.record_windows("main.ml.profile", "1 hour", 1, {(T0, T0 + hour): (12, "b"),
                                                          (T0 + hour, T0 + 2 * hour): (5, "c")})
    windows = store.windows("main.ml.profile", "1 hour")
    assert {start: (w.row_count, w.checksum) for start, w in windows.items()} == {T0: (12, "b"), T0 + hour: (5, "c")}


def test_replicas_writing_the_same_rows_at_once_neither_fail_nor_count_twice(state: StateStore, state_url: str) -> None:
    """Four replicas (own engines) see a new spec at the same moment: one version bump, no UniqueViolation."""
    barrier = threading.Barrier(4)
    answers: list[tuple[int, bool]] = []
    errors: list[str] = []

    def replica() -> None:
        engine = create_engine(state_url)
        store = ProfileStore(engine, lambda: T0)
        try:
            for round_ in range(5):
                barrier.wait(30)
                store.save_reference(f"main.ml.base{round_}", "k", "fp", StoredReference({}, {}))
                answers.append(store.monitor_version(f"main.ml.profile{round_}", "spec"))
        except Exception as exc:  # collected and asserted below
            errors.append(repr(exc))
        finally:
            engine.dispose()

    threads = [threading.Thread(target=replica) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sorted(answers) == [(0, False)] * 20
