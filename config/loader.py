"""Load and validate a config file, collecting every problem with its line and YAML path.

Nothing a file holds can hang the load, crash it or go unreported: the file is stat'ed first (a
regular file of at most :data:`config.yamlsource.MAX_FILE_BYTES`; a FIFO would block a read), the
YAML is bounded (see :mod:`config.yamlsource`), and every problem becomes a :class:`ConfigIssue`
with file, line and key path. Problems are reported in one pass: ``${VAR}`` references, duplicate
keys, schema errors and, when the blocks they need are valid, cross-references between blocks.

``offline=True`` (``config validate --offline``) checks what needs neither secrets nor the
environment: unset ``${VARS}`` and ``*_file`` paths that cannot be read here become warnings.
"""

from __future__ import annotations

import contextlib
import copy
import errno
import os
import stat
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from config.crossref import cross_check
from config.errors import ConfigError, ConfigIssue, Loc
from config.secrets import offline_files
from config.settings import Settings
from config.urls import database_url
from config.validation_errors import describe_value, issue_of, value_at
from config.yamlsource import MAX_FILE_BYTES, Document, DocumentError, load_document

_START = "a path to a YAML config (start from config/examples/local.yaml)"
# The blocks cross_check reads; with these valid (or their items' names known), references are checked.
_CROSS_BLOCKS = ("route", "receivers", "time_intervals", "models", "alerting", "workspace")
_NAMED_LISTS = ("receivers", "time_intervals", "models")
STATE_URL_ENV = "LAKEWARDEN_STATE_URL"  # overrides state.url


@dataclass(frozen=True)
class Checked:
    """A usable configuration and what could not be checked (``offline``: unset variables, unreadable files).

    ``settings`` is None only offline, when nothing is wrong but a required value is unknown here.
    """

    settings: Settings | None
    warnings: tuple[ConfigIssue, ...] = ()

    @property
    def usable(self) -> Settings:
        if self.settings is None:
            raise RuntimeError("only an offline check leaves settings unknown")
        return self.settings


def load_settings(path: str | Path, env: Mapping[str, str] | None = None) -> Settings:
    """Parse ``path`` into :class:`Settings` or raise :class:`ConfigError` listing every problem."""
    return check_file(path, env).usable


def parse_settings(text: str, file: str, env: Mapping[str, str]) -> Settings:
    return check_text(text, file, env).usable


def check_file(path: str | Path, env: Mapping[str, str] | None = None, *, offline: bool = False) -> Checked:
    """Read and check ``path``; raise :class:`ConfigError` with every problem (and the warnings)."""
    file = str(path)
    text = _read(Path(path), file)
    return check_text(text, file, os.environ if env is None else env, offline=offline)


