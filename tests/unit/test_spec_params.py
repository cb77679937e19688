"""Params and env in every form: strings, blocks, lists, maps; errors; a round-trip property."""

from __future__ import annotations

import shlex

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plait.errors import SpecError
from plait.model import Param
from plait.spec import parse_env, parse_params


def pairs(params: tuple[Param, ...]) -> list[tuple[str | None, str]]:
    return [(p.name, p.value) for p in params]


def test_string_with_shell_quoting_and_positionals() -> None:
    params = parse_params("""K=V K2="a b" 'c d' positional X='it''s'""")
    assert pairs(params) == [
        ("K", "V"),
        ("K2", "a b"),
        (None, "c d"),
        (None, "positional"),
        ("X", "its"),
    ]


def test_token_with_equals_but_no_name_is_positional() -> None:
    assert pairs(parse_params("--flag=1 http://x?a=b =v")) == [
        (None, "--flag=1"),
        (None, "http://x?a=b"),
        (None, "=v"),
    ]


def test_value_may_contain_equals_and_references() -> None:
    assert pairs(parse_params("Q=a=b INPUT=${extract.output}")) == [
        ("Q", "a=b"),
        ("INPUT", "${extract.output}"),
    ]


def test_multi_line_block_keeps_spaces_in_values() -> None:
    block = """\
ENV=${ITEM}
# a comment

MESSAGE=hello big world
QUOTED="  padded  "
SINGLE='x y'
"""
    assert pairs(parse_params(block)) == [
        ("ENV", "${ITEM}"),
        ("MESSAGE", "hello big world"),
        ("QUOTED", "  padded  "),
        ("SINGLE", "x y"),
    ]


def test_list_of_single_key_maps_and_strings() -> None:
    value = [{"VERSION": "latest"}, {"N": 1}, {"ON": True}, {"E": None}, "A=b c", "lone", 7]
    assert pairs(parse_params(value)) == [
        ("VERSION", "latest"),
        ("N", "1"),
        ("ON", "true"),
        ("E", ""),
        ("A", "b c"),
        (None, "lone"),
        (None, "7"),
    ]


def test_list_and_map_values_become_json() -> None:
    params = parse_params({"ENVS": ["dev", "prod"], "CONF": {"a": 1, "é": "ü"}})
    assert pairs(params) == [("ENVS", '["dev", "prod"]'), ("CONF", '{"a": 1, "é": "ü"}')]


def test_map_form_keeps_order() -> None:
    assert [p.name for p in parse_params({"B": 1, "A": 2, "C": 3})] == ["B", "A", "C"]


def test_none_is_no_params() -> None:
    assert parse_params(None) == ()


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("A='unclosed", "cannot split params"),
        (42, "must be a string, a list or a mapping"),
        ([{"A": 1, "B": 2}], "one `NAME: value` pair"),
        ([["nested"]], "`NAME: value` or `NAME=value`"),
    ],
)
def test_bad_params_raise_one_located_problem(value: object, fragment: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_params(value, file="cli", line=3, field="--params")
    (problem,) = info.value.problems
    assert (problem.file, problem.line) == ("cli", 3)
    assert problem.field.startswith("--params")
    assert fragment in problem.message


def test_env_forms_keep_order() -> None:
    assert parse_env([{"B": 1}, "A=x=y", {"C": None}]) == (("B", "1"), ("A", "x=y"), ("C", ""))
    assert parse_env({"Z": "1", "Y": False}) == (("Z", "1"), ("Y", "false"))
    assert parse_env(None) == ()


def test_bad_env() -> None:
    with pytest.raises(SpecError) as info:
        parse_env(["NOEQUALS"])
    (problem,) = info.value.problems
    assert problem.field == "env[0]"
    with pytest.raises(SpecError):
        parse_env("A=1")


_NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True)
_VALUES = st.text(st.characters(blacklist_characters="\n\r\x00", blacklist_categories=("Cs",)))


@given(st.lists(st.tuples(_NAMES, _VALUES), max_size=8))
def test_quoted_pairs_round_trip(items: list[tuple[str, str]]) -> None:
    text = " ".join(f"{name}={shlex.quote(value)}" for name, value in items)
    assert pairs(parse_params(text)) == items


@given(st.lists(st.tuples(_NAMES, _VALUES.map(str.strip).filter(lambda v: v[:1] != "#"))))
def test_block_lines_round_trip(items: list[tuple[str, str]]) -> None:
    text = "\n".join(f"{name}={value}" for name, value in items) + "\n"
    expected = [
        (n, v[1:-1] if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"" else v) for n, v in items
    ]
    assert pairs(parse_params(text)) == expected
