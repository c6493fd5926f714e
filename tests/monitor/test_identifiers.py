from __future__ import annotations

import re

import pytest

from monitor.engines.identifiers import TableName, quote_ident, validate_table_name

GOOD = [
    ("main.ml.churn", ("main", "ml", "churn")),
    ("_cat.schema_1.T2", ("_cat", "schema_1", "T2")),
    ("a.b.c", ("a", "b", "c")),
]

BAD = [
    ("main.ml", "three parts"),
    ("a.b.c.d", "three parts"),
    ("", "three parts"),
    ("1main.ml.churn", "'1main'"),
    ("main.ml-ops.churn", "'ml-ops'"),
    ("main.ml.churn;drop", "'churn;drop'"),
    ("main..churn", "invalid schema ''"),
    ("main.ml.`churn`", "'`churn`'"),
    ("main.ml.churn ", "'churn '"),
    ("main.ml.chürn", "'chürn'"),
    ("main.ml.churn' OR '1'='1", "invalid table name"),
]


@pytest.mark.parametrize(("name", "parts"), GOOD)
def test_valid_names_parse_into_parts(name: str, parts: tuple[str, str, str]) -> None:
    table = validate_table_name(name)
    assert table.parts == parts
    assert str(table) == name


@pytest.mark.parametrize(("name", "message"), BAD)
def test_invalid_names_are_rejected_naming_the_bad_part(name: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        validate_table_name(name)
    assert repr(name) in str(info.value)


def test_table_name_rejects_bad_parts_when_built_directly() -> None:
    with pytest.raises(ValueError, match="invalid catalog 'a b'"):
        TableName("a b", "s", "t")


@pytest.mark.parametrize(("part", "quoted"), [("churn", "`churn`"), ("we`ird", "`we``ird`"), ("``", "``````")])
def test_quote_ident_wraps_in_backticks_and_doubles_inner_ones(part: str, quoted: str) -> None:
    assert quote_ident(part) == quoted


def test_quoted_name_has_each_part_quoted() -> None:
    assert validate_table_name("main.ml.churn").quoted == "`main`.`ml`.`churn`"


def test_sibling_appends_a_suffix_in_the_same_schema() -> None:
    sibling = validate_table_name("main.ml.churn").sibling("_profile_metrics")
    assert sibling == TableName("main", "ml", "churn_profile_metrics")


def test_sibling_with_a_bad_suffix_is_rejected() -> None:
    with pytest.raises(ValueError, match="invalid table name"):
        validate_table_name("main.ml.churn").sibling("-x")


def test_in_schema_moves_the_table_to_another_schema() -> None:
    assert validate_table_name("main.ml.churn").in_schema("mon.out") == TableName("mon", "out", "churn")
    with pytest.raises(ValueError, match=r"catalog\.schema"):
        validate_table_name("main.ml.churn").in_schema("out")
