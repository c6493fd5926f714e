"""The dedup decision table of docs/external/alertmanager-semantics.md, as data, then through the pipeline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa

from alerts.decision import Reason
from alerts.dedup import decide
from alerts.nflog import Entry
from tests.alerts.alert_kit import alert, file_receiver, make_settings, notifier, sent

if TYPE_CHECKING:
    from config.basics.clock import SimulatedClock

NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)
REPEAT = timedelta(hours=4)
F = frozenset


def entry(firing: set[str], resolved: set[str] = frozenset(), age: timedelta = timedelta(minutes=5)) -> Entry:  # type: ignore[assignment]
    return Entry(F(firing), F(resolved), NOW - age, "first")


CASES = [
    # (case, log entry, firing now, resolved now, send_resolved, expected)
    ("1: no entry, something fires", None, {"a"}, set(), True, Reason.FIRST),
    ("1: no entry, only resolved", None, set(), {"a"}, True, Reason.SUPPRESSED),
    ("1: no entry, nothing at all", None, set(), set(), True, Reason.SUPPRESSED),
    ("2: a firing alert the log lacks", entry({"a"}), {"a", "b"}, set(), True, Reason.NEW_ALERTS),
    ("2: replaced alert", entry({"a"}), {"b"}, {"a"}, True, Reason.NEW_ALERTS),
    ("2: fires again after all resolved", entry(set(), {"a"}), {"a"}, set(), True, Reason.FIRST),
    ("2: wins over an old entry", entry({"a"}, age=REPEAT * 2), {"a", "b"}, set(), True, Reason.NEW_ALERTS),
    ("3: nothing fires, last had firing", entry({"a"}), set(), {"a"}, True, Reason.ALL_RESOLVED),
    ("3: regardless of send_resolved", entry({"a"}), set(), {"a"}, False, Reason.ALL_RESOLVED),
    ("3: nothing fires, last had none", entry(set(), {"a"}), set(), {"a"}, True, Reason.SUPPRESSED),
    ("4: a new resolved alert", entry({"a", "b"}), {"a"}, {"b"}, True, Reason.RESOLVED),
    ("4: not without send_resolved", entry({"a", "b"}), {"a"}, {"b"}, False, Reason.SUPPRESSED),
    ("4: resolved already told", entry({"a"}, {"b"}), {"a"}, {"b"}, True, Reason.SUPPRESSED),
    ("5: unchanged, older than repeat_interval", entry({"a"}, age=REPEAT), {"a"}, set(), True, Reason.REPEAT),
    ("5: unchanged, younger", entry({"a"}, age=REPEAT - timedelta(seconds=1)), {"a"}, set(), True,
     Reason.SUPPRESSED),
    ("5: fewer firing than before is no news", entry({"a", "b"}), {"a"}, set(), True, Reason.SUPPRESSED),
]


@pytest.mark.parametrize(("case", "log", "firing", "resolved", "send_resolved", "expected"), CASES,
                         ids=[c[0] for c in CASES])
def test_decision_table(case: str, log: Entry | None, firing: set[str], resolved: set[str], send_resolved: bool,
                        expected: Reason) -> None:
    got = decide(log, F(firing), F(resolved), send_resolved=send_resolved, repeat_interval=REPEAT, now=NOW)
    assert got is expected, case


def test_only_the_five_notifying_reasons_notify() -> None:
    assert {r for r in Reason if r.notifies} == {Reason.FIRST, Reason.NEW_ALERTS, Reason.RESOLVED,
                                                 Reason.ALL_RESOLVED, Reason.REPEAT}


def test_the_log_is_per_receiver(engine: sa.Engine, clock: SimulatedClock, tmp_path: Path) -> None:
    settings = make_settings(
        {"receiver": "a", "group_wait": "0s", "routes": [{"receiver": "a", "continue": True}, {"receiver": "b"}]},
        [file_receiver(tmp_path, "a"), file_receiver(tmp_path, "b")])
    n = notifier(engine, clock, settings)
    n.service.sync("s", [alert(clock, model="churn")])
    n.run_once()
    assert sent(tmp_path / "a.jsonl") == [("first", "firing", 1)]
    assert sent(tmp_path / "b.jsonl") == [("first", "firing", 1)]


def test_a_resolve_is_not_lost_across_a_restart(engine: sa.Engine, clock: SimulatedClock, tmp_path: Path) -> None:
    """Alertmanager keeps its log in memory and can forget a resolve; this log is in the database."""
    settings = make_settings({"receiver": "ops", "group_wait": "0s"}, [file_receiver(tmp_path, "ops")])
    first = notifier(engine, clock, settings)
    first.service.sync("s", [alert(clock, model="churn")])
    first.run_once()
    first.service.sync("s", [])  # resolved, not yet judged (group_interval has not passed)
    del first  # the process goes away
    clock.advance(minutes=5)
    notifier(engine, clock, settings, worker_id="w2").run_once()
    assert sent(tmp_path / "ops.jsonl") == [("first", "firing", 1), ("all_resolved", "resolved", 1)]