def _read(path: Path, file: str) -> str:
    def fail(found: str, allowed: str = "a readable UTF-8 YAML file", line: int | None = None) -> ConfigError:
        return ConfigError(file, [ConfigIssue((), line, found, allowed)])

    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise fail("no such file", _START) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise fail("a symbolic link loop (a link that points back to itself)",
                       "a path that leads to a YAML file") from None
        raise fail(f"a path that cannot be read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(info.st_mode):
        raise fail("a directory", _START)
    if not stat.S_ISREG(info.st_mode):
        raise fail("a special file (a pipe, socket or device), which could block the read", "a regular YAML file")
    if info.st_size > MAX_FILE_BYTES:
        raise fail(f"a file of {info.st_size} bytes", f"a config of at most {MAX_FILE_BYTES} bytes (2 MiB)")
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise fail(f"a file that cannot be read ({exc.strerror or exc})") from None
    if len(raw) > MAX_FILE_BYTES:
        raise fail(f"a file of more than {MAX_FILE_BYTES} bytes", f"a config of at most {MAX_FILE_BYTES} bytes")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise fail(f"bytes that are not UTF-8 (at byte {exc.start})", "a UTF-8 text file", line) from None


def check_text(text: str, file: str, env: Mapping[str, str], *, offline: bool = False) -> Checked:
    """Check YAML ``text`` (named ``file`` in messages) against the schema and the cross-references."""
    try:
        doc = load_document(text, env, offline=offline)
    except yaml.YAMLError as exc:
        raise ConfigError(file, [_yaml_issue(exc)]) from None
    except DocumentError as exc:
        raise ConfigError(file, [exc.issue]) from None
    issues: list[ConfigIssue] = []
    warnings: list[ConfigIssue] = []
    replaced = {("state", "url")} if env.get(STATE_URL_ENV, "").strip() else set()  # by LAKEWARDEN_STATE_URL
    for loc, name in [(loc, name) for loc, name in doc.missing_env if loc not in replaced]:
        if offline:
            warnings.append(ConfigIssue(loc, doc.line_of(loc), f"${{{name}}}, which is not set here",
                                        f"{name} to be set where lakewarden runs (not checked offline)"))
        else:
            issues.append(ConfigIssue(loc, doc.line_of(loc), f"${{{name}}}, which is not set in the environment",
                                      f"the environment variable {name} to be set (or a default: ${{{name}:-value}})"))
    issues.extend(doc.duplicates)
    if not isinstance(doc.data, dict):
        issues.append(ConfigIssue((), doc.line_of(()), describe_value(doc.data, (), doc),
                                  "a mapping with models, route and receivers (see config/examples/local.yaml)"))
        raise ConfigError(file, issues, warnings)
    override = _state_url_from_env(doc.data, env)
    if override is not None:
        issues.append(override)
    unknown = {loc for loc, _ in doc.missing_env}
    with offline_files() if offline else _nothing() as unreadable:
        settings, schema = _validate(doc)
        for loc, path, reason in _file_locs(doc.data, unreadable):
            warnings.append(ConfigIssue(loc, doc.line_of(loc), f"{path}, which cannot be read here ({reason})",
                                        "the file to be readable where lakewarden runs (not checked offline)"))
            unknown |= {loc, (*loc[:-1], str(loc[-1]).removesuffix("_file"))}
        if offline and schema:
            kept = [i for i in schema if not any(i.path[: len(u)] == u for u in unknown)]
            if not kept:  # only values nobody can know here were wrong: check the rest with their defaults
                settings, again = _validate(doc, without=tuple(i.path for i in schema))
                kept = [i for i in again if not any(i.path[: len(u)] == u for u in unknown)]
            schema = kept
        issues.extend(schema)
        checked = settings if settings is not None else _partial_settings(doc.data)
        if checked is not None:
            issues.extend(ConfigIssue(loc, doc.line_of(loc), found, allowed)
                          for loc, found, allowed in cross_check(checked))
    warnings.sort(key=lambda w: w.line or 0)
    if issues or (settings is None and not offline):
        raise ConfigError(file, issues, warnings)
    return Checked(settings, tuple(warnings))


def _state_url_from_env(data: dict[str, Any], env: Mapping[str, str]) -> ConfigIssue | None:
    """``LAKEWARDEN_STATE_URL``, when set, replaces ``state.url`` (so a password can come from a Kubernetes
    Secret, not the config file). Checked like ``state.url``; the value is never shown, it may hold a
    password. Returns the problem, or None (the value, if any, written into ``data``)."""
    value = env.get(STATE_URL_ENV, "").strip()
    if not value:
        return None
    try:
        database_url(value)
    except ValueError as exc:
        return ConfigIssue(("state", "url"), None, f"{STATE_URL_ENV} set to an unusable URL (not shown: it may "
                           "hold a password)", str(exc))
    state = data.setdefault("state", {})
    if isinstance(state, dict):
        state["url"] = value
    return None


@contextlib.contextmanager
def _nothing() -> Iterator[list[tuple[str, str]]]:
    yield []


def _validate(doc: Document, without: tuple[Loc, ...] = ()) -> tuple[Settings | None, list[ConfigIssue]]:
    data = doc.data
    if without:
        data = copy.deepcopy(data)
        for loc in without:
            parent = value_at(data, loc[:-1])
            if isinstance(parent, dict):
                parent.pop(loc[-1], None)
    try:
        return Settings.model_validate(data), []
    except ValidationError as exc:
        return None, [issue_of(error, doc) for error in exc.errors()]
    except RecursionError:  # bounded by yamlsource.MAX_DEPTH; kept so that no input can crash the check
        return None, [ConfigIssue((), None, "values nested too deep to check", "a flatter config")]


def _yaml_issue(exc: yaml.YAMLError) -> ConfigIssue:
    """Invalid YAML at the line where the problem starts: an unclosed quote or bracket at its opening."""
    mark = getattr(exc, "problem_mark", None)
    context_mark = getattr(exc, "context_mark", None)
    context = getattr(exc, "context", None)
    problem = getattr(exc, "problem", None) or str(exc)
    line = mark.line + 1 if mark is not None else None
    if context_mark is not None and context:
        opened = context_mark.line + 1
        at_end = "end of stream" in problem or "stream end" in problem
        if "quoted scalar" in context and at_end:
            return ConfigIssue((), opened, f"a quote that opens on line {opened} (column {context_mark.column + 1})"
                               f" and is never closed (the file ends on line {line})", "a closing quote")
        if at_end:
            return ConfigIssue((), opened, f"invalid YAML ({context} that starts on line {opened}: {problem})",
                               "valid YAML: close what opens here")
        return ConfigIssue((), line, f"invalid YAML ({problem}; {context} on line {opened})", "valid YAML")
    return ConfigIssue((), line, f"invalid YAML ({problem})", "valid YAML")


def _file_locs(data: Any, unreadable: list[tuple[str, str]]) -> list[tuple[Loc, str, str]]:
    """Where each unreadable ``*_file`` path is written (every ``..._file: PATH`` with that path)."""
    reasons = dict(unreadable)
    found: list[tuple[Loc, str, str]] = []
    if not reasons:
        return found

    def walk(value: Any, loc: Loc) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str) and key.endswith("_file") and isinstance(item, str):
                    reason = reasons.get(str(Path(item)))
                    if reason is not None:
                        found.append(((*loc, key), item, reason))
                else:
                    walk(item, (*loc, key))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, (*loc, index))

    walk(data, ())
    return found


@cache
def _adapter(tp: Any) -> TypeAdapter[Any]:
    return TypeAdapter(tp)


def _partial_settings(data: dict[str, Any]) -> Settings | None:
    """Settings built from the blocks cross-references need, when those are valid (invalid items of the
    named lists stand in by their name), so references are checked in the same pass as the schema."""
    parts: dict[str, Any] = {}
    for name in _CROSS_BLOCKS:
        field = Settings.model_fields[name]
        if name not in data:
            if field.is_required():
                return None
            continue
        try:
            parts[name] = _adapter(typing.cast(Any, field.annotation)).validate_python(data[name])
        except ValidationError:
            if name not in _NAMED_LISTS or not isinstance(data[name], list):
                return None
            items = [_stand_in(typing.get_args(field.annotation)[0], item) for item in data[name]]
            if any(item is None for item in items):
                return None
            parts[name] = tuple(items)
        except (TypeError, ValueError, ArithmeticError, RecursionError):
            return None
    return Settings.model_construct(**parts)


def _stand_in(item_type: Any, raw: Any) -> Any:
    try:
        return _adapter(item_type).validate_python(raw)
    except ValidationError:
        if isinstance(raw, dict) and isinstance(raw.get("name"), str):
            return types.SimpleNamespace(name=raw["name"], steps=())
        return None
