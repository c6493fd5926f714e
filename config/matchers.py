"""Alertmanager matchers: ``name="v"``, ``name!="v"``, ``name=~"re"``, ``name!~"re"``.

Parsing follows Alertmanager's matcher parser (``pkg/labels``, the one Alertmanager 0.25 uses and
later versions fall back to), and regexes are RE2 as in Go's ``regexp``, anchored at both ends
exactly as Alertmanager anchors them (docs/external/alertmanager-semantics.md, "Matchers"). A label
the alert does not have equals the empty string.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any

import re2
from pydantic import BeforeValidator, PlainSerializer

# Alertmanager's own: name, operator ('=~' before '='), then the rest of the text with outer
# whitespace trimmed (a value may be quoted or not, and may contain spaces and line feeds).
_SYNTAX = re.compile(r"^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(=~|=|!=|!~)\s*(.*?)\s*$", re.DOTALL)
_HINT = 'a matcher like severity="critical", model!="x", team=~"ml-.*" or env!~"dev|test"'
_LOOKAROUND = ("(?=", "(?!", "(?<=", "(?<!")
_SEEN_LIMIT = 4096
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # RE2 would print every syntax error on stderr as well


class Op(StrEnum):
    EQ = "="
    NE = "!="
    RE = "=~"
    NRE = "!~"


def compile_regex(value: str) -> Any:
    """``value`` compiled as Alertmanager compiles a matcher's regex: RE2, wrapped in ``^(?:...)$``.

    Raises ``ValueError`` naming what RE2 (Go's regexp) refuses."""
    wrapped = f"^(?:{value})$"
    if "\\C" in value.replace("\\\\", ""):
        raise ValueError("\\C (any byte) is not supported by Go's regexp, which Alertmanager uses")
    try:
        return re2.compile(wrapped, _RE2_OPTIONS)
    except re2.error as exc:
        reason = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        if any(token in value for token in _LOOKAROUND):
            raise ValueError(
                "look-ahead and look-behind ((?=, (?!, (?<=, (?<!) are not supported: Alertmanager's regexes "
                "are RE2 (Go regexp); match the value itself, or use !~ for the values to leave out"
            ) from None
        raise ValueError(f"{reason.replace(wrapped, value)} (RE2 syntax, as in Alertmanager)") from None


@dataclass(frozen=True)
class Matcher:
    name: str
    op: Op
    value: str
    _regex: Any = field(default=None, compare=False, repr=False)
    # label value -> regex matched: values repeat (severity, team, model) and a call into RE2 costs
    # ~4 µs through the binding, against ~0.1 µs for a dict look-up
    _seen: dict[str, bool] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def create(cls, name: str, op: Op | str, value: str) -> Matcher:
        op = Op(op)
        regex = None
        if op in (Op.RE, Op.NRE):
            try:
                regex = compile_regex(value)
            except ValueError as exc:
                raise ValueError(f"invalid regular expression {value!r} for label {name!r}: {exc}") from None
        return cls(name, op, value, regex, {})

    @classmethod
    def parse(cls, text: str) -> Matcher:
        """One matcher, as Alertmanager's ``ParseMatcher`` reads it: the value may be unquoted
        (outer whitespace trimmed) or in double quotes; only ``\\\\``, ``\\"`` and ``\\n`` are escapes,
        any other backslash stays as written."""
        m = _SYNTAX.match(text)
        if not m:
            raise ValueError(f"{_HINT}, not {text!r}")
        return cls.create(m.group(1), m.group(2), _unescape(m.group(3), text))

    @classmethod
    def parse_list(cls, text: str) -> tuple[Matcher, ...]:
        """Zero or more matchers in one string, as Alertmanager's ``ParseMatchers`` reads a
        ``matchers:`` entry: ``a="x",b="y"``, ``{a="x", b="y"}``, a trailing comma; commas inside
        double quotes do not separate."""
        return tuple(cls.parse(token) for token in split_matchers(text))

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.op is Op.EQ:
            return actual == self.value
        if self.op is Op.NE:
            return actual != self.value
        found = self._seen.get(actual)
        if found is None:
            if len(self._seen) >= _SEEN_LIMIT:
                self._seen.clear()
            # search, as Go's MatchString: the anchors come from the wrapper ("a)|(b" keeps Go's meaning)
            found = self._seen[actual] = self._regex is not None and self._regex.search(actual) is not None
        return found if self.op is Op.RE else not found

    def __str__(self) -> str:
        return f'{self.name}{self.op.value}"{escape_value(self.value)}"'


def escape_value(value: str) -> str:
    """Alertmanager's escaping of a matcher value in double quotes: ``\\``, ``"`` and line feed."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _unescape(raw: str, text: str) -> str:
    quoted = raw.startswith('"')
    if quoted:
        raw = raw[1:]
    out: list[str] = []
    escaped = False
    last = len(raw) - 1
    for i, char in enumerate(raw):
        if escaped:
            escaped = False
            out.append("\n" if char == "n" else char if char in '"\\' else "\\" + char)
        elif char == "\\":
            if i < last:
                escaped = True
            else:
                out.append("\\")  # a backslash at the very end is literal
        elif char == '"':
            if not quoted or i < last:
                raise ValueError(
                    f'{text!r} has a double quote inside its value: quote the whole value and write \\" for a quote '
                    f'in it ({_HINT})'
                )
            quoted = False
        else:
            out.append(char)
    if quoted:
        raise ValueError(f"{text!r} opens a double quote it does not close ({_HINT})")
    return "".join(out)


def split_matchers(text: str) -> list[str]:
    """Alertmanager's ``ParseMatchers`` split: one leading ``{`` and one trailing ``}`` dropped,
    then commas outside double quotes separate (a ``\\"`` does not open or close quotes)."""
    text = text.removeprefix("{").removesuffix("}")
    tokens: list[str] = []
    token: list[str] = []
    inside = escaped = False
    for char in text:
        if char == ",":
            if not inside:
                tokens.append("".join(token))
                token = []
                continue
        elif char == '"':
            if not escaped:
                inside = not inside
            else:
                escaped = False
        elif char == "\\":
            escaped = not escaped
        else:
            escaped = False
        token.append(char)
    rest = "".join(token).strip()
    if rest:
        tokens.append(rest)
    return tokens


def _to_matcher(value: Any) -> Matcher:
    if isinstance(value, Matcher):
        return value
    if not isinstance(value, str):
        raise ValueError('a matcher string such as severity="critical"')
    return Matcher.parse(value)


MatcherField = Annotated[Matcher, BeforeValidator(_to_matcher), PlainSerializer(str)]


def matches_all(matchers: tuple[Matcher, ...] | list[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)
