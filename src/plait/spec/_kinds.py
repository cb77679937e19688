"""The vocabulary of the field tables: what kind of value a field takes, read and described once.

Each ``Kind`` both reads a YAML value (reporting problems with file, line and field) and describes
itself as JSON Schema, so the validator and the schema for editors cannot drift apart. A
``Table`` is a declarative list of ``Field``s; it accepts camelCase and snake_case spellings.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping

from plait.errors import Problem
from plait.spec._yaml import Path, show_path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "INVALID",
    "Anything",
    "Choice",
    "Ctx",
    "Duration",
    "Entries",
    "Field",
    "Flag",
    "Integer",
    "Kind",
    "Names",
    "Number",
    "SignalName",
    "Struct",
    "Table",
    "Text",
    "TextMap",
    "Unsupported",
    "VarName",
    "Words",
    "parse_duration",
    "parse_size",
    "range_problem",
    "snake",
]

if TYPE_CHECKING:
    Schema = dict[str, Any]  # a JSON Schema fragment
else:
    Schema = dict

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])([A-Z])")
_INTEGER = re.compile(r"^[+-]?[0-9]+$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)")
_DURATION = re.compile(r"^(?:[0-9]+(?:\.[0-9]+)?(?:ms|s|m|h|d))+$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


class _Invalid:
    """The value of a field that was reported as wrong; builders fall back to defaults."""

    def __repr__(self) -> str:
        return "INVALID"


INVALID: Any = _Invalid()


def snake(name: str) -> str:
    """``maxActiveRuns`` → ``max_active_runs``; snake_case names are returned unchanged."""
    return _CAMEL_BOUNDARY.sub(r"_\1", name).lower()


_SIZE = r"(?i)^\s*([0-9]+(?:\.[0-9]+)?)\s*([KMGT]?i?B?)\s*$"  # compiled when first used
_SIZE_UNITS = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}


def parse_size(value: object) -> int | None:
    """Bytes in a size: a whole number, or ``512KiB``, ``1MiB``, ``100MB``, ``2GiB`` (KiB =
    1024 bytes, KB = 1000); None if it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if not isinstance(value, str):
        return None
    match = re.match(_SIZE, value)
    if match is None:
        return None
    number, unit = float(match.group(1)), match.group(2).upper()
    prefix = unit.rstrip("B").rstrip("I")
    if prefix not in _SIZE_UNITS or (unit and "B" not in unit and unit != prefix):
        return None
    if "I" in unit and not prefix:
        return None
    scale = 1024 ** " KMGT".index(prefix) if "I" in unit and prefix else _SIZE_UNITS[prefix]
    return int(number * scale)


def parse_duration(text: str) -> float | None:
    """Seconds in a Go-style duration (``90s``, ``1h30m``, ``1d``), or None if it is not one."""
    if not _DURATION.match(text):
        return None
    return sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _DURATION_PART.findall(text))


class Ctx:
    """Where values come from (file, line map) and where problems go."""

    def __init__(
        self,
        file: str,
        lines: Mapping[Path, int] | None = None,
        raw: Mapping[Path, str] | None = None,
        problems: list[Problem] | None = None,
        line_hint: int | None = None,
    ) -> None:
        self.file = file
        self.lines: Mapping[Path, int] = lines if lines is not None else {}
        self.raw: Mapping[Path, str] = raw if raw is not None else {}
        self.problems: list[Problem] = problems if problems is not None else []
        self.line_hint = line_hint

    def line(self, path: Path) -> int | None:
        """The line of ``path``, or of its nearest ancestor that has one."""
        for size in range(len(path), -1, -1):
            found = self.lines.get(path[:size])
            if found is not None:
                return found
        return self.line_hint

    def error(self, path: Path, message: str) -> Any:
        """Record a problem at ``path``; returns ``INVALID`` so readers can ``return`` it."""
        self.problems.append(Problem(self.file, self.line(path), show_path(path), message))
        return INVALID

    def text(self, path: Path, value: object) -> str:
        """A scalar as the string a person wrote: ``1.10`` stays ``1.10``, null becomes ``""``."""
        if isinstance(value, str):
            return value
        written = self.raw.get(path)
        if written is not None:
            return written
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)


