"""The message bus: commands raise, event handler errors are contained, follow-ups are handled."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from structlog.testing import capture_logs

from monitor.bus import Command, Event, Message, MessageBus


@dataclass(frozen=True)
class Ping(Command):
    n: int


@dataclass(frozen=True)
class Pinged(Event):
    n: int


def test_command_follow_up_events_reach_every_handler_in_order() -> None:
    seen: list[str] = []

    def ping(m: Message) -> list[Message]:
        assert isinstance(m, Ping)
        seen.append(f"ping {m.n}")
        return [Pinged(m.n)]

    bus = MessageBus({Ping: ping}, {Pinged: [lambda m: seen.append("a") or (), lambda m: seen.append("b") or ()]})
    bus.handle(Ping(1))
    assert seen == ["ping 1", "a", "b"]


def test_failing_event_handler_is_logged_and_others_still_run() -> None:
    seen: list[str] = []

    def boom(_m: Message) -> None:
        raise RuntimeError("handler broke")

    bus = MessageBus({}, {Pinged: [boom, lambda m: seen.append("after") or ()]})
    with capture_logs() as logs:
        bus.handle(Pinged(1))
    assert seen == ["after"]
    failures = [e for e in logs if e["event"] == "event_handler_failed"]
    assert len(failures) == 1 and failures[0]["event_type"] == "Pinged"


def test_command_errors_propagate_to_the_caller() -> None:
    def fail(_m: Message) -> None:
        raise ValueError("no")

    with pytest.raises(ValueError, match="no"):
        MessageBus({Ping: fail}, {}).handle(Ping(1))


def test_unknown_command_is_an_error() -> None:
    with pytest.raises(LookupError, match="Ping"):
        MessageBus({}, {}).handle(Ping(1))


def test_subscribe_adds_a_handler() -> None:
    seen: list[int] = []
    bus = MessageBus({}, {})
    bus.subscribe(Pinged, lambda m: seen.append(m.n) or ())  # type: ignore[attr-defined]
    bus.handle(Pinged(7))
    assert seen == [7]
