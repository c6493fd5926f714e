"""A thin in-process message bus (the cosmicpython ``messagebus.py`` shape).

Commands have exactly one handler and its errors propagate to the caller; events have any number
of handlers, and an event handler's error is logged and contained so one failing reaction never
stops the others. Handlers return follow-up messages, which are handled before ``handle`` returns.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Message:
    pass


@dataclass(frozen=True)
class Command(Message):
    pass


@dataclass(frozen=True)
class Event(Message):
    pass


# A handler takes the one message type it is registered for (hence Any) and returns follow-ups.
Handler = Callable[[Any], Iterable[Message] | None]


class MessageBus:
    def __init__(
        self,
        commands: Mapping[type[Command], Handler],
        events: Mapping[type[Event], Sequence[Handler]],
    ) -> None:
        self._commands = dict(commands)
        self._events = {kind: list(handlers) for kind, handlers in events.items()}

    def subscribe(self, kind: type[Event], handler: Handler) -> None:
        """Add an event handler (set-up time only; the bus is not locked)."""
        self._events.setdefault(kind, []).append(handler)

    def handle(self, message: Message) -> None:
        queue: deque[Message] = deque([message])
        while queue:
            current = queue.popleft()
            if isinstance(current, Command):
                handler = self._commands.get(type(current))
                if handler is None:
                    raise LookupError(f"no handler for command {type(current).__name__}")
                queue.extend(handler(current) or ())
            elif isinstance(current, Event):
                for handler in self._events.get(type(current), ()):
                    try:
                        queue.extend(handler(current) or ())
                    except Exception:
                        log.exception("event_handler_failed", event_type=type(current).__name__,
                                      handler=getattr(handler, "__qualname__", repr(handler)))
            else:
                raise TypeError(f"not a message: {current!r}")
