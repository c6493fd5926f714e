"""The daemon's inbox: commands in arrival order, at most one pending ``PollDue`` per model.

The scheduler puts a ``PollDue`` for a model every ``poll_interval``, whatever the daemon is doing.
When a poll takes longer than the interval, the polls due meanwhile would pile up (hundreds over a
slow hour) and then run back to back, each reading what the one before had just read. Here a
``PollDue`` for a model that already has one waiting is skipped instead: the waiting one reads
everything new when it runs. Skips are counted per model (``skipped``, for the future /metrics) and
logged once per coalesced poll (``polls_skipped``, when the poll that absorbed them is taken).

A poll being handled is no longer pending: one more may wait behind it, so a change that lands
during a slow poll is read right after it.

``AdvanceLifecycle`` is coalesced the same way, over all runs: one advance moves every run in
flight, so a burst of Databricks job webhooks (a start, a success, each task of a multi-task job)
and the lifecycle tick need one waiting advance, not one each. Skipped advances are counted
(``skipped_advances``) and logged once when the advance that absorbed them is taken.

An ``urgent`` poll (a model this replica just took over from a dead one, ``monitor.leases``) goes
to the front, ahead of the polls already waiting (its own waiting poll, if any, moves there): its
windows have gone unjudged since the other replica died, while the waiting ones were read a poll
interval ago. Behind a full queue it would otherwise wait a whole round of polls.
"""

from __future__ import annotations

import threading
from collections import Counter, deque

import structlog

from monitor.bus import Command
from monitor.messages import AdvanceLifecycle, PollDue

log = structlog.get_logger(__name__)


class Inbox:
    def __init__(self) -> None:
        self._items: deque[Command] = deque()
        self._ready = threading.Condition()
        self._pending: dict[str, int] = {}  # model -> skips absorbed by its waiting PollDue
        self._skipped: Counter[str] = Counter()
        self._advance_waiting: int | None = None  # skips absorbed by the waiting AdvanceLifecycle, or None
        self._advances_skipped = 0

    def put(self, command: Command, urgent: bool = False) -> bool:
        """Queue ``command`` (``urgent``: first); False when it is a poll of a model whose poll is
        already waiting (an urgent one moves that one to the front)."""
        with self._ready:
            if isinstance(command, PollDue):
                if command.model in self._pending:
                    self._pending[command.model] += 1
                    self._skipped[command.model] += 1
                    if urgent:
                        waiting = next(c for c in self._items if isinstance(c, PollDue) and c.model == command.model)
                        self._items.remove(waiting)
                        self._items.appendleft(waiting)
                    return False
                self._pending[command.model] = 0
            elif isinstance(command, AdvanceLifecycle):
                if self._advance_waiting is not None:
                    self._advance_waiting += 1
                    self._advances_skipped += 1
                    return False
                self._advance_waiting = 0
            if urgent:
                self._items.appendleft(command)
            else:
                self._items.append(command)
            self._ready.notify()
            return True

    def get(self, timeout: float) -> Command | None:
        """The oldest command, or None when none came within ``timeout`` seconds."""
        with self._ready:
            if not self._items and not self._ready.wait_for(lambda: bool(self._items), timeout):
                return None
            command = self._items.popleft()
            skips = self._pending.pop(command.model, 0) if isinstance(command, PollDue) else 0
            advances = 0
            if isinstance(command, AdvanceLifecycle):
                advances, self._advance_waiting = self._advance_waiting or 0, None
        if advances:
            log.info("lifecycle_advances_skipped", skipped=advances, total=self.skipped_advances(),
                     note="webhooks or ticks came while an advance was waiting; this one moves every run")
        if isinstance(command, PollDue):
            self._log_skips(command, skips)
        return command

    def take_polls(self, limit: int) -> list[PollDue]:
        """Up to ``limit`` more ``PollDue`` from the front of the queue (stopping at any other command,
        which keeps its place): the daemon polls them together (``monitor.poll_pool``)."""
        taken: list[tuple[PollDue, int]] = []
        with self._ready:
            while self._items and len(taken) < limit and isinstance(head := self._items[0], PollDue):
                self._items.popleft()
                taken.append((head, self._pending.pop(head.model, 0)))
        for command, skips in taken:
            self._log_skips(command, skips)
        return [command for command, _ in taken]

    def _log_skips(self, command: PollDue, skips: int) -> None:
        if skips:
            log.info("polls_skipped", model=command.model, skipped=skips, total=self.skipped(command.model),
                     note="the previous poll outlasted poll_interval; this poll reads everything new")

    def drain(self) -> list[Command]:
        """Take every waiting command (at shutdown: they are dropped, the next start polls again)."""
        with self._ready:
            items, self._items = list(self._items), deque()
            self._pending.clear()
            self._advance_waiting = None
        return items

    def empty(self) -> bool:
        with self._ready:
            return not self._items

    def qsize(self) -> int:
        with self._ready:
            return len(self._items)

    def pending_polls(self) -> dict[str, int]:
        """Model -> waiting PollDue commands (0 or 1 each)."""
        with self._ready:
            return Counter(c.model for c in self._items if isinstance(c, PollDue))

    def skipped(self, model: str | None = None) -> int:
        """Polls skipped because one was already waiting: for ``model``, or in all."""
        with self._ready:
            return self._skipped[model] if model is not None else sum(self._skipped.values())

    def skipped_polls(self) -> dict[str, int]:
        """Model -> polls skipped since start (a counter: it only grows)."""
        with self._ready:
            return dict(self._skipped)

    def skipped_advances(self) -> int:
        """AdvanceLifecycle commands skipped because one was already waiting (a counter: it only grows)."""
        with self._ready:
            return self._advances_skipped
