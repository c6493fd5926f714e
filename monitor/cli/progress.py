"""Progress for commands that take more than a few seconds (``check``, ``profile``, ``demo``,
``monitors refresh --wait``): a spinner with what is being done, on stderr, only when stderr is a
terminal. Into a pipe, a file or a CI log nothing extra is written: stdout stays the command's output
and stderr its logs.

``rich`` draws it (a maintained library: its live display erases itself, so the lines the command
prints stay as they are).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol, TextIO


class Progress(Protocol):
    def update(self, text: str) -> None: ...

    def done(self) -> None:
        """Erase the spinner now (before the command prints its result)."""


class _Silent:
    def update(self, text: str) -> None:
        pass

    def done(self) -> None:
        pass


class _Spinner:
    def __init__(self, live: Any, spinner: Any) -> None:
        self._live = live
        self._spinner = spinner

    def update(self, text: str) -> None:
        self._spinner.update(text=text)

    def done(self) -> None:
        self._live.stop()


def on_terminal(stream: TextIO | None = None) -> bool:
    stream = sys.stderr if stream is None else stream
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed or not a real stream
        return False


@contextmanager
def progress(text: str, stream: TextIO | None = None) -> Iterator[Progress]:
    """``with progress("polling churn...") as p: ... p.update("...")``: a spinner on a terminal, nothing
    otherwise."""
    stream = sys.stderr if stream is None else stream
    if not on_terminal(stream):
        yield _Silent()
        return
    from rich.console import Console  # noqa: PLC0415 - only a terminal needs it
    from rich.live import Live  # noqa: PLC0415
    from rich.spinner import Spinner  # noqa: PLC0415

    console = Console(file=stream, force_terminal=True, highlight=False)
    spinner = Spinner("dots", text=text)
    # What the command prints meanwhile goes above the spinner when stdout is the same terminal; into a
    # pipe or a file it goes untouched.
    live = Live(spinner, console=console, transient=True, refresh_per_second=8,
                redirect_stdout=on_terminal(sys.stdout), redirect_stderr=False)
    with live:
        yield _Spinner(live, spinner)
