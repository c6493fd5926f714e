"""Many models polled at once: their sources read on a bounded pool of threads, judged one at a time.

A poll is two halves. *Reading* (``Handlers.read``) sends the statements and builds the windows: it
writes nothing, so the reads of different models run at once on ``size`` threads (Spark jobs side by
side in the FAIR scheduler's pools; warehouse statements up to the engine's own limit). *Judging*
(``Handlers.poll`` with the reads: assessments, alerts, lifecycle triggers, state writes) stays on
the caller's thread, through the bus, one model at a time, each model's windows oldest first:
exactly what a poll did before, so the decisions are the same whatever ``size`` is.

Models are judged in the order their reads finish: a slow or failing model holds up nobody (models
are independent: each has its own windows, alert scope, lifecycle runs and guardrails). Before the
reads, sources that can batch (``prefetch``: the lakehouse source's table-version probe and versions
query over many models' tables in one statement) do so for the whole batch of models.

At shutdown (``stop``) no new read starts and no read that ends is judged, but ``run`` returns only
once the reads in flight have ended: until then the daemon sees its poll busy, so it cancels the
engine's statements (which ends those reads at once) and says what it was doing. Returning at once
would leave the reads running unseen, uncancelled, even past the engine's close. The threads are
daemon threads, not a ``ThreadPoolExecutor`` (whose threads the interpreter joins at exit): a read
the daemon gives up on (``command_abandoned``) does not hold up the exit.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from monitor.handlers import ModelReads

T = TypeVar("T")
R = TypeVar("R")

_LOOK = 0.1  # seconds between two looks at the stop flag while waiting for a read


def default_size(engine_kind: str) -> int:
    """Models read at once when ``service.poll_concurrency`` is not set."""
    return 4 if engine_kind == "local_spark" else 8


def concurrently(work: Callable[[T], R], items: Sequence[T], size: int, stop: threading.Event | None = None,
                 name: str = "poll") -> Iterator[tuple[T, R | BaseException]]:
    """``work(item)`` for every item on up to ``size`` daemon threads; (item, result or exception) as they end.

    After ``stop`` is set, no new item starts; the iterator waits for the items running then to end
    (the engine's cancel fails their statements), yields none of them, and ends. A caller that leaves
    the loop early also waits there for the items in flight (the generator's ``finally``)."""
    todo: queue.SimpleQueue[T] = queue.SimpleQueue()
    for item in items:
        todo.put(item)
    done: queue.SimpleQueue[tuple[T, R | BaseException]] = queue.SimpleQueue()
    ended = threading.Event()  # the iteration ended: a stop, or the caller left the loop

    def worker() -> None:
        while not ended.is_set() and not (stop is not None and stop.is_set()):
            try:
                item = todo.get_nowait()
            except queue.Empty:
                return
            try:
                done.put((item, work(item)))
            except BaseException as exc:  # handed to the caller, who decides
                done.put((item, exc))

    threads = [threading.Thread(target=worker, name=f"{name}-{index}", daemon=True)
               for index in range(max(1, min(size, len(items))))]
    for thread in threads:
        thread.start()
    try:
        for _ in range(len(items)):
            while not (stop is not None and stop.is_set()):
                try:
                    result = done.get(timeout=_LOOK)
                except queue.Empty:
                    continue
                break
            else:
                return
            yield result
    finally:
        # However the iteration ends (the stop, the caller's ``break``, ``return`` or exception, which
        # closes this generator), no new item starts and the items in flight are waited for: a
        # caller that goes on (a daemon closing the engine) never has work running behind its back.
        ended.set()
        for thread in threads:
            thread.join()


class PollPool:
    """Reads on ``size`` threads, judgements on the caller's (``handle``: one ``PollDue`` with its reads)."""

    def __init__(self, read: Callable[[str], ModelReads], sources: Sequence[Any], size: int,
                 model_of: Callable[[str], Any]) -> None:
        self._read = read
        self._sources = tuple(sources)
        self.size = size
        self._model_of = model_of

    def run(self, models: Sequence[str], handle: Callable[[str, ModelReads], None],
            stop: threading.Event | None = None) -> None:
        """Read ``models`` (prefetching what batches), and ``handle`` each one as its read ends."""
        models = list(dict.fromkeys(models))

        def on_pool(work: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[tuple[Any, Any]]:
            return concurrently(work, items, self.size, stop, "prefetch")

        for source in self._sources:
            prefetch = getattr(source, "prefetch", None)
            if prefetch is not None and not (stop is not None and stop.is_set()):
                prefetch([self._model_of(m) for m in models], on_pool, self.size)
        for model, result in concurrently(self._timed, models, self.size, stop):
            if stop is not None and stop.is_set():
                return
            handle(model, result if isinstance(result, ModelReads) else ModelReads(raised=result))

    def _timed(self, model: str) -> ModelReads:
        started = time.monotonic()
        try:
            return self._read(model)
        except BaseException as exc:
            return ModelReads(seconds=time.monotonic() - started, raised=exc)
