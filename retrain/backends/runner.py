"""A tiny wrapper around one local job: claim it, run it, then write its exit status to a file.

Usage: ``python -I runner.py --report-fd=N CLAIM_FILE EXIT_FILE TARGET [ARGS...]`` where TARGET is a
module name (run as ``python -m TARGET``) or the path of a ``.py`` script.

The claim and the spawn are one step: the runner itself creates CLAIM_FILE, atomically and only if
it does not exist yet (a hard link of a finished temporary file), holding
``{"pid", "started", "target", "claimed_at"}`` (its own pid and its start time from ``/proc``), and
only the runner that created it starts the job. It then writes ``claimed`` (or ``taken`` when
another runner holds the claim) to the pipe ``--report-fd`` and closes it, so the daemon that
spawned it knows which. Whatever moment the daemon is killed at, the claim file therefore means
"a runner with this pid and start time took the job", never "someone meant to start it": alive is
running, dead without an exit file is "started and died".

The exit file is JSON ``{"returncode": int, "finished_at": ISO, "signal": name | null}``, written
atomically, so the job's outcome survives a restart of the daemon that started it. Standard library
only: the backend starts it with ``-I`` and its own path, so it never depends on what the job's
environment can import. SIGTERM and SIGINT are passed on to the job and the runner still writes
the exit file.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType


def _write_exit(exit_file: Path, returncode: int, signal_name: str | None, error: str | None) -> None:
    record = {
        "returncode": returncode,
        "finished_at": datetime.now(UTC).isoformat(),
        "signal": signal_name,
        "error": error,
    }
    tmp = exit_file.with_name(exit_file.name + ".tmp")
    tmp.write_text(json.dumps(record), encoding="utf-8")
    os.replace(tmp, exit_file)


def command(target: str, args: list[str]) -> list[str]:
    """The job's command line: a script path or ``-m module``."""
    if target.endswith(".py") or os.sep in target:
        return [sys.executable, target, *args]
    return [sys.executable, "-m", target, *args]


def process_start(pid: int) -> str | None:
    """A living process's start time (clock ticks after boot, from /proc), or None without procfs.

    Zombies count as not started: they have finished.
    """
    try:
        fields = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] in ("Z", "X") else fields[19]


def take_claim(claim_file: Path, target: str) -> bool:
    """Create ``claim_file`` holding this process's identity, unless it exists; whether this call created it."""
    record = {"pid": os.getpid(), "started": process_start(os.getpid()), "target": target,
              "claimed_at": datetime.now(UTC).isoformat()}
    tmp = claim_file.with_name(f"{claim_file.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record), encoding="utf-8")
    try:
        os.link(tmp, claim_file)  # atomic, fails when the claim exists: never a half-written claim
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)
    return True


def _report(fd: int | None, word: str) -> None:
    if fd is None:
        return
    try:
        os.write(fd, word.encode("ascii"))
    except OSError:
        pass  # the daemon that asked is gone: the claim file says it all
    finally:
        os.close(fd)


def main(argv: list[str]) -> int:
    report_fd = None
    if argv and argv[0].startswith("--report-fd="):
        report_fd, argv = int(argv[0].split("=", 1)[1]), argv[1:]
    if len(argv) < 3:
        sys.stderr.write("usage: runner.py [--report-fd=N] CLAIM_FILE EXIT_FILE TARGET [ARGS...]\n")
        return 2
    claim_file, exit_file, target, args = Path(argv[0]), Path(argv[1]), argv[2], argv[3:]
    if not take_claim(claim_file, target):
        _report(report_fd, "taken")
        return 0
    _report(report_fd, "claimed")
    received: list[int] = []
    children: list[subprocess.Popen[bytes]] = []

    def forward(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    try:
        child = subprocess.Popen(command(target, args), stdin=subprocess.DEVNULL)
    except OSError as exc:
        sys.stderr.write(f"lakewarden runner: could not start {target}: {exc}\n")
        _write_exit(exit_file, 127, None, str(exc))
        return 127
    children.append(child)
    if received:  # asked to stop while the job was being started
        child.send_signal(received[0])
    returncode = child.wait()
    signal_name = signal.Signals(-returncode).name if returncode < 0 else None
    if signal_name is None and received:
        signal_name = signal.Signals(received[0]).name
    _write_exit(exit_file, returncode, signal_name, None)
    return 0 if returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
