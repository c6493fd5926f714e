"""Alertmanager matchers: ``name="v"``, ``name!="v"``, ``name=~"re"``, ``name!~"re"``.

Regexes are anchored at both ends; a missing label equals the empty string.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

_SYNTAX = re.compile(r'^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(?:"((?:[^"\\]|\\.)*)"|([^"\s][^\s]*|))\s*$')


class Op(StrEnum):
    EQ = "="
    NE = "!="
    RE = "=~"
    NRE = "!~"


@dataclass(frozen=True)
class Matcher:
    name: str
    op: Op
    value: str
    _regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def create(cls, name: str, op: Op | str, value: str) -> Matcher:
        op = Op(op)
        regex = None
        if op in (Op.RE, Op.NRE):
            try:
                regex = re.compile(f"^(?:{value})$")
            except re.error as exc:
                raise ValueError(f"invalid regular expression {value!r} for label {name!r}: {exc}") from None
        return cls(name, op, value, regex)

    @classmethod
    def parse(cls, text: str) -> Matcher:
        m = _SYNTAX.match(text)
        if not m:
            raise ValueError(
                f'a matcher like severity="critical", model!="x", team=~"ml-.*" or env!~"dev|test", not {text!r}'
            )
        value = m.group(3) if m.group(3) is not None else (m.group(4) or "")
        if m.group(3) is not None:
            value = re.sub(r"\\(.)", r"\1", value)
        return cls.create(m.group(1), m.group(2), value)

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.op is Op.EQ:
            return actual == self.value
        if self.op is Op.NE:
            return actual != self.value
        found = self._regex is not None and self._regex.match(actual) is not None
        return found if self.op is Op.RE else not found

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"')
        return f'{self.name}{self.op.value}"{escaped}"'


def _to_matcher(value: Any) -> Matcher:
    if isinstance(value, Matcher):
        return value
    if not isinstance(value, str):
        raise ValueError('a matcher string such as severity="critical"')
    return Matcher.parse(value)


MatcherField = Annotated[Matcher, BeforeValidator(_to_matcher), PlainSerializer(str)]


def matches_all(matchers: tuple[Matcher, ...] | list[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)
