"""Freshness as a source: the newest window of a model's streams, one window per ``signals.freshness.window``.

A metric table whose monitor stopped refreshing, or a payload table nobody writes to any more,
brings no new window: nothing is judged and, without this, nothing says so. So the newest window
of every other stream (``Source.newest``: one small query per stream and poll) is a stream of its
own (``freshness:1h``), like the monitor's status (``monitor_status``): the window is the current
period of ``window`` length, its inputs the facts (each stream's table and newest window, and the
app clock's time they were read at), its version a digest of the facts and of whether each stream
is past its limit. A poll that sees the same facts again changes nothing; a table that gets a new
window, or crosses its limit, re-judges the period's window; the next period is a new window, so
M-of-N persistence counts periods. ``monitor.risk.freshness_rules`` judges it against the same
time the facts were read at, so a replay gives the same answer.

A stream whose table cannot be read is left out with a note: its own source reports the failure.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime

from config.basics.clock import Clock
from config.durations import format_duration
from config.freshness_signals import FreshnessSignal
from config.models import ModelSettings
from monitor.engines.base import EngineError
from monitor.observations import Freshness, Newest, WindowMetrics
from monitor.sources.base import Source, SourceError, Stream
from monitor.sources.monitor_status import period

KIND = "freshness"


class FreshnessSource:
    kind = KIND

    def __init__(self, sources: Sequence[Source], clock: Clock) -> None:
        self._sources = tuple(sources)
        self._clock = clock

    def streams(self, model: ModelSettings) -> list[Stream]:
        signal = model.signals.freshness
        if not signal.enabled or not any(source.streams(model) for source in self._sources):
            return []
        return [Stream(self.kind, format_duration(signal.window))]

    def prepare(self, model: ModelSettings) -> None:
        """Nothing to prepare: the other sources' newest windows are read in ``read``."""

    def horizon(self, model: ModelSettings) -> datetime:
        return self._clock() - 2 * model.signals.freshness.window

    def newest(self, model: ModelSettings, stream: Stream) -> Newest | None:
        return None

    def read(self, model: ModelSettings, stream: Stream,
             known: Mapping[tuple[datetime, datetime], str | None] | None = None) -> list[WindowMetrics]:
        """The current period's window when the newest windows differ from the facts judged for it."""
        now = self._clock()
        facts, notes = self.facts(model)
        if not facts:
            return []  # no table could be read: each source reports its own failure
        signal = model.signals.freshness
        start, end = period(now, signal.window)
        version = _version(facts, signal, now)
        if (known or {}).get((start, end)) == version:
            return []
        return [WindowMetrics(model=model.name, source=self.kind, granularity=stream.granularity, window_start=start,
                              window_end=end, monitor_version=None, row_count=None, version=version,
                              notes=tuple(notes), freshness=Freshness(now, tuple(facts)))]

    def facts(self, model: ModelSettings) -> tuple[list[Newest], list[str]]:
        """The newest window of each stream of the other sources, and a note per stream that could not be read."""
        facts, notes = [], []
        for source in self._sources:
            for stream in source.streams(model):
                try:
                    found = source.newest(model, stream)
                except (SourceError, EngineError) as exc:
                    notes.append(f"the newest window of {stream.name} could not be read: {exc}")
                    continue
                if found is not None:
                    facts.append(found)
        return facts, notes


def _version(facts: Sequence[Newest], signal: FreshnessSignal, now: datetime) -> str:
    """What changes when the judgement could: each stream's table, newest window, and whether it is past its limit."""
    parts = []
    for n in facts:
        stale = n.window_end is None or now - n.window_end > signal.stale_after(n.granularity)
        start = n.window_start.isoformat() if n.window_start else "-"
        end = n.window_end.isoformat() if n.window_end else "-"
        parts.append(f"{n.stream}={n.table}@{start}/{end}:{'stale' if stale else 'fresh'}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]
