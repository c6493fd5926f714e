"""Load and validate a config file, collecting every problem with its line and YAML path."""

from __future__ import annotations

import difflib
import os
import re
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, SecretStr, ValidationError
from pydantic_core import ErrorDetails

from config.crossref import cross_check
from config.errors import ConfigError, ConfigIssue, Loc
from config.settings import Settings
from config.yamlsource import Document, load_document

_EXPECTATION = ("a ", "an ", "one of", "the ", "at least", "at most", "give ", "either", "none")
_SECRETISH = re.compile(r"token|secret|password|key", re.IGNORECASE)
_URLISH = re.compile(r"url", re.IGNORECASE)


def load_settings(path: str | Path, env: Mapping[str, str] | None = None) -> Settings:
    """Parse ``path`` into :class:`Settings` or raise :class:`ConfigError` listing every problem."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        start = "a path to a YAML config (start from config/examples/local.yaml)"
        raise ConfigError(file, [ConfigIssue((), None, "no such file", start)]) from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise ConfigError(file, [ConfigIssue((), None, f"a file that cannot be read ({exc})",
                                             "a readable UTF-8 YAML file")]) from None
    return parse_settings(text, file, os.environ if env is None else env)


def parse_settings(text: str, file: str, env: Mapping[str, str]) -> Settings:
    try:
        doc = load_document(text, env)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(file, [ConfigIssue((), line, f"invalid YAML ({problem})", "valid YAML")]) from None
    issues = [
        ConfigIssue(loc, doc.line_of(loc), f"${{{name}}}, which is not set in the environment",
                    f"the environment variable {name} to be set (or a default: ${{{name}:-value}})")
        for loc, name in doc.missing_env
    ]
    if not isinstance(doc.data, dict):
        issues.append(ConfigIssue((), doc.line_of(()), _describe(doc.data, (), doc),
                                  "a mapping with models, route and receivers (see config/examples/local.yaml)"))
        raise ConfigError(file, issues)
    try:
        settings = Settings.model_validate(doc.data)
    except ValidationError as exc:
        issues.extend(_issue(error, doc) for error in exc.errors())
        raise ConfigError(file, issues) from None
    issues.extend(ConfigIssue(loc, doc.line_of(loc), found, allowed) for loc, found, allowed in cross_check(settings))
    if issues:
        raise ConfigError(file, issues)
    return settings


def _issue(error: ErrorDetails, doc: Document) -> ConfigIssue:
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
    found = _describe(error.get("input"), loc, doc)
    allowed = message
    for prefix in ("Value error, ", "Assertion failed, "):
        allowed = allowed.removeprefix(prefix)
    allowed = allowed.removeprefix("Input should be ").removeprefix("input should be ")
    allowed = allowed.removesuffix(f", not {error.get('input')!r}")
    if kind == "value_error" and not allowed.startswith(_EXPECTATION):
        allowed = f"a valid value ({allowed})"
    if kind == "union_tag_invalid":
        allowed = message.split("expected tags ")[-1].replace("'", "")
        allowed = f"kind: one of {allowed}"
    return ConfigIssue(loc, doc.line_of(loc), found, allowed)


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


def _describe(value: Any, loc: Loc, doc: Document) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "an empty value"
    text = str(value)
    if text in doc.secret_values or _secret_field(loc) or any(_SECRETISH.search(str(p)) for p in loc[-1:]):
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
