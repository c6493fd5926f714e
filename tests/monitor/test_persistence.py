"""M-of-N persistence with enter and exit levels: sequences of window severities -> alert states."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from config.signals import RiskSettings
from monitor.risk import StreamState, advance, replay_states
from monitor.risk.persistence import persistent_severity

DEFAULT = RiskSettings()
SEVERITY = {".": "ok", "l": "low", "m": "medium", "h": "high", "c": "critical"}


def alerts(sequence: str, risk: RiskSettings = DEFAULT) -> str:
    """Window severities as letters -> the alert after each window ('.' when not firing)."""
    states = replay_states([SEVERITY[c] for c in sequence], risk)  # type: ignore[misc]
    return "".join(next(k for k, v in SEVERITY.items() if v == s.severity) for s in states)


@pytest.mark.parametrize(("windows", "expected"), [
    ("....", "...."),
    ("h...", "...."),          # one noisy window does not page
    ("hh..", ".hh."),          # two of three do; it resolves after two quiet windows
    ("h.h.", "..hh"),          # two of the last three
    ("h..h", "...."),          # the last three hold only one
    ("hhhh.hhh", ".hhhhhhh"),  # one quiet window does not resolve
    ("hh.l.l.l", ".hhhhhhh"),  # low is not quiet (below the exit level, the tier under medium)
    ("hh..hh", ".hh..h"),
    ("cchcc", ".cccc"),
    ("hcchh", ".hccc"),        # critical takes two critical windows of three, and stays until resolved
    ("mhm..", ".mmm."),
    ("lll", "..."),            # low never alerts with alert_from medium
])
def test_default_persistence_two_of_three_in_two_quiet_out(windows: str, expected: str) -> None:
    assert alerts(windows) == expected


def test_flapping_input_does_not_flap_alerts() -> None:
    flapping = "h.h.h.h.h.h."
    changes = sum(1 for a, b in zip(alerts(flapping), alerts(flapping)[1:], strict=False) if (a == ".") != (b == "."))
    assert alerts(flapping) == "..hhhhhhhhhh"
    assert changes == 1


def test_separate_enter_and_exit_settings() -> None:
    risk = RiskSettings(alert_from="high", resolve_below="medium", enter={"m": 1, "n": 1}, exit={"m": 3, "n": 4})
    assert alerts("h.m..m...", risk) == "hhhh....."  # one high window enters; three quiet of four exit
    assert alerts("hmmmm.h..", risk) == "hhhhhhhh."  # medium holds (not quiet), below the entry level


def test_resolve_below_low_needs_ok_windows() -> None:
    risk = RiskSettings(resolve_below="low")
    assert alerts("hhllll..", risk) == ".hhhhhh."


def test_resolve_below_cannot_exceed_alert_from() -> None:
    with pytest.raises(ValueError, match="at or under alert_from"):
        RiskSettings(alert_from="medium", resolve_below="high")


def test_states_say_why() -> None:
    state = advance(StreamState(), ["high", "high"], DEFAULT)
    assert state.firing and state.reason == "firing: 2 of the last 2 windows at or above medium (2 needed)"
    state = advance(state, ["high", "high", "ok", "ok"], DEFAULT)
    assert not state.firing and state.reason.startswith("resolved: 2 of the last 2 windows below low")


@given(st.lists(st.sampled_from(list(SEVERITY.values())), max_size=30))
def test_a_single_window_never_starts_or_ends_an_alert(severities: list[str]) -> None:
    """With the defaults, every change of firing state is backed by at least two windows."""
    states = replay_states(severities, DEFAULT)  # type: ignore[arg-type]
    for i in range(1, len(states)):
        if states[i].firing and not states[i - 1].firing:
            assert sum(s in ("medium", "high", "critical") for s in severities[max(0, i - 2): i + 1]) >= 2
        if states[i - 1].firing and not states[i].firing:
            assert severities[i] == severities[i - 1] == "ok"


def test_persistent_severity() -> None:
    assert persistent_severity(["critical", "high", "ok"], 2) == "high"
    assert persistent_severity(["critical", "critical", "ok"], 2) == "critical"
    assert persistent_severity(["low", "ok", "ok"], 2) == "ok"