class Kind:
    """A kind of field value: reads YAML values into model values and describes itself."""

    accepts_null = False

    def read(self, ctx: Ctx, path: Path, value: object) -> Any:
        raise NotImplementedError

    def schema(self, defs: dict[str, Schema]) -> Schema:
        raise NotImplementedError


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class Text(Kind):
    """A string; numbers are taken as the text written."""

    def read(self, ctx: Ctx, path: Path, value: object) -> Any:
        if isinstance(value, str) or _is_number(value):
            return ctx.text(path, value)
        return ctx.error(path, "must be a string")

    def schema(self, defs: dict[str, Schema]) -> Schema:
        return {"type": ["string", "number"]}


class Flag(Kind):
    def read(self, ctx: Ctx, path: Path, value: object) -> Any:
        if isinstance(value, bool):
            return value
        return ctx.error(path, "must be true or false")

    def schema(self, defs: dict[str, Schema]) -> Schema:
        return {"type": "boolean"}


class Integer(Kind):
    """An integer (a numeric string is accepted) no smaller than ``minimum`` and no larger
    than ``maximum``."""

    def __init__(self, minimum: int | None = None, maximum: int | None = None) -> None:
        self.minimum = minimum
        self.maximum = maximum

    def read(self, ctx: Ctx, path: Path, value: object) -> Any:
        if isinstance(value, str) and _INTEGER.match(value.strip()):
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            return ctx.error(path, "must be an integer")
        problem = range_problem(value, self.minimum, self.maximum)
        if problem is not None:
            return ctx.error(path, problem)
        return value

    def schema(self, defs: dict[str, Schema]) -> Schema:
        number: Schema = {"type": "integer"}
        if self.minimum is not None:
            number["minimum"] = self.minimum
        if self.maximum is not None:
            number["maximum"] = self.maximum
        return {"anyOf": [number, {"type": "string", "pattern": r"^\s*[+-]?[0-9]+\s*$"}]}


def range_problem(value: int, minimum: int | None, maximum: int | None) -> str | None:
    """What is wrong with ``value`` for the range [``minimum``, ``maximum``] (either may be
    open), or None: the one wording of the YAML fields and of the priority rule
    (``plait.spec.priority``)."""
    if minimum is not None and maximum is not None:
        if not minimum <= value <= maximum:
            return f"must be between {minimum} and {maximum}, not {value}"
    elif minimum is not None and value < minimum:
        return f"must be >= {minimum}, not {value}"
    elif maximum is not None and value > maximum:
        return f"must be <= {maximum}, not {value}"
    return None


class Number(Kind):
    """A finite number (a numeric string is accepted) no smaller than ``minimum``."""

    def __init__(self, minimum: float | None = None) -> None:
        self.minimum = minimum

    def read(self, ctx: Ctx, path: Path, value: object) -> Any:
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                pass
        if not _is_number(value) or not math.isfinite(value):  # type: ignore[arg-type]
            return ctx.error(path, "must be a number")
        number = float(value)  # type: ignore[arg-type]
        if self.minimum is not None and number < self.minimum:
            return ctx.error(path, f"must be >= {self.minimum:g}, not {number:g}")
        return number

    def schema(self, defs: dict[str, Schema]) -> Schema:
        number: Schema = {"type": "number"}
        if self.minimum is not None:
            number["minimum"] = self.minimum
        return {"anyOf": [number, {"type": "string", "pattern": r"^\s*[+-]?[0-9.eE+-]+\s*$"}]}


class Choice(Kind):
    """One word of a closed set."""

    def __init__(self, choices: tuple[str, ...]) -> None:
        self.choices = choices

    def read(self, ctx: Ctx, path: Path, value: object) -> Any:
        if isinstance(value, str) and value in self.choices:
            return value
        shown = ctx.text(path, value) if not isinstance(value, dict | list) else "a collection"
        return ctx.error(path, f"must be one of {', '.join(self.choices)}, not `{shown}`")

    def schema(self, defs: dict[str, Schema]) -> Schema:
        return {"type": "string", "enum": list(self.choices)}


