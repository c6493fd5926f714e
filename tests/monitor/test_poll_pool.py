"""``monitor.poll_pool``: at a stop, the reads in flight are waited for (so the daemon sees its poll
busy and cancels it), and none is judged."""

from __future__ import annotations

import threading

from monitor.handlers import ModelReads
from monitor.poll_pool import PollPool, concurrently

WAIT = 10.0  # seconds: a bound on waits for threads, never reached when the code is right


def test_a_stop_waits_for_the_reads_in_flight_and_judges_none() -> None:
    stop = threading.Event()
    started = threading.Event()
    release = threading.Event()
    read_models: list[str] = []
    judged: list[str] = []

    def read(model: str) -> ModelReads:
        read_models.append(model)
        started.set()
        release.wait(WAIT)  # a statement running until the engine's cancel ends it
        return ModelReads()

    pool = PollPool(read, [], size=1, model_of=lambda name: name)
    runner = threading.Thread(target=pool.run, args=(["a", "b"], lambda m, _: judged.append(m), stop))
    runner.start()
    assert started.wait(WAIT)
    stop.set()
    runner.join(0.5)  # longer than the pool's look at the stop flag
    assert runner.is_alive(), "run returned with a read still in flight: nobody would cancel it"
    release.set()  # the cancel ends the statement
    runner.join(WAIT)
    assert not runner.is_alive()
    assert read_models == ["a"]  # no new read after the stop
    assert judged == []  # and the read that ended is not judged


def test_a_caller_that_leaves_the_loop_early_waits_there_for_the_work_in_flight() -> None:
    """``PollPool.run`` returns from inside its loop when the stop comes just after a read ended:
    the reads still running must end before it returns (else the daemon closes Spark under them)."""
    in_flight = threading.Event()
    release = threading.Event()
    ended: list[str] = []

    def work(item: str) -> str:
        if item == "slow":
            in_flight.set()
            release.wait(WAIT)
        ended.append(item)
        return item

    def leave_after_the_first() -> list[str]:
        for item, _ in concurrently(work, ["slow", "quick"], size=2):
            assert in_flight.wait(WAIT)
            threading.Timer(0.3, release.set).start()  # the in-flight item ends a little later
            return [item]  # leaves the loop with "slow" still running
        return []

    assert leave_after_the_first() == ["quick"]
    assert ended == ["quick", "slow"]  # waited for before the caller went on
