"""The daemon's inbox coalesces polls: at most one pending PollDue per model, the skipped ones counted."""

from __future__ import annotations

import threading

from structlog.testing import capture_logs

from monitor.inbox import Inbox
from monitor.messages import AdvanceLifecycle, PollDue


def test_a_slow_poll_keeps_one_pending_poll_per_model_and_counts_the_skipped() -> None:
    inbox = Inbox()
    assert inbox.put(PollDue("churn"))
    running = inbox.get(timeout=0)  # the slow poll: taken, being handled
    assert running == PollDue("churn")
    # Meanwhile the scheduler fires every interval, for both models.
    for _ in range(50):
        inbox.put(PollDue("churn"))
        inbox.put(PollDue("fraud"))
    inbox.put(AdvanceLifecycle())
    assert not inbox.put(AdvanceLifecycle())  # one advance moves every run: a second one waits for nothing
    assert inbox.pending_polls() == {"churn": 1, "fraud": 1}
    assert inbox.qsize() == 3
    assert inbox.skipped_polls() == {"churn": 49, "fraud": 49}
    assert inbox.skipped() == 98

    with capture_logs() as logs:
        taken = [inbox.get(timeout=0) for _ in range(3)]
    assert taken == [PollDue("churn"), PollDue("fraud"), AdvanceLifecycle()]
    assert inbox.get(timeout=0) is None
    skipped = [e for e in logs if e["event"] == "polls_skipped"]
    assert [(e["model"], e["skipped"], e["total"]) for e in skipped] == [("churn", 49, 49), ("fraud", 49, 49)]

    # Once the pending poll is taken, the next one may wait behind it; the counter only grows.
    assert inbox.put(PollDue("churn"))
    assert not inbox.put(PollDue("churn"))
    assert inbox.skipped_polls() == {"churn": 50, "fraud": 49}


def test_drain_drops_what_waits_and_get_wakes_for_a_put() -> None:
    inbox = Inbox()
    inbox.put(PollDue("churn"))
    inbox.put(AdvanceLifecycle())
    assert inbox.drain() == [PollDue("churn"), AdvanceLifecycle()]
    assert inbox.empty() and inbox.pending_polls() == {}
    assert inbox.put(PollDue("churn"))  # after the drain the model has no pending poll
    inbox.drain()

    got: list[object] = []
    reader = threading.Thread(target=lambda: got.append(inbox.get(timeout=30)))
    reader.start()
    inbox.put(PollDue("fraud"))
    reader.join(timeout=30)
    assert got == [PollDue("fraud")]


def test_a_burst_of_job_webhooks_coalesces_into_one_waiting_advance() -> None:
    """Databricks posts a webhook per run start, success and task: each wakes the lifecycle, one advance runs."""
    inbox = Inbox()
    assert inbox.put(AdvanceLifecycle())
    for _ in range(20):
        assert not inbox.put(AdvanceLifecycle())
    assert inbox.qsize() == 1 and inbox.skipped_advances() == 20
    with capture_logs() as logs:
        assert inbox.get(timeout=0) == AdvanceLifecycle()
    assert [(e["skipped"], e["total"]) for e in logs if e["event"] == "lifecycle_advances_skipped"] == [(20, 20)]
    # While that advance runs, a webhook about a run it already read waits behind it (not dropped).
    assert inbox.put(AdvanceLifecycle())
    assert not inbox.put(AdvanceLifecycle())
    assert inbox.qsize() == 1 and inbox.skipped_advances() == 21


def test_a_model_taken_over_is_polled_before_the_polls_already_waiting() -> None:
    inbox = Inbox()
    for model in ("a", "b", "c"):
        inbox.put(PollDue(model))
    assert inbox.put(PollDue("d"), urgent=True)  # taken over from a dead replica: first
    assert not inbox.put(PollDue("c"), urgent=True)  # already waiting: that poll moves first, no second one
    assert [inbox.get(timeout=0) for _ in range(4)] == [PollDue("c"), PollDue("d"), PollDue("a"), PollDue("b")]
    assert inbox.get(timeout=0) is None and inbox.pending_polls() == {}


def test_polls_queued_together_are_taken_together_up_to_the_next_other_command() -> None:
    inbox = Inbox()
    for name in ("a", "b", "c"):
        inbox.put(PollDue(name))
    inbox.put(AdvanceLifecycle())
    inbox.put(PollDue("d"))
    inbox.put(PollDue("a"))  # "a" is pending: skipped, and counted as before
    first = inbox.get(timeout=0)
    assert first == PollDue("a")
    assert inbox.take_polls(limit=1) == [PollDue("b")]
    assert inbox.take_polls(limit=10) == [PollDue("c")]  # the lifecycle tick keeps its place
    assert inbox.take_polls(limit=10) == []
    assert inbox.get(timeout=0) == AdvanceLifecycle()
    assert inbox.take_polls(limit=10) == [PollDue("d")]
    assert inbox.skipped_polls() == {"a": 1} and inbox.pending_polls() == {}
    inbox.put(PollDue("b"))  # taken polls are no longer pending: a new one queues
    assert inbox.pending_polls() == {"b": 1}
