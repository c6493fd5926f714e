"""Label sets by fingerprint, remembered in this process.

A fingerprint is the hash of a label set and the state table's key, so the labels behind one never
change: a flush that reads thousands of group members takes the labels of the alerts this process
synced (or read before) from here instead of decoding them again, and reads from the database only
those it has not seen (another process synced them, or this one restarted). Bounded: when full it
starts over, which costs reads, never correctness.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from alerts.model import LabelSet

_LIMIT = 65_536  # as many as the route cache held label sets before
_KNOWN: dict[str, LabelSet] = {}


def remember(fingerprint: str, labels: LabelSet) -> None:
    if len(_KNOWN) >= _LIMIT:
        _KNOWN.clear()
    _KNOWN[fingerprint] = labels


def lookup(fingerprints: Iterable[str],
           read: Callable[[list[str]], Iterable[tuple[str, Mapping[str, str]]]]) -> dict[str, LabelSet]:
    """The labels of each fingerprint; ``read(missing)`` yields ``(fingerprint, labels)`` for the
    ones not remembered (and they are remembered from then on)."""
    found: dict[str, LabelSet] = {}
    missing: list[str] = []
    for fp in fingerprints:
        labels = _KNOWN.get(fp)
        if labels is None:
            missing.append(fp)
        else:
            found[fp] = labels
    if missing:
        for fp, raw in read(missing):
            labels = LabelSet(raw)
            remember(fp, labels)
            found[fp] = labels
    return found
