"""Params and env in every form the dialect allows, for workflows, steps and ``--params``.

Params: ``"K=V K2='a b' positional"`` (shell quoting), a multi-line block (one ``K=V`` per line,
so values may hold spaces), a list of ``- K: V`` maps or ``K=V`` strings, or a ``{K: V}`` map.
Env: a list of ``- K: V`` maps or ``K=V`` strings, or a map. Values always become strings.
"""

from __future__ import annotations

import re

from plait.errors import SpecError
from plait.model import Param
from plait.spec._kinds import INVALID, Ctx, Kind, Schema
from plait.spec._yaml import Path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["EnvKind", "ParamsKind", "parse_env", "parse_params"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def parse_params(
    value: object, *, file: str = "<params>", line: int | None = None, field: str = "params"
) -> tuple[Param, ...]:
    """Read params in any accepted form.

    Raises:
        SpecError: with one Problem naming ``file``, ``line`` and ``field`` when malformed.
    """
    ctx = Ctx(file, line_hint=line)
    result = read_params(ctx, (field,), value)
    if ctx.problems:
        raise SpecError(ctx.problems)
    return tuple(result)


def parse_env(
    value: object, *, file: str = "<env>", line: int | None = None, field: str = "env"
) -> tuple[tuple[str, str], ...]:
    """Read env in any accepted form, keeping order.

    Raises:
        SpecError: with one Problem naming ``file``, ``line`` and ``field`` when malformed.
    """
    ctx = Ctx(file, line_hint=line)
    result = read_env(ctx, (field,), value)
    if ctx.problems:
        raise SpecError(ctx.problems)
    return tuple(result)


def read_params(ctx: Ctx, path: Path, value: object) -> Any:
    """Params as a tuple of ``Param``, or ``INVALID`` after reporting the problem."""
    if value is None:
        return ()
    if isinstance(value, str):
        return _params_from_text(ctx, path, value)
    if isinstance(value, dict):
        return tuple(_param(ctx, (*path, k), k, v) for k, v in value.items())
    if isinstance(value, list):
        params = [_param_item(ctx, (*path, i), item) for i, item in enumerate(value)]
        return INVALID if INVALID in params else tuple(params)
    return ctx.error(path, "params must be a string, a list or a mapping")


def _params_from_text(ctx: Ctx, path: Path, text: str) -> Any:
    if "\n" in text:
        lines = (line.strip() for line in text.split("\n"))
        return tuple(_split_pair(line) for line in lines if line and not line.startswith("#"))
    try:
        tokens = split_words(text)
    except ValueError as exc:
        return ctx.error(path, f"cannot split params `{text}`: {exc}")
    return tuple(_split_token(token) for token in tokens)


def split_words(text: str) -> list[str]:
    """Words of a params line, as a shell splits them (quotes group and are removed, a
    backslash escapes), with one more rule, the reference's: a `command` in backticks is one
    piece of its word, kept as written, so ``BAR=`echo 2``` is one param.

    Raises:
        ValueError: a quote or backtick that is not closed.
    """
    words: list[str] = []
    current: list[str] = []
    started = False
    i = 0
    while i < len(text):
        char = text[i]
        if char.isspace():
            if started:
                words.append("".join(current))
                current, started = [], False
            i += 1
            continue
        started = True
        if char == "\\" and i + 1 < len(text):
            current.append(text[i + 1])
            i += 2
        elif char == '"':
            i = _double_quoted(text, i, current)
        elif char in "'`":
            end = text.find(char, i + 1)
            if end < 0:
                name = {"'": "single quote", '"': "double quote", "`": "backtick"}[char]
                raise ValueError(f"no closing {name}")
            inner = text[i + 1 : end]
            current.append(f"`{inner}`" if char == "`" else inner)
            i = end + 1
        else:
            current.append(char)
            i += 1
    if started:
        words.append("".join(current))
    return words


def _double_quoted(text: str, start: int, current: list[str]) -> int:
    """The text of a double-quoted part (a backslash escapes `"` and `\\`); the index after it."""
    i = start + 1
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text) and text[i + 1] in '"\\':
            current.append(text[i + 1])
            i += 2
        elif char == '"':
            return i + 1
        else:
            current.append(char)
            i += 1
    raise ValueError("no closing double quote")


