"""The structured values of a step: command, preconditions, continueOn, retry, repeat, parallel.

Each is a ``Kind`` (read + schema) built on a declarative ``Table`` where it is a mapping, so the
JSON Schema and the validator share one description.
"""

from __future__ import annotations

from plait.model import (
    DEFAULT_MAX_CONCURRENT,
    Condition,
    ContinueOn,
    ItemsFrom,
    Parallel,
    RepeatMode,
    RepeatPolicy,
    RetryPolicy,
)
from plait.spec._kinds import (
    INVALID,
    Ctx,
    Entries,
    Field,
    Flag,
    Integer,
    Kind,
    Number,
    Schema,
    Struct,
    Table,
    Text,
    Words,
)
from plait.spec._yaml import Path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "CommandKind",
    "ConditionsKind",
    "ContinueOnKind",
    "ExitCodes",
    "ParallelKind",
    "RepeatKind",
    "RetryKind",
]


class ExitCodes(Kind):
    """One exit code or a list of them."""

    def read(self, ctx: Ctx, path: Path, value: object) -> Any:
        values = value if isinstance(value, list) else [value]
        codes = [
            Integer(0).read(ctx, (*path, i) if value is values else path, v)
            for i, v in enumerate(values)
        ]
        return INVALID if INVALID in codes else tuple(codes)

    def schema(self, defs: dict[str, Schema]) -> Schema:
        code = Integer(0).schema(defs)
        return {"anyOf": [code, {"type": "array", "items": code}]}


class CommandKind(Kind):
    """``command``: a string (possibly a multi-line block) or a list of arguments."""

    def read(self, ctx: Ctx, path: Path, value: object) -> Any:
        if isinstance(value, list):
            words = Words().read(ctx, path, value)
            if words is not INVALID and not words:
                return ctx.error(path, "command is an empty list")
            return words
        text = ctx.text(path, value) if isinstance(value, bool) else Text().read(ctx, path, value)
        if text is not INVALID and not text.strip():
            return ctx.error(path, "command is empty")
        return text

    def schema(self, defs: dict[str, Schema]) -> Schema:
        return {
            "anyOf": [{"type": ["string", "number", "boolean"]}, Words().schema(defs)["anyOf"][1]]
        }


def _make_condition(ctx: Ctx, entries: Entries) -> Any:
    if "condition" not in entries:
        return INVALID  # reported by the table: `condition` is required
    expected = entries.get("expected")
    return Condition(entries.get("condition"), expected, ctx.line(entries.path))


CONDITION = Table(
    "condition",
    (
        Field(
            "condition", Text(), "A command (exit 0 = met) or a value to compare.", required=True
        ),
        Field("expected", Text(), "The value `condition` must expand to (`re:` for a regex)."),
    ),
)
_CONDITION = Struct(CONDITION, _make_condition)


class ConditionsKind(Kind):
    """``preconditions``: a command string, a ``{condition, expected}`` map, or a list of them."""

    def read(self, ctx: Ctx, path: Path, value: object) -> Any:
        if not isinstance(value, list):
            one = self._one(ctx, path, value)
            return INVALID if one is INVALID else (one,)
        items = [self._one(ctx, (*path, i), item) for i, item in enumerate(value)]
        return INVALID if INVALID in items else tuple(items)

    def _one(self, ctx: Ctx, path: Path, value: object) -> Any:
        if isinstance(value, str):
            return Condition(value, None, ctx.line(path))
        if isinstance(value, dict):
            return _CONDITION.read(ctx, path, value)
        return ctx.error(path, "a precondition must be a command or `{condition, expected}`")

    def schema(self, defs: dict[str, Schema]) -> Schema:
        one: Schema = {"anyOf": [{"type": "string"}, _CONDITION.schema(defs)]}
        return {"anyOf": [*one["anyOf"], {"type": "array", "items": one}]}


def _make_continue_on(ctx: Ctx, entries: Entries) -> ContinueOn:
    return ContinueOn(
        failure=entries.get("failure", False),
        skipped=entries.get("skipped", False),
        exit_codes=entries.get("exit_code", ()),
        output=entries.get("output", ()),
        mark_success=entries.get("mark_success", False),
    )


