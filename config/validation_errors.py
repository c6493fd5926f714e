"""pydantic's validation errors in the words and places of the YAML file: file:line, key path, what was
found (never a secret) and what would be valid, with "did you mean" for unknown keys."""

from __future__ import annotations

import difflib
import re
import types
import typing
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, SecretStr
from pydantic_core import ErrorDetails

from config.errors import ConfigIssue, Loc
from config.settings import Settings
from config.urls import has_userinfo
from config.yamlsource import Document

_EXPECTATION = ("a ", "an ", "one of", "the ", "at least", "at most", "give ", "either", "none", "tiers ",
                "values ", "each ", "no ")
_SECRETISH = re.compile(r"token|secret|password|key", re.IGNORECASE)
_URLISH = re.compile(r"url", re.IGNORECASE)
_KEY_PREFIX = re.compile(r"^([a-z][a-z0-9_]*): ")
# pydantic's wording for a value of the wrong type, in YAML's words.
_TYPE_WORDS = {
    "tuple_type": "a list", "list_type": "a list", "set_type": "a list", "frozen_set_type": "a list",
    "dict_type": "a mapping", "model_type": "a mapping", "model_attributes_type": "a mapping",
    "string_type": "text", "int_type": "a whole number", "int_parsing": "a whole number",
    "int_from_float": "a whole number", "float_type": "a number", "float_parsing": "a number",
    "bool_type": "true or false", "bool_parsing": "true or false",
}


def issue_of(error: ErrorDetails, doc: Document) -> ConfigIssue:
    raw_loc: Loc = tuple(error["loc"])
    loc = _in_file(raw_loc, doc)
    kind, message = error["type"], error["msg"]
    if kind == "extra_forbidden":
        key = str(raw_loc[-1])
        keys = _allowed_keys(raw_loc[:-1])
        hint = difflib.get_close_matches(key, keys, n=1)
        text = "one of the keys " + ", ".join(keys) if keys else "no other keys here"
        if hint:
            text = f"{text} (did you mean {hint[0]!r}?)"
        return ConfigIssue(loc, doc.line_of(loc), f"unknown key {key!r}", text)
    if kind == "missing":
        return ConfigIssue(loc, doc.line_of(loc[:-1]), "nothing", f"a value for the required key {loc[-1]!r}")
    if kind == "invalid_key":
        loc = (*loc[:-1], str(loc[-1]))  # the file has the key as YAML wrote it
        return ConfigIssue(loc, doc.line_of(loc), f"the key {loc[-1]!r}, which is not text",
                           "keys that are text (quote a key YAML reads as a number, date or boolean)")
    found = describe_value(error.get("input"), loc, doc)
    if kind in _TYPE_WORDS:
        allowed = _TYPE_WORDS[kind]
        if kind == "string_type" and isinstance(error.get("input"), bool | int | float | date):
            allowed += " (quote it: YAML reads it unquoted as a number, date or boolean)"
        return ConfigIssue(loc, doc.line_of(loc), found, allowed)
    allowed = message
    for prefix in ("Value error, ", "Assertion failed, "):
        allowed = allowed.removeprefix(prefix)
    prefix_match = _KEY_PREFIX.match(allowed)
    if prefix_match is not None and (*loc, prefix_match.group(1)) in doc.lines:
        # "token_file: cannot read ..." from a block's validator: the problem is at that key
        loc = (*loc, prefix_match.group(1))
        allowed = allowed[prefix_match.end():]
        found = describe_value(value_at(doc.data, loc), loc, doc)
        if allowed.startswith("cannot read"):
            allowed = f"a readable file ({allowed})"
    allowed = allowed.removeprefix("Input should be ").removeprefix("input should be ")
    allowed = allowed.removesuffix(f", not {error.get('input')!r}")
    if kind == "value_error" and not allowed.startswith(_EXPECTATION):
        allowed = f"a valid value ({allowed})"
    if kind == "union_tag_invalid":
        allowed = message.split("expected tags ")[-1].replace("'", "")
        allowed = f"kind: one of {allowed}"
    return ConfigIssue(loc, doc.line_of(loc), found, allowed)


def value_at(data: Any, loc: Loc) -> Any:
    for part in loc:
        if isinstance(data, dict):
            data = data.get(part)
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            return None
    return data


def _in_file(loc: Loc, doc: Document) -> Loc:
    """Drop pydantic's union tags (``engine.local_spark.x`` -> ``engine.x``) that the file does not have."""
    out: Loc = ()
    for index, part in enumerate(loc):
        candidate = (*out, part)
        if candidate in doc.lines or index == len(loc) - 1 or not _is_tag(part):
            out = candidate
    return out


def _is_tag(part: str | int) -> bool:
    return isinstance(part, str) and (part in {"local_spark", "sql_warehouse", "spark_connect"} or "[" in part)


def describe_value(value: Any, loc: Loc, doc: Document) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "an empty value"
    if isinstance(value, date):
        return f"the date {value.isoformat()}"
    text = str(value)
    last = str(loc[-1]) if loc else ""
    if has_userinfo(text):
        return "a URL with user:password@ in it (not shown)"
    if text in doc.secret_values or _secret_field(loc) or (_SECRETISH.search(last) and not last.endswith("_file")):
        return "a value (hidden: the key holds a secret)"
    if any(_URLISH.search(str(p)) for p in loc[-1:]) and _may_hold_credentials(text):
        return "a URL (hidden: it holds credentials or a query string)"
    shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
    return shown


def _secret_field(loc: Loc) -> bool:
    """The field at ``loc`` is declared a secret (``SecretStr``), such as a webhook URL that holds a token."""
    current: Any = Settings
    for part in loc:
        current = _step(current, part)
        if current is None:
            return False
    return any(member is SecretStr for member in _members(current))


def _may_hold_credentials(text: str) -> bool:
    """A plain URL field (a base URL) is shown in errors unless it carries a user, password or query."""
    try:
        parts = urlsplit(text.strip())
    except ValueError:
        return True
    return bool(parts.username or parts.password or parts.query or "@" in text)


def _allowed_keys(loc: Loc) -> list[str]:
    """The keys allowed at ``loc``, walking the Settings model by field names, indexes and union tags."""
    current: Any = Settings
    for part in loc:
        current = _step(current, part)
        if current is None:
            return []
    model = _as_model(current)
    if model is None:
        return []
    return [field.alias or name for name, field in model.model_fields.items()]


def _step(current: Any, part: str | int) -> Any:
    for candidate in _members(current):
        if isinstance(part, int):
            args = typing.get_args(candidate)
            if typing.get_origin(candidate) in (tuple, list) and args:
                return args[0]
            continue
        model = _as_model(candidate)
        if model is None:
            continue
        for name, field in model.model_fields.items():
            if part in (name, field.alias):
                return field.annotation
        if "kind" in model.model_fields and model.model_fields["kind"].default == part:
            return model
    return None


def _members(tp: Any) -> list[Any]:
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _members(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        return [m for arg in typing.get_args(tp) for m in _members(arg)]
    return [tp]


def _as_model(tp: Any) -> type[BaseModel] | None:
    for member in _members(tp):
        if isinstance(member, type) and issubclass(member, BaseModel):
            return member
    return None
