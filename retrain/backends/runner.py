"""A tiny wrapper around one local job: run it, then write its exit status to a file.

Usage: ``python -I runner.py EXIT_FILE TARGET [ARGS...]`` where TARGET is a module name (run as
``python -m TARGET``) or the path of a ``.py`` script. The exit file is JSON
``{"returncode": int, "finished_at": ISO, "signal": name | null}``, written atomically, so the job's
outcome survives a restart of the daemon that started it. Standard library only: the backend starts
it with ``-I`` and its own path, so it never depends on what the job's environment can import.
SIGTERM and SIGINT are passed on to the job and the runner still writes the exit file.
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


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        sys.stderr.write("usage: runner.py EXIT_FILE TARGET [ARGS...]\n")
        return 2
    exit_file, target, args = Path(argv[0]), argv[1], argv[2:]
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