CONTINUE_ON = Table(
    "continueOn",
    (
        Field("failure", Flag(), "Run the next steps even if this step fails."),
        Field("skipped", Flag(), "Run the next steps even if this step is skipped."),
        Field("exitCode", ExitCodes(), "Continue when the step exits with one of these codes."),
        Field("output", Words(), "Continue when the output contains one of these texts."),
        Field("markSuccess", Flag(), "Record the step as succeeded when it continues."),
    ),
)
_CONTINUE_ON = Struct(CONTINUE_ON, _make_continue_on)
_SHORTHANDS = {"failure": ContinueOn(failure=True), "failed": ContinueOn(failure=True)}
_SHORTHANDS["skipped"] = ContinueOn(skipped=True)


class ContinueOnKind(Kind):
    """``continueOn``: a mapping, ``failure``/``skipped``, or ``true`` (= failure)."""

    def read(self, ctx: Ctx, path: Path, value: object) -> Any:
        if isinstance(value, bool):
            return ContinueOn(failure=value)
        if isinstance(value, str):
            found = _SHORTHANDS.get(value.strip().lower())
            return found or ctx.error(path, f"`{value}` is not failure, skipped or a mapping")
        return _CONTINUE_ON.read(ctx, path, value)

    def schema(self, defs: dict[str, Schema]) -> Schema:
        words: Schema = {"type": "string", "enum": sorted(_SHORTHANDS)}
        return {"anyOf": [{"type": "boolean"}, words, _CONTINUE_ON.schema(defs)]}


class Backoff(Kind):
    """A multiplier of the interval after each attempt: a number >= 1, or ``true`` for 2."""

    def read(self, ctx: Ctx, path: Path, value: object) -> Any:
        if isinstance(value, bool):
            return 2.0 if value else 0.0
        number = Number(0).read(ctx, path, value)
        if number is not INVALID and 0 < number < 1:
            return ctx.error(path, f"must be >= 1.0 (a multiplier) or true, not {number:g}")
        return number

    def schema(self, defs: dict[str, Schema]) -> Schema:
        return {"anyOf": [{"type": "boolean"}, Number(0).schema(defs)]}


def _make_retry(ctx: Ctx, entries: Entries) -> RetryPolicy:
    return RetryPolicy(
        limit=entries.get("limit", 0),
        interval_sec=entries.get("interval_sec", 0.0),
        exit_codes=entries.get("exit_code", ()),
        backoff=entries.get("backoff", 0.0),
        max_interval_sec=entries.get("max_interval_sec"),
    )


RETRY = Table(
    "retryPolicy",
    (
        Field("limit", Integer(0), "How many times to retry after the first attempt."),
        Field("intervalSec", Number(0), "Seconds to wait before a retry."),
        Field("exitCode", ExitCodes(), "Retry only when the step exits with one of these codes."),
        Field("backoff", Backoff(), "Multiply the interval by this after each retry (true = 2)."),
        Field("maxIntervalSec", Number(0), "Upper bound of the interval with backoff."),
    ),
)
RetryKind = Struct(RETRY, _make_retry)


class RepeatWord(Kind):
    """``repeat``: true (= while), false, ``while`` or ``until``."""

    def read(self, ctx: Ctx, path: Path, value: object) -> Any:
        if isinstance(value, bool):
            return RepeatMode.WHILE if value else None
        if isinstance(value, str) and value in ("while", "until"):
            return RepeatMode(value)
        return ctx.error(path, "must be true, `while` or `until`")

    def schema(self, defs: dict[str, Schema]) -> Schema:
        return {"anyOf": [{"type": "boolean"}, {"type": "string", "enum": ["while", "until"]}]}


def _make_repeat(ctx: Ctx, entries: Entries) -> Any:
    if entries.invalid & {"repeat", "condition", "exit_code"}:
        return INVALID  # already reported; the mode cannot be decided
    mode: RepeatMode | None = entries.get("repeat")
    has_test = "condition" in entries or "exit_code" in entries
    if mode is None and not has_test:
        return ctx.error(
            entries.path, "repeatPolicy needs `condition`, `exitCode` or `repeat: true`"
        )
    if mode is RepeatMode.UNTIL and not has_test:
        return ctx.error(entries.at("repeat"), "`repeat: until` needs `condition` or `exitCode`")
    condition = None
    if "condition" in entries:
        line = ctx.line(entries.at("condition"))
        condition = Condition(entries.get("condition"), entries.get("expected"), line)
    return RepeatPolicy(
        mode=mode or RepeatMode.WHILE,
        condition=condition,
        exit_codes=entries.get("exit_code", ()),
        interval_sec=entries.get("interval_sec", 0.0),
        limit=entries.get("limit"),
        backoff=entries.get("backoff", 0.0),
        max_interval_sec=entries.get("max_interval_sec"),
    )


