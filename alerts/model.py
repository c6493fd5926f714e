"""The alert: what the monitor hands to this package. Identity is the label set (its fingerprint)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211
_MASK = (1 << 64) - 1
_SEPARATOR = 0xFF


class LabelSet(Mapping[str, str]):
    """An immutable, hashable ``str -> str`` mapping kept in name order."""

    __slots__ = ("_index", "_items")
    _items: tuple[tuple[str, str], ...]
    _index: dict[str, str]

    def __init__(self, items: Mapping[str, str] | None = None) -> None:
        if isinstance(items, LabelSet):
            self._items, self._index = items._items, items._index
            return
        pairs = sorted((items or {}).items())
        for name, value in pairs:
            if not isinstance(name, str) or not isinstance(value, str):
                raise TypeError(f"label names and values must be strings, got {name!r}: {value!r}")
        self._items = tuple(pairs)
        self._index = dict(pairs)

    @classmethod
    def trusted(cls, items: Mapping[str, str]) -> LabelSet:
        """``LabelSet(items)`` for values checked before (read back from the state database)."""
        if type(items) is LabelSet:  # not isinstance: an ABC check on every dict costs more than the rest
            return items
        made = object.__new__(cls)
        made._items = tuple(sorted(items.items()))
        made._index = dict(made._items)
        return made

    def __getitem__(self, key: str) -> str:
        return self._index[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)  # built from the sorted pairs: name order

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._index

    def get(self, key: str, default: Any = None) -> Any:
        return self._index.get(key, default)

    def __hash__(self) -> int:
        return hash(self._items)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LabelSet):
            return self._items == other._items
        if isinstance(other, Mapping):
            return dict(self._items) == dict(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"LabelSet({dict(self._items)!r})"

    def __str__(self) -> str:
        """Alertmanager's form: ``{a="1", b="2"}``."""
        return "{" + ", ".join(f'{k}="{_escape(v)}"' for k, v in self._items) + "}"

    def as_dict(self) -> dict[str, str]:
        """A new ``dict`` with the same items, in name order."""
        return dict(self._index)

    def items_tuple(self) -> tuple[tuple[str, str], ...]:
        return self._items


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def fingerprint(labels: Mapping[str, str]) -> str:
    """Alertmanager's fingerprint: FNV-1a 64 over sorted ``name 0xff value 0xff``, 16 hex digits."""
    h = _FNV_OFFSET
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in part.encode("utf-8"):
                h = ((h ^ byte) * _FNV_PRIME) & _MASK
            h = ((h ^ _SEPARATOR) * _FNV_PRIME) & _MASK
    return f"{h:016x}"


def without_empty(labels: Mapping[str, str]) -> dict[str, str]:
    """``labels`` less those whose value is empty. Alertmanager drops them from every alert it
    receives, so an empty value and an absent label are the same alert (fingerprint), the same
    match and the same group key; :class:`Alert` does this on creation."""
    return {name: value for name, value in labels.items() if value != ""}


def _aware(value: datetime, what: str) -> datetime:
    if value.tzinfo is UTC:
        return value
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware (UTC), got naive {value.isoformat()}")
    return value.astimezone(UTC)


@dataclass(frozen=True)
class Alert:
    """A firing (or ended) alert. ``ends_at`` set and not in the future means resolved.

    Labels with an empty value are dropped (:func:`without_empty`), as Alertmanager drops them."""

    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: datetime
    ends_at: datetime | None = None
    fingerprint: str = field(init=False, compare=False)

    def __post_init__(self) -> None:
        labels = self.labels if isinstance(self.labels, LabelSet) else LabelSet(self.labels)
        if any(value == "" for value in labels.values()):
            labels = LabelSet(without_empty(labels))
        if not labels:
            raise ValueError("an alert needs at least one label with a value")
        object.__setattr__(self, "labels", labels)
        if not isinstance(self.annotations, LabelSet):
            object.__setattr__(self, "annotations", LabelSet(self.annotations))
        object.__setattr__(self, "starts_at", _aware(self.starts_at, "starts_at"))
        if self.ends_at is not None:
            object.__setattr__(self, "ends_at", _aware(self.ends_at, "ends_at"))
        object.__setattr__(self, "fingerprint", fingerprint(labels))

    @classmethod
    def restore(cls, labels: Mapping[str, str], annotations: Mapping[str, str], starts_at: datetime,
                ends_at: datetime | None, fingerprint: str) -> Alert:
        """An alert read back from the state database: values were checked when it was stored, and
        its fingerprint is known, so nothing is recomputed (the flush reads thousands of them)."""
        alert = object.__new__(cls)
        # Straight into the instance dict: the frozen dataclass's __setattr__ refuses, and this is hot.
        alert.__dict__.update(labels=LabelSet.trusted(labels), annotations=LabelSet.trusted(annotations),
                              starts_at=starts_at, ends_at=ends_at, fingerprint=fingerprint)
        return alert

    def with_times(self, starts_at: datetime, ends_at: datetime | None = None) -> Alert:
        """The same alert (labels, annotations, fingerprint) with another episode's times."""
        if starts_at == self.starts_at and ends_at == self.ends_at:
            return self  # immutable: the same times need no copy
        return Alert.restore(self.labels, self.annotations, _aware(starts_at, "starts_at"),
                             None if ends_at is None else _aware(ends_at, "ends_at"), self.fingerprint)

    def resolved_at(self, now: datetime) -> datetime | None:
        """When the alert ended, if it has ended by ``now``; else ``None``."""
        if self.ends_at is not None and self.ends_at <= now:
            return self.ends_at
        return None

    def is_resolved(self, now: datetime) -> bool:
        return self.ends_at is not None and self.ends_at <= now

    def to_json(self) -> dict[str, Any]:
        """The webhook form: ``labels``, ``annotations``, ``startsAt``, ``endsAt``, ``fingerprint``."""
        return {
            "labels": plain(self.labels),
            "annotations": plain(self.annotations),
            "startsAt": iso(self.starts_at),
            "endsAt": iso(self.ends_at) if self.ends_at is not None else None,
            "fingerprint": self.fingerprint,
        }


def iso(value: datetime) -> str:
    """``2024-05-01T12:00:00Z`` (UTC, ``Z`` suffix, microseconds only when present)."""
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.isoformat().replace("+00:00", "Z")


def plain(mapping: Mapping[str, str]) -> dict[str, str]:
    """A new ``dict`` of ``mapping`` (the quick way for a :class:`LabelSet`)."""
    return mapping.as_dict() if type(mapping) is LabelSet else dict(mapping)
