"""Secrets: ``SecretStr`` values with a ``*_file`` twin, never shown in reprs, logs or errors.

A block declares ``token: SecretStr | None = None`` and ``token_file: Path | None = None``; the
validator :func:`resolve_secret_files` reads the file into the secret at load time, so the rest of
the program only ever sees ``token``. Giving both is an error; so is a file that cannot be read.

Reading is bounded: the path must be a regular file (a FIFO or ``/dev/zero`` would hang the load)
of at most :data:`MAX_SECRET_BYTES`. Under :func:`offline_files` (``config validate --offline``) a
file that cannot be read is recorded instead of failing the load, and a placeholder stands in.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from pydantic import SecretStr

MAX_SECRET_BYTES = 64 * 1024  # a token, key or URL is under 1 KiB; a PEM bundle under 64 KiB
_PLACEHOLDER = "offlinePlaceholder0123456789abcdef"

# (the *_file text as written, why it cannot be read), collected while an offline check runs.
_OFFLINE: ContextVar[list[tuple[str, str]] | None] = ContextVar("lakewarden_offline_files", default=None)


@contextmanager
def offline_files() -> Iterator[list[tuple[str, str]]]:
    """Within the block, unreadable files are listed in the yielded list instead of raising."""
    found: list[tuple[str, str]] = []
    token = _OFFLINE.set(found)
    try:
        yield found
    finally:
        _OFFLINE.reset(token)


def file_problem(path: Path, max_bytes: int | None = MAX_SECRET_BYTES) -> str | None:
    """Why ``path`` cannot be read as a regular file (of at most ``max_bytes``), or None when it can."""
    try:
        info = os.stat(path)
    except OSError as exc:
        return _os_reason(exc)
    if not stat.S_ISREG(info.st_mode):
        return "it is not a regular file (a directory, device or pipe)"
    if max_bytes is not None and info.st_size > max_bytes:
        return f"it is {info.st_size} bytes, more than the {max_bytes} a secret file may have"
    return None


def _os_reason(exc: OSError) -> str:
    if exc.errno == 40 or "symbolic links" in str(exc.strerror):  # ELOOP
        return "a symbolic link loop (a link that points back to itself)"
    return str(exc.strerror or exc).lower() if exc.strerror else str(exc)


def record_offline(path: Path, reason: str) -> bool:
    """In an offline check, note that ``path`` cannot be read and return True; else return False."""
    found = _OFFLINE.get()
    if found is None:
        return False
    found.append((str(path), reason))
    return True


def read_secret_file(path: Path, key: str) -> SecretStr:
    problem = file_problem(path)
    if problem is None:
        try:
            return SecretStr(path.read_text(encoding="utf-8").strip())
        except OSError as exc:
            problem = _os_reason(exc)
        except UnicodeDecodeError:
            problem = "it is not UTF-8 text"
    if record_offline(path, problem):
        return SecretStr(_PLACEHOLDER)
    raise ValueError(f"{key}: cannot read {path}: {problem}")


def resolve_secret_files(values: Any, names: tuple[str, ...], required: tuple[str, ...] = ()) -> Any:
    """For each secret ``name``, move the content of ``name_file`` into ``name``.

    Meant to run as a ``mode="before"`` model validator over the raw mapping.
    """
    if not isinstance(values, dict):
        return values
    out = dict(values)
    for name in names:
        file_key = f"{name}_file"
        path = out.pop(file_key, None)
        if path is None:
            if name in required and out.get(name) in (None, ""):
                raise ValueError(f"{name} (or {file_key}) is required")
            continue
        if not isinstance(path, str | Path) or not str(path).strip():
            shown = "blank text" if isinstance(path, str) else f"a {type(path).__name__}"
            raise ValueError(f"{file_key}: a file path such as /run/secrets/{name}, not {shown}")
        if out.get(name) not in (None, ""):
            raise ValueError(f"give either {name} or {file_key}, not both")
        out[name] = read_secret_file(Path(path), file_key)
    return out


def reveal(secret: SecretStr | None) -> str | None:
    """The plain value, for the one place that sends it over the wire."""
    return None if secret is None else secret.get_secret_value()
