"""Params and env in every form the dialect allows, for workflows, steps and ``--params``.

Params: ``"K=V K2='a b' positional"`` (shell quoting), a multi-line block (one ``K=V`` per line,
so values may hold spaces), a list of ``- K: V`` maps or ``K=V`` strings, or a ``{K: V}`` map.
Env: a list of ``- K: V`` maps or ``K=V`` strings, or a map. Values always become strings.
"""

from __future__ import annotations

import re

from plait.errors import SpecError
from plait.model import Param
from plait.model.workflow import PARAM_TYPES
from plait.spec._kinds import INVALID, Ctx, Kind, Schema
from plait.spec._yaml import Path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from plait.model import Workflow

__all__ = [
    "EnvKind",
    "ParamsKind",
    "check_params",
    "is_expression",
    "params_problems",
    "parse_env",
    "parse_params",
    "schedule_warnings",
    "value_problem",
]

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


_TYPED_KEYS = ("name", "type", "required", "default", "description", "enum")


def _param_item(ctx: Ctx, path: Path, item: object) -> Any:
    if isinstance(item, dict) and "name" in item and (len(item) > 1 or "type" in item):
        return _typed_param(ctx, path, item)
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


def _typed_param(ctx: Ctx, path: Path, item: dict[Any, Any]) -> Any:
    """``{name, type, required, default, description, enum}``: a param with its interface."""
    unknown = [str(k) for k in item if k not in _TYPED_KEYS]
    if unknown:
        return ctx.error(
            (*path, unknown[0]),
            f"unknown field `{unknown[0]}` of a param ({', '.join(_TYPED_KEYS)})",
        )
    name = item["name"]
    if not isinstance(name, str) or not _NAME.match(name):
        return ctx.error((*path, "name"), "a param's name must be a name like `MY_PARAM`")
    kind = item.get("type")
    if kind is not None and kind not in PARAM_TYPES:
        return ctx.error((*path, "type"), f"type must be one of {', '.join(PARAM_TYPES)}")
    required = item.get("required", False)
    if not isinstance(required, bool):
        return ctx.error((*path, "required"), "required must be true or false")
    description = item.get("description")
    if description is not None and not isinstance(description, str):
        return ctx.error((*path, "description"), "description must be a string")
    choices = item.get("enum")
    if choices is not None:
        if not isinstance(choices, list) or not choices:
            return ctx.error((*path, "enum"), "enum must be a list of the values allowed")
        choices = tuple(value_text(ctx, (*path, "enum", i), c) for i, c in enumerate(choices))
    default = (
        "" if item.get("default") is None else value_text(ctx, (*path, "default"), item["default"])
    )
    param = Param(name, default, kind, required, description, choices)
    if default:
        problem = value_problem(param, default)
        if problem:
            return ctx.error((*path, "default"), f"default of {name}: {problem}")
    return param


_INTEGER_TEXT = re.compile(r"^[+-]?\d+$")
_NUMBER_TEXT = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def value_problem(param: Param, value: str) -> str | None:
    """Why ``value`` does not fit ``param``'s type or choices (None: it fits)."""
    if param.type == "integer" and not _INTEGER_TEXT.match(value.strip()):
        return f"must be an integer, not {value!r}"
    if param.type == "number" and not _NUMBER_TEXT.match(value.strip()):
        return f"must be a number, not {value!r}"
    if param.type == "boolean" and value.strip().lower() not in ("true", "false"):
        return f"must be true or false, not {value!r}"
    if param.choices is not None and value not in param.choices:
        return f"must be one of {', '.join(param.choices)}, not {value!r}"
    return None


def is_expression(value: str) -> bool:
    """A value known only at run time (a ``${...}``/``$VAR`` reference or a backtick)."""
    return "$" in value or "`" in value


def params_problems(
    declared: tuple[Param, ...], given: tuple[Param, ...], *, literal_only: bool = False
) -> list[str]:
    """What is wrong with ``given`` for a workflow whose params are ``declared``: a required
    param with no value, a value of the wrong type or not among its choices. With
    ``literal_only`` (checking a file), values known only at run time are not judged."""
    by_name = {p.name: p.value for p in given if p.name is not None}
    problems: list[str] = []
    for param in declared:
        if param.name is None or not param.typed:
            continue
        value = by_name.get(param.name, param.value)
        if literal_only and is_expression(value):
            continue
        if not value:
            if param.required:
                problems.append(f"param {param.name} is required")
            continue
        problem = value_problem(param, value)
        if problem:
            problems.append(f"param {param.name} {problem}")
    return problems


def check_params(workflow_name: str, declared: tuple[Param, ...], given: tuple[Param, ...]) -> None:
    """Refuse ``given`` params that do not fit the ``declared`` ones of a workflow.

    Raises:
        InvalidParamsError: naming each param that does not fit.
    """
    problems = params_problems(declared, given)
    if problems:
        from plait.errors import InvalidParamsError

        raise InvalidParamsError(f"{workflow_name}: {'; '.join(problems)}")


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
        typed: Schema = {
            "type": "object",
            "description": "a param with its interface",
            "required": ["name"],
            "properties": {
                "name": {"type": "string"},
                "type": {"enum": list(PARAM_TYPES)},
                "required": {"type": "boolean"},
                "default": _ANY_VALUE,
                "description": {"type": "string"},
                "enum": {"type": "array"},
            },
            "additionalProperties": False,
        }
        item: Schema = {"anyOf": [pair, typed, _SCALAR]}
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


def schedule_warnings(workflow: Workflow) -> list[str]:
    """For ``validate``: a scheduled workflow's runs are started with no params, so a param
    it requires with no default refuses every one of them (each fire time is then recorded
    as skipped, "cannot enqueue")."""
    if workflow.schedule.empty:
        return []
    return [
        f"schedule: param {problem.removeprefix('param ')}, and a scheduled run is given no "
        "params: every fire time will be skipped"
        for problem in params_problems(workflow.params, ())
    ]
