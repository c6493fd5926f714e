"""``lakewarden demo`` as a real child process, stopped by SIGTERM once it runs everything it starts.

The demo is stopped while a retrain job is running (a local job runner, in its own session, and the
job under it), with the profile pool's workers, the multiprocessing resource tracker and the Spark
JVM alive. It must exit 0 within its shutdown deadline plus a margin and leave nothing behind: no
process of its process group, none of the processes it started (sampled while it ran: an orphan is
handed to init and no longer found under the demo's pid), and no process of a session one of them
leads (the job under its runner). A second SIGTERM while it stops exits at once (128 + SIGTERM),
leaving nothing behind either.

The demo's folders are under ``tmp_path``: ``--workdir`` (state, lakehouse, MLflow, jobs) and the
working directory (anything Spark or MLflow writes next to it).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.monitor.cli_support import log_events, signal_and_wait, subprocess_env, wait_for

pytestmark = pytest.mark.integration

DEADLINE = 20.0  # service.shutdown_deadline of config/examples/local.yaml, which the demo runs
MARGIN = 15.0  # the CLI's end of children (5 s grace) and stopping Spark
EMPTY = 15.0  # seconds for the process group (and everything the demo started) to be gone
READY = 300.0  # the demo starts its first retrain about a minute in; allow for a loaded machine
FORCED = 3.0  # a second signal: the interpreter's exit after killing the children


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    pgrp: int
    session: int
    started: int  # clock ticks since boot: the same pid reused later is another process
    cmdline: str

    def __str__(self) -> str:
        return f"{self.pid} (group {self.pgrp}, session {self.session}): {self.cmdline[:160]}"


def _proc(pid: int) -> Proc | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (OSError, IndexError):
        return None
    if fields[0] in ("Z", "X"):  # ended, not yet reaped
        return None
    return Proc(pid, int(fields[1]), int(fields[2]), int(fields[3]), int(fields[19]), cmdline.strip())


def _all() -> list[Proc]:
    return [p for entry in Path("/proc").iterdir() if entry.name.isdigit() and (p := _proc(int(entry.name)))]


def _alive(proc: Proc) -> bool:
    now = _proc(proc.pid)
    return now is not None and now.started == proc.started


@dataclass
class Watch:
    """Every descendant of ``root`` seen while it runs, sampled on a thread every 0.1 s."""

    root: int
    seen: dict[tuple[int, int], Proc] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    done: threading.Event = field(default_factory=threading.Event)

    def sample(self) -> list[Proc]:
        procs = _all()
        found, frontier = [], {self.root}
        while frontier:
            kids = [p for p in procs if p.ppid in frontier]
            found += kids
            frontier = {p.pid for p in kids}
        with self.lock:
            for proc in found:
                self.seen[(proc.pid, proc.started)] = proc
        return found

    def _run(self) -> None:
        while not self.done.wait(0.1):
            self.sample()

    def start(self) -> None:
        threading.Thread(target=self._run, name="demo-watch", daemon=True).start()

    def all_seen(self) -> list[Proc]:
        with self.lock:
            return list(self.seen.values())

    def left(self) -> list[Proc]:
        """What outlives the demo: a process it started, or one of its group or of a session it started."""
        seen = self.all_seen()
        sessions = {self.root} | {p.session for p in seen if p.session == p.pid}
        left = {p.pid: p for p in seen if _alive(p)}
        left.update({p.pid: p for p in _all() if p.pgrp == self.root or p.session in sessions})
        return list(left.values())


class Demo:
    """``python -m monitor demo --workdir <tmp>/demo`` in its own session, working directory ``tmp``."""

    def __init__(self, tmp: Path) -> None:
        self.workdir = tmp / "demo"
        self.stdout_path = tmp / "demo.out"
        self._out = self.stdout_path.open("w", encoding="utf-8")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "monitor", "demo", "--workdir", str(self.workdir)],
            env=subprocess_env(), stdout=self._out, stderr=subprocess.STDOUT, cwd=tmp,
            start_new_session=True,  # its own process group and session: what it leaves is found
        )
        self.watch = Watch(self.process.pid)
        self.watch.start()

    def timeline(self) -> str:
        self._out.flush()
        return self.stdout_path.read_text(encoding="utf-8", errors="replace")

    def events(self, name: str) -> list[dict[str, Any]]:
        path = self.workdir / "lakewarden.log"
        text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
        return [e for e in log_events(text) if e.get("event") == name]

    def running(self, part: str) -> list[Proc]:
        return [p for p in self.watch.sample() if part in p.cmdline]

    def job_runner(self) -> list[Proc]:
        """A local job runner (its own session) with its job under it."""
        procs = self.watch.sample()
        runners = [p for p in procs if p.session == p.pid and "runner.py" in p.cmdline]
        return [r for r in runners if any(p.ppid == r.pid for p in procs)]

    def signal_and_wait(self, timeout: float) -> tuple[int, float]:
        return signal_and_wait(self.process, signal.SIGTERM, timeout, lambda: f"the demo:\n{self.timeline()[-3000:]}")

    def nothing_left(self) -> None:
        try:
            wait_for(lambda: not self.watch.left(), EMPTY, "every process the demo started to end")
        except AssertionError:
            left = "\n".join(str(p) for p in self.watch.left())
            raise AssertionError(f"left behind by the demo:\n{left}\n{self.timeline()[-2000:]}") from None

    def close(self) -> None:
        self.watch.done.set()
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
        for proc in self.watch.left():  # a failed test leaves nothing either
            with contextlib.suppress(OSError):
                if _alive(proc):
                    os.kill(proc.pid, signal.SIGKILL)
        self._out.close()


@contextmanager
def demo_process(tmp: Path) -> Iterator[Demo]:
    demo = Demo(tmp)
    try:
        yield demo
    finally:
        demo.close()


def _everything_started(demo: Demo) -> bool:
    """Windows judged (the pool's workers, the resource tracker, the JVM) and a retrain job running."""
    if demo.process.poll() is not None:
        raise AssertionError(f"the demo ended early with {demo.process.returncode}:\n{demo.timeline()[-3000:]}")
    return "risk" in demo.timeline() and bool(demo.job_runner())


def _started_all(demo: Demo) -> None:
    wait_for(lambda: _everything_started(demo), READY, "judged windows and a retrain job running")
    seen = demo.watch.all_seen()
    assert [p for p in seen if "java" in p.cmdline.split(" ", 1)[0]], "no Spark JVM seen"
    assert [p for p in seen if "resource_tracker" in p.cmdline], "no multiprocessing resource tracker seen"
    assert [p for p in seen if "multiprocessing.spawn" in p.cmdline or "spawn_main" in p.cmdline], \
        "no profile pool worker seen"


def test_sigterm_stops_the_demo_with_exit_0_and_leaves_no_process(tmp_path: Path) -> None:
    with demo_process(tmp_path) as demo:
        _started_all(demo)
        code, took = demo.signal_and_wait(DEADLINE + MARGIN)
        demo.watch.done.set()
        timeline = demo.timeline()
        assert code == 0, timeline[-3000:]
        assert took < DEADLINE + MARGIN
        assert "stopped by a signal" in timeline, timeline[-3000:]
        assert "Traceback" not in timeline, timeline[timeline.find("Traceback") - 500:][:4000]
        demo.nothing_left()
    print(f"demo stopped in {took:.1f} s; processes seen: {len(demo.watch.all_seen())}")


def test_a_second_sigterm_while_the_demo_stops_exits_at_once_and_leaves_no_process(tmp_path: Path) -> None:
    with demo_process(tmp_path) as demo:
        _started_all(demo)
        demo.process.send_signal(signal.SIGTERM)
        wait_for(lambda: bool(demo.events("daemon_stopping")) or demo.process.poll() is not None, 10,
                 "daemon_stopping in the demo's log")
        assert demo.process.poll() is None, "the demo stopped before a second signal could be sent"
        code, took = demo.signal_and_wait(FORCED + 10)
        demo.watch.done.set()
        assert code == 128 + signal.SIGTERM, demo.timeline()[-3000:]
        assert took < FORCED
        (forced,) = [e for e in log_events(demo.timeline()) if e.get("event") == "shutdown_forced"]
        assert forced["signal"] == "SIGTERM" and forced["exit_code"] == 128 + signal.SIGTERM
        demo.nothing_left()
