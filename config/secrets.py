"""Secrets: ``SecretStr`` values with a ``*_file`` twin, never shown in reprs, logs or errors.

A block declares ``token: SecretStr | None = None`` and ``token_file: Path | None = None``; the
validator :func:`resolve_secret_files` reads the file into the secret at load time, so the rest of
the program only ever sees ``token``. Giving both is an error; so is a file that cannot be read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import SecretStr


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
        if out.get(name) not in (None, ""):
            raise ValueError(f"give either {name} or {file_key}, not both")
        try:
            out[name] = SecretStr(Path(path).read_text(encoding="utf-8").strip())
        except OSError as exc:
            raise ValueError(f"{file_key}: cannot read {path}: {exc.strerror or exc}") from None
    return out


def reveal(secret: SecretStr | None) -> str | None:
    """The plain value, for the one place that sends it over the wire."""
    return None if secret is None else secret.get_secret_value()
