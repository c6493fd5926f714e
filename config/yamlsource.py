"""YAML with line numbers and ``${ENV_VAR}`` references, bounded so that no file can hang or mislead.

``${NAME}`` is replaced by the environment variable NAME; ``${NAME:-default}`` falls back to the
default when NAME is unset or empty; ``$${`` is a literal ``${``. Substitution happens on scalar
values only (never keys), after parsing, so a value can never change the YAML structure.

Bounds, checked before any value is built (see :data:`MAX_FILE_BYTES`, :data:`MAX_DEPTH`,
:data:`MAX_NODES`): a file larger than a config could be, nesting deeper than a config needs, and
more values after expanding aliases (``&anchor`` / ``*alias``) than a config holds are refused with
the limit named. The alias count is computed over the node graph with each shared node counted
once per use but visited once, so a "billion laughs" file is answered in microseconds. An alias
inside the block it refers to (a recursive structure) is refused too. A key given twice in one
mapping is reported with both lines (YAML would keep the last one silently).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from config.errors import ConfigIssue, Loc

_REF = re.compile(r"\$(\$)?\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_SECRET_NAME = re.compile(r"token|secret|password|passwd|key|credential|webhook", re.IGNORECASE)

# A config is a few KiB; 2 MiB is far beyond any real one and still cheap to parse.
MAX_FILE_BYTES = 2 * 1024 * 1024
# The deepest legitimate path (route trees included) is about 15 levels.
MAX_DEPTH = 64
# Values (mappings, lists, scalars) after expanding aliases. A config with 500 models of 150
# values each stays below it; an alias bomb goes past it on its third level.
MAX_NODES = 100_000
_MERGE = "<<"
# In ``--offline`` mode an unset variable becomes this (letters and digits, long enough for the
# length checks of secrets); errors at the value's own key are not reported, the variable is.
OFFLINE_PLACEHOLDER = "offlinePlaceholder0123456789abcdef"
OFFLINE_URL = "https://offline.invalid"
_URLISH = re.compile(r"url|uri|host", re.IGNORECASE)


class DocumentError(Exception):
    """The text cannot become a document at all (too big, too deep, recursive); no values are checked."""

    def __init__(self, issue: ConfigIssue) -> None:
        self.issue = issue
        super().__init__(issue.found)


@dataclass
class Document:
    data: Any
    lines: dict[Loc, int] = field(default_factory=dict)
    missing_env: list[tuple[Loc, str]] = field(default_factory=list)
    secret_values: set[str] = field(default_factory=set)
    duplicates: list[ConfigIssue] = field(default_factory=list)

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


def load_document(text: str, env: Mapping[str, str], *, offline: bool = False) -> Document:
    """Parse YAML text; raises ``yaml.YAMLError`` (with a mark) on invalid YAML and
    :class:`DocumentError` when a bound is passed."""
    size = len(text.encode("utf-8"))
    if size > MAX_FILE_BYTES:
        raise DocumentError(ConfigIssue((), None, f"a file of {size} bytes",
                                        f"a config of at most {MAX_FILE_BYTES} bytes (2 MiB)"))
    _check_depth(text)
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        doc = Document(data=None)
        if node is None:
            return doc
        _check_expanded_size(node)
        _Walker(doc, env, offline).walk(node, ())
        doc.data = loader.construct_document(node)
        return doc
    finally:
        loader.dispose()


def _check_depth(text: str) -> None:
    """Refuse deep nesting from the event stream (PyYAML's parser is iterative, its composer is not)."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                line = event.start_mark.line + 1 if event.start_mark is not None else None
                raise DocumentError(ConfigIssue((), line, f"mappings or lists nested more than {MAX_DEPTH} deep",
                                                f"at most {MAX_DEPTH} levels of nesting (a config needs about 15)"))
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_expanded_size(root: yaml.Node) -> None:
    """Count values as if every alias were expanded, visiting each node once (iterative, memoized)."""
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            kids = _children(node)
            size[key] = 1 + sum(size[id(k)] for k in kids)
            depth[key] = 1 + max((depth[id(k)] for k in kids), default=0)
            on_path.discard(key)
            if size[key] > MAX_NODES:
                raise DocumentError(ConfigIssue(
                    (), node.start_mark.line + 1,
                    f"more than {MAX_NODES} values once aliases (*name) are expanded, from the block here",
                    f"a config of at most {MAX_NODES} values after alias expansion (lakewarden stops there so "
                    "that a file cannot exhaust memory; use fewer aliases of large blocks)"))
            if depth[key] > MAX_DEPTH:
                raise DocumentError(ConfigIssue(
                    (), node.start_mark.line + 1, f"nesting more than {MAX_DEPTH} deep once aliases are expanded",
                    f"at most {MAX_DEPTH} levels of nesting, aliases included"))
            continue
        if key in size:
            continue
        if key in on_path:
            raise DocumentError(ConfigIssue(
                (), node.start_mark.line + 1, "an alias (*name) inside the block its anchor (&name) marks here",
                "no recursive structures: an alias may only refer to a block it is not part of"))
        on_path.add(key)
        stack.append((node, True))
        stack.extend((kid, False) for kid in _children(node) if id(kid) not in size)


class _Walker:
    """Records each path's line, duplicate keys and ``${VAR}`` references, substituting variables."""

    def __init__(self, doc: Document, env: Mapping[str, str], offline: bool) -> None:
        self.doc = doc
        self.env = env
        self.offline = offline
        self.substituted: set[int] = set()

    def walk(self, node: yaml.Node, path: Loc) -> None:
        doc = self.doc
        doc.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            first: dict[str, int] = {}
            for key_node, value_node in node.value:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
                line = key_node.start_mark.line + 1
                if isinstance(key_node, yaml.ScalarNode) and key != _MERGE:
                    if key in first:
                        doc.duplicates.append(ConfigIssue(
                            (*path, key), line, f"the key {key!r} a second time (first on line {first[key]})",
                            "each key once in a mapping: YAML would keep only the last value; remove one"))
                    else:
                        first[key] = line
                self.walk(value_node, (*path, key))
                doc.lines.setdefault((*path, key), line)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self.walk(item, (*path, index))
        elif (isinstance(node, yaml.ScalarNode) and isinstance(node.value, str) and "${" in node.value
              and id(node) not in self.substituted):
            # An aliased scalar is visited once per use; substitute once (``$${`` must stay literal).
            self.substituted.add(id(node))
            node.value = self._substitute(node.value, path)
            node.tag = "tag:yaml.org,2002:str"

    def _substitute(self, value: str, path: Loc) -> str:
        doc = self.doc

        def replace(match: re.Match[str]) -> str:
            if match.group(1):
                return match.group(0)[1:]
            name, default = match.group(2), match.group(3)
            found = self.env.get(name)
            if not found:
                if default is not None:
                    return default
                doc.missing_env.append((path, name))
                if not self.offline:
                    return ""
                last = str(path[-1]) if path else ""
                return OFFLINE_URL if _URLISH.search(last) and match.start() == 0 else OFFLINE_PLACEHOLDER
            if _SECRET_NAME.search(name) or any(_SECRET_NAME.search(str(p)) for p in path):
                doc.secret_values.add(found)
            return found

        return _REF.sub(replace, value)
