"""Worker processes for the local scan: the kernel over local Parquet row groups, one piece per call.

Threads do not scale here: the kernel is many short numpy and pyarrow calls, so two threads spend
their time handing the GIL back and forth (measured: a 1M-row window 0.61 s on two threads, 0.37 s on
two processes, 0.8 s on one thread). The pool is started on first use (``spawn``: clean processes,
no copy of the JVM gateway's threads and locks), kept for the life of the process (a daemon profiles
every few minutes; a worker's start costs about a second of imports), and replaced if a worker dies.

Each worker raises glibc's mmap and trim thresholds: the kernel allocates and frees arrays of a batch's
size (512 KB) dozens of times per column, and by default each of them is fresh mmapped memory whose
pages fault in one by one (about a third of the kernel's time, measured).

Workers end with lakewarden: each watches its parent (``os.getppid`` every half second, on a thread)
and exits when the parent is gone, whatever killed it. Without that, a worker waits forever on its
call queue (it holds both ends of the queue's pipe, so it never sees end-of-file) and keeps the
multiprocessing resource tracker alive with it. ``terminate`` is the close path's stop: queued work
is cancelled and the workers are ended at once, since a shutdown does not wait for a scan.
"""

from __future__ import annotations

import atexit
import ctypes
import multiprocessing
import os
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from monitor.profile.direct import DirectPlan, Piece, local_threads, scan_pieces
from monitor.profile.kernel import Layout
from monitor.profile.partials import GroupKey, GroupStats, merge_into

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_KEEP_BYTES = 1 << 28

_lock = threading.Lock()
_pools: dict[int, ProcessPoolExecutor] = {}  # by size: the default (one per core), or one a caller asked for


def _init_worker() -> None:
    parent = os.getppid()
    threading.Thread(target=_exit_with, args=(parent,), name="parent-watch", daemon=True).start()
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt(_M_MMAP_THRESHOLD, _KEEP_BYTES)
        libc.mallopt(_M_TRIM_THRESHOLD, _KEEP_BYTES)
    except (OSError, AttributeError):  # not glibc: the defaults only cost time
        pass


def _exit_with(parent: int) -> None:
    """Exit once ``parent`` is gone (this process was handed to another parent: init or a subreaper)."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)  # no clean-up to do: the work is lost with the parent that asked for it


def _scan_one(piece: Piece, plan: DirectPlan, layout: Layout) -> dict[GroupKey, GroupStats]:
    return scan_pieces([piece], plan, layout)


def _executor(workers: int) -> ProcessPoolExecutor:
    with _lock:
        pool = _pools.get(workers)
        if pool is None:
            pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                       initializer=_init_worker)
            _pools[workers] = pool
        return pool


def shutdown() -> None:
    """Stop the workers (they are started again on the next scan)."""
    with _lock:
        pools = list(_pools.values())
        _pools.clear()
    for pool in pools:
        pool.shutdown(wait=True, cancel_futures=True)


def terminate() -> None:
    """Stop now: cancel queued pieces and end the workers, without waiting for the pieces they scan."""
    with _lock:
        pools = list(_pools.values())
        _pools.clear()
    for pool in pools:
        # ProcessPoolExecutor has no public way to end busy workers; its processes are in ``_processes``.
        processes = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()
        for process in processes:
            process.join(timeout=5)


atexit.register(shutdown)


def scan_parallel(found: Sequence[Piece], plan: DirectPlan, layout: Layout,
                  workers: int | None = None) -> Iterator[dict[GroupKey, GroupStats]]:
    """The statistics of each piece, in piece order, computed by the worker processes."""
    size = workers or local_threads()
    pool = _executor(size)
    futures: list[Future[dict[GroupKey, GroupStats]]] = []
    try:
        futures += [pool.submit(_scan_one, piece, plan, layout) for piece in found]
        for future in futures:
            yield future.result()
    except BrokenProcessPool:
        with _lock:  # a worker died (killed, out of memory): the next scan starts new ones
            if _pools.get(size) is pool:
                del _pools[size]
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    finally:
        for future in futures:
            future.cancel()


def scan_local(found: Sequence[Piece], plan: DirectPlan, layout: Layout,
               workers: int | None = None) -> dict[GroupKey, GroupStats]:
    """The statistics of ``found`` outside Spark: on the worker processes when there are several pieces
    and cores, else in this process; partial results merged in piece order either way."""
    size = workers or local_threads()
    partials: Iterator[dict[GroupKey, GroupStats]]
    if min(len(found), size) <= 1:
        partials = (scan_pieces([piece], plan, layout) for piece in found)
    else:
        partials = scan_parallel(found, plan, layout, size)
    groups: dict[GroupKey, GroupStats] = {}
    for partial in partials:
        for key, stats in partial.items():
            merge_into(groups, key, stats)
    return groups