class Words(Kind):
    """A list of strings, or one string (split on commas when ``comma`` is set)."""

    def __init__(self, comma: bool = False) -> None:
        self.comma = comma

    def read(self, ctx: Ctx, path: Path, value: object) -> Any:
        if isinstance(value, str):
            parts = value.split(",") if self.comma else [value]
            return tuple(p.strip() for p in parts if p.strip())
        if isinstance(value, list):
            items = []
            for i, item in enumerate(value):
                if item is None or isinstance(item, dict | list):
                    return ctx.error((*path, i), "must be a string")
                items.append(ctx.text((*path, i), item))
            return tuple(items)
        return ctx.error(path, "must be a string or a list of strings")

    def schema(self, defs: dict[str, Schema]) -> Schema:
        item = {"type": ["string", "number", "boolean"]}
        return {"anyOf": [{"type": "string"}, {"type": "array", "items": item}]}


class Names(Words):
    """Step names (``depends``): one name or a list; numbers are names too."""

    def read(self, ctx: Ctx, path: Path, value: object) -> Any:
        if _is_number(value):
            return (ctx.text(path, value),)
        return super().read(ctx, path, value)

    def schema(self, defs: dict[str, Schema]) -> Schema:
        item = {"type": ["string", "number"]}
        return {"anyOf": [item, {"type": "array", "items": item}]}


class Duration(Kind):
    """A duration such as ``30m``, ``6h``, ``1d`` or ``1h30m``, kept as written."""

    def read(self, ctx: Ctx, path: Path, value: object) -> Any:
        if isinstance(value, str) and parse_duration(value.strip()) is not None:
            return value.strip()
        shown = ctx.text(path, value) if not isinstance(value, dict | list) else "a collection"
        return ctx.error(path, f"must be a duration like `30m`, `6h` or `1d`, not `{shown}`")

    def schema(self, defs: dict[str, Schema]) -> Schema:
        return {"type": "string", "pattern": _DURATION.pattern}


class SignalName(Kind):
    """A signal by name (``SIGTERM``, ``TERM``) or number; read as its canonical name."""

    def read(self, ctx: Ctx, path: Path, value: object) -> Any:
        import signal

        text = ctx.text(path, value).strip().upper() if not isinstance(value, dict | list) else ""
        name = text if text.startswith("SIG") else f"SIG{text}"
        if _INTEGER.match(text):
            try:
                return signal.Signals(int(text)).name
            except ValueError:
                pass
        elif name in signal.Signals.__members__:
            return signal.Signals[name].name
        return ctx.error(path, f"`{text}` is not a signal name (e.g. SIGTERM, SIGINT)")

    def schema(self, defs: dict[str, Schema]) -> Schema:
        return {"type": ["string", "integer"]}


class VarName(Kind):
    """A variable name for ``output``; a leading ``$`` is dropped."""

    def read(self, ctx: Ctx, path: Path, value: object) -> Any:
        text = value[1:] if isinstance(value, str) and value.startswith("$") else value
        if isinstance(text, str) and _IDENTIFIER.match(text):
            return text
        return ctx.error(path, "must be a variable name like `RESULT`")

    def schema(self, defs: dict[str, Schema]) -> Schema:
        return {"type": "string", "pattern": r"^\$?[A-Za-z_][A-Za-z0-9_]*$"}


class TextMap(Kind):
    """A mapping of strings to strings (``workerSelector``)."""

    def read(self, ctx: Ctx, path: Path, value: object) -> Any:
        if not isinstance(value, dict):
            return ctx.error(path, "must be a mapping of names to strings")
        result: dict[str, str] = {}
        for key, item in value.items():
            if isinstance(item, dict | list):
                return ctx.error((*path, key), "must be a string")
            result[key] = ctx.text((*path, key), item)
        return result

    def schema(self, defs: dict[str, Schema]) -> Schema:
        return {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}}


class Anything(Kind):
    """Accepted for compatibility and not used by plait (``smtp``, ``errorMail``)."""

    accepts_null = True

    def read(self, ctx: Ctx, path: Path, value: object) -> Any:
        return value

    def schema(self, defs: dict[str, Schema]) -> Schema:
        return {}


class Unsupported(Kind):
    """A field of the reference that plait refuses rather than silently ignores."""

    def __init__(self, what: str) -> None:
        self.what = what

    def read(self, ctx: Ctx, path: Path, value: object) -> Any:
        shown = value.get("type", "?") if isinstance(value, dict) else value
        return ctx.error(path, f"{self.what} `{shown}` is not supported by plait")

    def schema(self, defs: dict[str, Schema]) -> Schema:
        return {"not": {}}


