"""``monitor.poll_pool``: at a stop, the reads in flight are waited for (so the daemon sees its poll
busy and cancels it), and none is judged."""

from __future__ import annotations

import threading

from monitor.handlers import ModelReads
from monitor.poll_pool import PollPool

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