def _split_token(token: str) -> Param:
    """``K=V`` is a named param when K is a name; anything else is positional."""
    name, sep, rest = token.partition("=")
    if sep and _NAME.match(name):
        return Param(name, rest)
    return Param(None, token)


def _split_pair(line: str) -> Param:
    """One line of a params block: ``K=V`` with V taken whole, surrounding quotes dropped."""
    param = _split_token(line)
    if param.name is None:
        return Param(None, _unquote(line))
    name, _, value = line.partition("=")
    return Param(name, _unquote(value.strip()))


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


def _param_item(ctx: Ctx, path: Path, item: object) -> Any:
    if isinstance(item, dict):
        if len(item) != 1:
            return ctx.error(path, "a params item must be one `NAME: value` pair")
        ((name, value),) = item.items()
        return _param(ctx, (*path, name), name, value)
    if isinstance(item, list):
        return ctx.error(path, "a params item must be `NAME: value` or `NAME=value`")
    if isinstance(item, str):
        return _split_token(item)
    return Param(None, ctx.text(path, item))


def _param(ctx: Ctx, path: Path, name: str, value: object) -> Param:
    return Param(name, value_text(ctx, path, value))


def value_text(ctx: Ctx, path: Path, value: object) -> str:
    """A param or env value as a string: scalars as written, lists and maps as JSON."""
    if isinstance(value, dict | list):
        import json

        return json.dumps(value, ensure_ascii=False)
    return ctx.text(path, value)


def read_env(ctx: Ctx, path: Path, value: object) -> Any:
    """Env as a tuple of ``(name, value)`` pairs, or ``INVALID`` after reporting the problem."""
    if value is None:
        return ()
    if isinstance(value, dict):
        return tuple((k, value_text(ctx, (*path, k), v)) for k, v in value.items())
    if not isinstance(value, list):
        return ctx.error(path, "env must be a list of `NAME: value` items or a mapping")
    pairs = [_env_item(ctx, (*path, i), item) for i, item in enumerate(value)]
    return INVALID if INVALID in pairs else tuple(pairs)


def _env_item(ctx: Ctx, path: Path, item: object) -> Any:
    if isinstance(item, dict) and len(item) == 1:
        ((name, value),) = item.items()
        return (name, value_text(ctx, (*path, name), value))
    if isinstance(item, str):
        name, sep, value = item.partition("=")
        if sep and name.strip():
            return (name.strip(), value)
    return ctx.error(path, "an env item must be `NAME: value` or `NAME=value`")


_SCALAR: Schema = {"type": ["string", "number", "boolean", "null"]}
_ANY_VALUE: Schema = {"type": ["string", "number", "boolean", "null", "array", "object"]}


class ParamsKind(Kind):
    """``params``: string, block, list of pairs, or mapping."""

    accepts_null = True

    def read(self, ctx: Ctx, path: Path, value: object) -> Any:
        return read_params(ctx, path, value)

    def schema(self, defs: dict[str, Schema]) -> Schema:
        pair: Schema = {"type": "object", "minProperties": 1, "maxProperties": 1}
        item: Schema = {"anyOf": [pair, _SCALAR]}
        return {
            "anyOf": [
                {"type": "string"},
                {"type": "array", "items": item},
                {"type": "object", "additionalProperties": _ANY_VALUE},
            ]
        }


class EnvKind(Kind):
    """``env``: list of pairs or ``K=V`` strings, or a mapping."""

    def read(self, ctx: Ctx, path: Path, value: object) -> Any:
        return read_env(ctx, path, value)

    def schema(self, defs: dict[str, Schema]) -> Schema:
        pair: Schema = {"type": "object", "minProperties": 1, "maxProperties": 1}
        item: Schema = {"anyOf": [pair, {"type": "string", "pattern": "="}]}
        return {
            "anyOf": [
                {"type": "array", "items": item},
                {"type": "object", "additionalProperties": _ANY_VALUE},
            ]
        }
