"""Three-part table names (``catalog.schema.name``), validated once and quoted for Spark SQL.

Every table name that reaches SQL goes through :func:`validate_table_name`; nothing from config is
pasted into SQL unquoted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PART = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PART_ROLES = ("catalog", "schema", "table name")


def _check_part(role: str, part: str, whole: str) -> None:
    if not _PART.fullmatch(part):
        raise ValueError(
            f"invalid {role} {part!r} in table name {whole!r}: each part must start with a letter or "
            "underscore and hold only letters, digits and underscores"
        )


def quote_ident(part: str) -> str:
    """Quote one identifier for Spark SQL: wrap in backticks, double any backtick inside."""
    return "`" + part.replace("`", "``") + "`"


@dataclass(frozen=True)
class TableName:
    """A validated three-part table name."""

    catalog: str
    schema: str
    name: str

    def __post_init__(self) -> None:
        whole = f"{self.catalog}.{self.schema}.{self.name}"
        for role, part in zip(_PART_ROLES, (self.catalog, self.schema, self.name), strict=True):
            _check_part(role, part, whole)

    @property
    def parts(self) -> tuple[str, str, str]:
        return (self.catalog, self.schema, self.name)

    @property
    def quoted(self) -> str:
        """The name as Spark SQL: "`catalog`.`schema`.`name`"."""
        return ".".join(quote_ident(part) for part in self.parts)

    def sibling(self, suffix: str) -> TableName:
        """The table in the same schema whose name is this name plus ``suffix``."""
        return TableName(self.catalog, self.schema, self.name + suffix)

    def in_schema(self, schema: str) -> TableName:
        """The table of the same name in another ``catalog.schema`` (validated)."""
        parts = schema.split(".")
        if len(parts) != 2:
            raise ValueError(f"invalid schema {schema!r}: expected two parts, catalog.schema")
        return TableName(parts[0], parts[1], self.name)

    def __str__(self) -> str:
        return f"{self.catalog}.{self.schema}.{self.name}"


def validate_table_name(name: str) -> TableName:
    """Parse ``catalog.schema.name``; raise ``ValueError`` naming the bad part otherwise."""
    if not isinstance(name, str):
        raise ValueError(f"invalid table name {name!r}: expected a string catalog.schema.name")
    parts = name.split(".")
    if len(parts) != 3:
        raise ValueError(
            f"invalid table name {name!r}: expected three parts catalog.schema.name, got {len(parts)}"
        )
    return TableName(*parts)
