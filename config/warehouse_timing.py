"""How the SQL warehouse's timeouts must relate, checked once at config load.

The Statement Execution API holds a submit open for up to ``engine.wait_timeout`` before it answers
PENDING/RUNNING with the statement's id. So:

- ``workspace.http_timeout`` must be longer than ``wait_timeout`` with room to spare
  (``HTTP_MARGIN``): a client that gives up first never learns the statement's id, and the
  statement runs on unseen. ``wait_timeout: 0s`` (answer at once, then poll) always fits.
- ``service.shutdown_deadline`` must be at least twice ``wait_timeout``: at shutdown a submit the
  server still holds is cancelled only once its id comes back (up to ``wait_timeout`` later), and
  the rest of the deadline is for the other work that ends at shutdown.
"""

from __future__ import annotations

from datetime import timedelta

from config.durations import format_duration

HTTP_MARGIN = timedelta(seconds=10)


def warehouse_timing_problem(wait_timeout: timedelta, http_timeout: timedelta,
                             shutdown_deadline: timedelta) -> str | None:
    """What is wrong with these three settings together, in words, or None."""
    wait = format_duration(wait_timeout)
    if wait_timeout and http_timeout < wait_timeout + HTTP_MARGIN:
        return (f"workspace.http_timeout ({format_duration(http_timeout)}) must be at least engine.wait_timeout "
                f"({wait}) + {format_duration(HTTP_MARGIN)}: the warehouse holds a submit open for up to "
                f"wait_timeout, and a client that stops waiting first never learns the statement's id. Raise "
                f"http_timeout to {format_duration(wait_timeout + HTTP_MARGIN)} or more, or lower wait_timeout "
                "(0s: answer at once, then poll)")
    if wait_timeout * 2 > shutdown_deadline:
        return (f"engine.wait_timeout ({wait}) must be at most half of service.shutdown_deadline "
                f"({format_duration(shutdown_deadline)}): a submit the warehouse still holds at shutdown is "
                "cancelled only once its id comes back, up to wait_timeout later. Lower wait_timeout or raise "
                "shutdown_deadline")
    return None
