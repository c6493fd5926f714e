"""What every source offers the poll handler: its streams, how far back to look, the changed windows, the newest one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from config.models import ModelSettings
from monitor.observations import Newest, WindowMetrics, stream_name


class SourceError(Exception):
    """A source could not be read; the message names the model, the table and what to do."""


@dataclass(frozen=True)
class Stream:
    """A series of windows judged in order: one source and one granularity."""

    source: str
    granularity: str

    @property
    def name(self) -> str:
        return stream_name(self.source, self.granularity)


class Source(Protocol):
    kind: str

    def streams(self, model: ModelSettings) -> list[Stream]:
        """The model's streams from this source (none when the model does not use it)."""
        ...

    def prepare(self, model: ModelSettings) -> None:
        """Work before reading the model's streams (e.g. unpacking payloads); raises SourceError."""
        ...

    def horizon(self, model: ModelSettings) -> datetime:
        """Windows that ended after this are read, and compared with the stored versions."""
        ...

    def read(self, model: ModelSettings, stream: Stream,
             known: Mapping[tuple[datetime, datetime], str | None] | None = None) -> list[WindowMetrics]:
        """Windows of ``stream`` that are new or whose version differs from ``known``, oldest first."""
        ...

    def newest(self, model: ModelSettings, stream: Stream) -> Newest | None:
        """The newest window the stream's table holds, in or out of ``lookback`` (one small query), for
        ``signals.freshness``; None when the source has no table whose age means anything (a status
        stream). Raises SourceError when the table cannot be read."""
        ...


def read_streams(source: Source, model: ModelSettings, streams: Sequence[Stream],
                 known: Mapping[str, Mapping[tuple[datetime, datetime], str | None]]
                 ) -> list[tuple[Stream, WindowMetrics]]:
    """The new and rewritten windows of each stream, stream by stream, each oldest first: in one go
    when the source reads all its streams at once (``read_many``: fewer statements), else stream by stream."""
    many = getattr(source, "read_many", None)
    if many is not None:
        found: dict[str, list[WindowMetrics]] = many(model, streams, known)
        return [(stream, window) for stream in streams for window in found.get(stream.name, [])]
    return [(stream, window) for stream in streams for window in source.read(model, stream, known[stream.name])]