REPEAT = Table(
    "repeatPolicy",
    (
        Field("repeat", RepeatWord(), "true or `while`: repeat while the test holds; `until`."),
        Field("condition", Text(), "A command, or a value compared to `expected`."),
        Field("expected", Text(), "The value `condition` is compared to."),
        Field("exitCode", ExitCodes(), "Exit codes that count as the test holding."),
        Field("intervalSec", Number(0), "Seconds between repetitions."),
        Field("limit", Integer(1), "Most repetitions."),
        Field("backoff", Backoff(), "Multiply the interval by this after each repetition."),
        Field("maxIntervalSec", Number(0), "Upper bound of the interval with backoff."),
    ),
)
RepeatKind = Struct(REPEAT, _make_repeat)


class ParallelItems(Kind):
    """The items of a fan-out: a list, a JSON array text, or text evaluated when the step runs
    (``${VAR}``, ``$VAR``, backticks, words) and split into items."""

    def read(self, ctx: Ctx, path: Path, value: object) -> Any:
        if isinstance(value, list):
            return tuple(_item(ctx, (*path, i), v) for i, v in enumerate(value))
        if isinstance(value, str) and value.strip().startswith("["):
            return _json_items(ctx, path, value)
        if isinstance(value, str) and value.strip():
            return value.strip()  # `${VAR}`, `$VAR`, or text split into items when it runs
        if isinstance(value, dict):
            return _items_from(ctx, path, value)
        return ctx.error(
            path,
            "parallel items must be a list, a ${VAR} reference, text, {file: PATH} or "
            "{command: CMD}",
        )

    def schema(self, defs: dict[str, Schema]) -> Schema:
        source = {
            "type": "object",
            "description": "items read as the fan-out goes: one per line (JSON Lines), or a "
            "file holding a JSON array",
            "properties": {"file": {"type": "string"}, "command": {"type": "string"}},
            "additionalProperties": False,
            "minProperties": 1,
            "maxProperties": 1,
        }
        return {"anyOf": [{"type": "string"}, {"type": "array"}, source]}


def _items_from(ctx: Ctx, path: Path, value: dict[object, object]) -> Any:
    unknown = [str(k) for k in value if k not in ("file", "command")]
    if unknown:
        return ctx.error((*path, unknown[0]), f"unknown field `{unknown[0]}` (file or command)")
    if len(value) != 1:
        return ctx.error(path, "parallel items read from one of `file` or `command`")
    key, text = next(iter(value.items()))
    if not isinstance(text, str) or not text.strip():
        return ctx.error((*path, str(key)), f"`{key}` must be a non-empty string")
    return ItemsFrom(file=text.strip()) if key == "file" else ItemsFrom(command=text)


def _item(ctx: Ctx, path: Path, value: object) -> object:
    return value if isinstance(value, dict | list) else ctx.text(path, value)


def _json_items(ctx: Ctx, path: Path, text: str) -> Any:
    import json

    try:
        items = json.loads(text)
    except ValueError as exc:
        return ctx.error(path, f"parallel items are not a valid JSON array: {exc}")
    if not isinstance(items, list):
        return ctx.error(path, "parallel items must be a list or a ${VAR} reference")
    return tuple(v if isinstance(v, str | dict | list) else json.dumps(v) for v in items)


def _make_parallel(ctx: Ctx, entries: Entries) -> Any:
    if "items" not in entries:
        return INVALID  # reported by the table: `items` is required
    return Parallel(entries.get("items"), entries.get("max_concurrent", DEFAULT_MAX_CONCURRENT))


PARALLEL = Table(
    "parallel",
    (
        Field("items", ParallelItems(), "A list, or a ${VAR} holding a JSON array.", required=True),
        Field("maxConcurrent", Integer(1), "How many items run at once."),
    ),
)
_PARALLEL = Struct(PARALLEL, _make_parallel)


class ParallelKind(Kind):
    """``parallel``: items directly, or ``{items, maxConcurrent}``."""

    def read(self, ctx: Ctx, path: Path, value: object) -> Any:
        if isinstance(value, dict):
            return _PARALLEL.read(ctx, path, value)
        items = ParallelItems().read(ctx, path, value)
        return INVALID if items is INVALID else Parallel(items)

    def schema(self, defs: dict[str, Schema]) -> Schema:
        return {"anyOf": [*ParallelItems().schema(defs)["anyOf"], _PARALLEL.schema(defs)]}