class Field:
    """One field of a mapping: its camelCase name, kind, description and alias spellings.

    ``attr`` is the snake_case name, the key of the value once read; ``spellings`` are every
    key accepted for it.
    """

    def __init__(
        self,
        name: str,
        kind: Kind,
        description: str,
        aliases: tuple[str, ...] = (),
        *,
        required: bool = False,
    ) -> None:
        self.name = name
        self.kind = kind
        self.description = description
        self.required = required
        self.attr = snake(name)
        names = (name, *aliases)
        self.spellings = tuple(dict.fromkeys(s for n in names for s in (n, snake(n))))


class Entries:
    """The fields read from one mapping: valid values by attribute, and keys as written."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.values: dict[str, Any] = {}
        self.keys: dict[str, str] = {}
        self.invalid: set[str] = set()

    def at(self, attr: str) -> Path:
        """The path of a field, spelled as the user wrote it."""
        return (*self.path, self.keys.get(attr, attr))

    def get(self, attr: str, default: Any = None) -> Any:
        return self.values.get(attr, default)

    def __contains__(self, attr: str) -> bool:
        return attr in self.values

    def given(self, attr: str) -> bool:
        """Whether the field was written, even with a wrong or null value."""
        return attr in self.keys


class Table:
    """A declarative set of fields; reads a mapping strictly (unknown keys, double spellings)."""

    def __init__(self, name: str, fields: tuple[Field, ...]) -> None:
        self.name = name
        self.fields = fields
        self._index = {snake(s): f for f in fields for s in f.spellings}
        self._known = [s for f in fields for s in f.spellings]

    def read(
        self,
        ctx: Ctx,
        path: Path,
        mapping: Mapping[str, object],
        optional: frozenset[str] = frozenset(),
    ) -> Entries:
        """Read ``mapping``; ``optional`` names required fields this use does not need."""
        entries = Entries(path)
        for key, value in mapping.items():
            found = self._index.get(snake(key))
            if found is None:
                ctx.error((*path, key), self._unknown(key))
                continue
            if found.attr in entries.keys:
                first = entries.keys[found.attr]
                line = ctx.line((*path, first))
                message = f"duplicate key: `{key}` is the same field as `{first}` (line {line})"
                ctx.error((*path, key), message)
                continue
            entries.keys[found.attr] = key
            if value is None and not found.kind.accepts_null:
                continue
            result = found.kind.read(ctx, (*path, key), value)
            if result is INVALID:
                entries.invalid.add(found.attr)
            else:
                entries.values[found.attr] = result
        self._check_required(ctx, entries, optional)
        return entries

    def _check_required(self, ctx: Ctx, entries: Entries, optional: frozenset[str]) -> None:
        for found in self.fields:
            missing = found.attr not in entries.values and found.attr not in entries.invalid
            if found.required and missing and found.attr not in optional:
                where = entries.at(found.attr) if entries.given(found.attr) else entries.path
                ctx.error(where, f"`{found.name}` is required")

    def _unknown(self, key: str) -> str:
        import difflib

        if key == "action" and "wait" in self._known:  # a step of a later Dagu's spelling
            return (
                "unknown field `action` (a step action of later Dagu versions); to start a "
                "workflow without waiting for it, write `run: NAME` with `wait: false`"
            )
        close = difflib.get_close_matches(key, self._known, n=1, cutoff=0.6)
        hint = f"; did you mean `{close[0]}`?" if close else ""
        return f"unknown field `{key}`{hint}"


class Struct(Kind):
    """A mapping read with a table, then turned into a model value by ``make``."""

    def __init__(self, table: Table, make: Callable[[Ctx, Entries], Any] | None = None) -> None:
        self.table = table
        self.make = make

    def read(self, ctx: Ctx, path: Path, value: object) -> Any:
        if not isinstance(value, dict):
            return ctx.error(path, f"must be a mapping of {self.table.name} fields")
        entries = self.table.read(ctx, path, value)
        return self.make(ctx, entries) if self.make else entries.values

    def schema(self, defs: dict[str, Schema]) -> Schema:
        from plait.spec.schema import table_schema

        return table_schema(self.table, defs)
