"""YAML with line numbers and ``${ENV_VAR}`` references.

``${NAME}`` is replaced by the environment variable NAME; ``${NAME:-default}`` falls back to the
default when NAME is unset or empty; ``$${`` is a literal ``${``. Substitution happens on scalar
values only (never keys), after parsing, so a value can never change the YAML structure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from config.errors import Loc

_REF = re.compile(r"\$(\$)?\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_SECRET_NAME = re.compile(r"token|secret|password|passwd|key|credential|webhook", re.IGNORECASE)


@dataclass
class Document:
    data: Any
    lines: dict[Loc, int] = field(default_factory=dict)
    missing_env: list[tuple[Loc, str]] = field(default_factory=list)
    secret_values: set[str] = field(default_factory=set)

    def line_of(self, loc: Loc) -> int | None:
        """The line of the deepest part of ``loc`` that exists in the file (skipping union tags)."""
        best: int | None = self.lines.get(())
        path: Loc = ()
        for part in loc:
            candidate = (*path, part)
            if candidate in self.lines:
                path = candidate
                best = self.lines[candidate]
        return best


def load_document(text: str, env: Mapping[str, str]) -> Document:
    """Parse YAML text; raises ``yaml.YAMLError`` (with a mark) on invalid YAML."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        doc = Document(data=None)
        if node is None:
            return doc
        _walk(node, (), doc, env)
        doc.data = loader.construct_document(node)
        return doc
    finally:
        loader.dispose()


def _walk(node: yaml.Node, path: Loc, doc: Document, env: Mapping[str, str]) -> None:
    doc.lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            _walk(value_node, (*path, key), doc, env)
            doc.lines.setdefault((*path, key), key_node.start_mark.line + 1)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), doc, env)
    elif isinstance(node, yaml.ScalarNode) and isinstance(node.value, str) and "${" in node.value:
        node.value = _substitute(node.value, path, doc, env)
        node.tag = "tag:yaml.org,2002:str"


def _substitute(value: str, path: Loc, doc: Document, env: Mapping[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(1):
            return match.group(0)[1:]
        name, default = match.group(2), match.group(3)
        found = env.get(name)
        if not found:
            if default is not None:
                return default
            doc.missing_env.append((path, name))
            return ""
        if _SECRET_NAME.search(name) or any(_SECRET_NAME.search(str(p)) for p in path):
            doc.secret_values.add(found)
        return found

    return _REF.sub(replace, value)
