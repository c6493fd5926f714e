"""Config errors a person can act on: where (file, line, YAML path), what was found, what is allowed."""

from __future__ import annotations

from dataclasses import dataclass

Loc = tuple[str | int, ...]


def format_path(path: Loc) -> str:
    """``('models', 0, 'sources')`` -> ``models[0].sources``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


@dataclass(frozen=True)
class ConfigIssue:
    path: Loc
    line: int | None
    found: str
    allowed: str

    def render(self, file: str) -> str:
        where = f"{file}:{self.line}" if self.line else file
        return f"{where}: {format_path(self.path)}: found {self.found}; expected {self.allowed}"


class ConfigError(Exception):
    """The configuration cannot be used. ``issues`` lists every problem, not just the first."""

    def __init__(self, file: str, issues: list[ConfigIssue], warnings: list[ConfigIssue] | None = None) -> None:
        self.file = file
        self.issues = issues
        self.warnings = list(warnings or ())
        super().__init__(self.render())

    def render(self) -> str:
        head = f"{self.file}: {len(self.issues)} problem{'s' if len(self.issues) != 1 else ''} in the configuration"
        lines = [head, *("  " + issue.render(self.file) for issue in self.issues)]
        if self.warnings:
            lines.append(f"warnings ({len(self.warnings)})")
            lines.extend("  " + issue.render(self.file) for issue in self.warnings)
        return "\n".join(lines)
