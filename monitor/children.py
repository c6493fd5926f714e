"""The last step of every shutdown: no child process of lakewarden outlives it.

By the time this runs, the close paths have already stopped what they own (Spark stopped, the profile
pool's workers ended, whose end lets the multiprocessing resource tracker end too). What is left is
what could not be stopped in time: the JVM of a Spark session still starting, a tracker still
cleaning up, and Spark's JVM itself, which outlives its stopped session (py4j's gateway to it is shut
first, so no message is cut short by its end: ``LocalSparkEngine.let_go_of_jvm``). Each direct
child gets SIGTERM, then SIGKILL once ``grace`` has passed, and is reaped.

Local lifecycle jobs started by ``lakewarden run`` are deliberately left alone: they run in their own
session (``retrain.backends.local``) so that a restarted daemon adopts them, and a child that leads
its own session is skipped unless ``detached=True`` (the demo, which must leave nothing behind: such
a child's whole process group is signalled, so the job under its runner ends too).

The multiprocessing resource tracker is left out: it ignores SIGTERM, and it exits by itself as
soon as every holder of its pipe is gone (the pool's workers are ended before this runs, and this
process closes its end when it exits), unlinking any semaphore left behind.

Linux only (``/proc``); elsewhere nothing is done.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)


def children(pid: int | None = None) -> list[int]:
    """The living direct children of ``pid`` (default: this process), from ``/proc``."""
    parent = os.getpid() if pid is None else pid
    found = []
    for entry in Path("/proc").iterdir() if Path("/proc/self/stat").exists() else ():
        if not entry.name.isdigit():
            continue
        stat = _stat(int(entry.name))
        if stat is not None and stat[0] not in ("Z", "X") and int(stat[1]) == parent:
            found.append(int(entry.name))
    return found


def _stat(pid: int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name: state, ppid, pgrp, session, ..."""
    try:
        return Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def leads_session(pid: int) -> bool:
    stat = _stat(pid)
    return stat is not None and int(stat[3]) == pid


def end_children(grace: float, *, detached: bool = False) -> list[int]:
    """SIGTERM every child (see the module docstring), SIGKILL after ``grace`` s; the pids signalled."""
    from monitor.engines.local_spark import LocalSparkEngine  # noqa: PLC0415 - Spark is imported only if used

    LocalSparkEngine.let_go_of_jvm()  # its JVM is one of the children: py4j stops talking to it first
    tracker = _resource_tracker()
    targets = [pid for pid in children() if pid != tracker and (detached or not leads_session(pid))]
    if not targets:
        return []
    groups = {pid for pid in targets if leads_session(pid)}
    _signal(targets, groups, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and (alive := _reap(targets)):
        time.sleep(0.05)
    alive = _reap(targets)
    if alive:
        _signal(alive, groups, signal.SIGKILL)
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline and _reap(alive):
            time.sleep(0.02)
    log.info("children_ended", pids=targets, killed=alive)
    return targets


def _resource_tracker() -> int | None:
    from multiprocessing import resource_tracker  # noqa: PLC0415

    pid = getattr(resource_tracker._resource_tracker, "_pid", None)  # private: no public accessor
    return pid if isinstance(pid, int) else None


def _signal(pids: list[int], groups: set[int], sig: signal.Signals) -> None:
    for pid in pids:
        try:
            if pid in groups:
                os.killpg(pid, sig)
            else:
                os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            continue


def _reap(pids: list[int]) -> list[int]:
    """The pids still alive; zombies among them are collected."""
    alive = []
    for pid in pids:
        try:
            done, _status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:  # already collected (by its Popen)
            continue
        if done == 0:
            alive.append(pid)
    return alive
