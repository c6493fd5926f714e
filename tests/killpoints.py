"""The kill-point harness: a stand-in daemon that SIGKILLs itself right before or after a side effect.

A driver (``tests/retrain/crash_driver.py``, ``tests/databricks/dbx_lifecycle_driver.py``) wraps
each side-effect call of its backends with :meth:`Calls.around`. ``--crash=LABEL`` kills it right
after the call labelled LABEL returned (the side effect is done, the lifecycle has not recorded
it); ``--crash=before:LABEL`` right before the call (everything earlier is recorded, this is not
done). This is the only kill hook: production code has none.

Batching: ``serve(main, prepare)`` turns a driver into a fork server. Started once per test module
(:class:`ForkServer`), it pays the expensive set-up once, in ``prepare`` before the first fork:
importing MLflow, its SQLAlchemy stores and alembic (MLflow imports its stores lazily, on a
client's first call: 2-7 s per process), the databricks-sdk. Each ``ForkServer.life(argv)`` forks
a child that runs ``main(argv)`` as one life of the daemon (a real process that really dies of
SIGKILL) and answers its exit status (``-9`` when killed). ``prepare`` must leave no open database
connection or thread behind: a forked child inherits both.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any


class Calls:
    """The side-effect log of every life (``{"pid", "label"}`` JSON lines), and the kill point."""

    def __init__(self, path: Path, crash: str | None) -> None:
        self.path = path
        self.crash = crash

    def _write(self, label: str) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps({"pid": os.getpid(), "label": label}) + "\n")

    def _kill(self, label: str) -> None:
        self._write("CRASH")
        os.kill(os.getpid(), signal.SIGKILL)

    def before(self, label: str) -> None:
        if self.crash == f"before:{label}":
            self._kill(label)

    def done(self, label: str) -> None:
        self._write(label)
        if self.crash == label:
            self._kill(label)

    def around(self, target: Any, method: str, label: Callable[..., str]) -> None:
        """Wrap ``target.method``: a kill point before it, its label logged (and a kill point) after it."""
        original = getattr(target, method)

        def call(*args: Any, **kwargs: Any) -> Any:
            name = label(*args, **kwargs)
            self.before(name)
            result = original(*args, **kwargs)
            self.done(name)
            return result

        setattr(target, method, call)


def serve(main: Callable[[list[str]], int], prepare: Callable[[], None] = lambda: None) -> int:
    """``prepare()``, then read argv lists (JSON lines) on stdin; run each in a forked child; answer its exit status."""
    prepare()
    for line in sys.stdin:
        argv = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            os.dup2(2, 1)  # the child's prints go to the log, never into the answers
            code = 70
            try:
                code = main(argv)
            except BaseException:
                import traceback

                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        print(json.dumps({"pid": pid, "returncode": code}), flush=True)
    sys.stderr.flush()
    os._exit(0)  # no interpreter teardown of MLflow's module graph: seconds for nothing


class ForkServer:
    """A driver started once with ``--serve``; ``life(argv)`` runs one life of the daemon in a fork."""

    def __init__(self, driver: Path, env: dict[str, str], log: Path) -> None:
        self.log = log
        self._out: IO[str] = log.open("a", encoding="utf-8")
        self.proc = subprocess.Popen([sys.executable, str(driver), "--serve"], env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._out, text=True)

    def life(self, argv: list[str]) -> int:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(argv) + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline()
        if not answer:
            raise RuntimeError(f"the fork server ended:\n{self.log.read_text()[-4000:]}")
        return int(json.loads(answer)["returncode"])

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)
        self._out.close()
