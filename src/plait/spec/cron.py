"""Schedule lines: what plait accepts, checked at load time, and how a scheduler should read them.

A line is an optional ``CRON_TZ=<zone>`` or ``TZ=<zone>`` prefix followed by one of:
5 cron fields (``min hour dom mon dow``); 6 fields with SECONDS FIRST (``sec min hour dom mon
dow``); a descriptor (``@hourly @daily @weekly @monthly @yearly @annually @midnight``); or
``@every <duration>`` (``@every 10m``, ``@every 1h30m``). ``parse_cron_line`` turns a line into
the form croniter takes (seconds moved last), so the scheduler need not know these rules.
"""

from __future__ import annotations

import re

from plait.model import Schedule
from plait.spec._kinds import INVALID, Ctx, Kind, Schema, parse_duration
from plait.spec._yaml import Path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["CronLine", "ScheduleKind", "parse_cron_line"]

_DESCRIPTORS = frozenset(
    {"@hourly", "@daily", "@weekly", "@monthly", "@yearly", "@annually", "@midnight"}
)
_PARTS = ("start", "stop", "restart")


class CronLine:
    """A parsed schedule line.

    ``expression`` is in croniter's syntax (a 6-field line has its seconds moved last, for
    ``croniter(expression)``); it is empty for ``@every``, whose period is ``every_sec``.
    """

    __slots__ = ("every_sec", "expression", "timezone")

    def __init__(self, timezone: str | None, expression: str, every_sec: float | None = None):
        self.timezone = timezone
        self.expression = expression
        self.every_sec = every_sec

    def __repr__(self) -> str:
        return f"CronLine({self.timezone!r}, {self.expression!r}, {self.every_sec!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CronLine):
            return NotImplemented
        mine = (self.timezone, self.expression, self.every_sec)
        return mine == (other.timezone, other.expression, other.every_sec)

    def __hash__(self) -> int:
        return hash((self.timezone, self.expression, self.every_sec))


def parse_cron_line(line: str) -> CronLine:
    """Parse and check one schedule line.

    Raises:
        ValueError: with a one-line reason a person can act on.
    """
    timezone, body = _split_timezone(line.strip())
    if body.startswith("@every"):
        seconds = parse_duration(body.removeprefix("@every").strip())
        if not seconds:
            raise ValueError(f"`{body}` needs a positive duration, like `@every 10m`")
        return CronLine(timezone, "", seconds)
    if body.startswith("@"):
        if body not in _DESCRIPTORS:
            raise ValueError(
                f"unknown descriptor `{body}`; use one of {', '.join(sorted(_DESCRIPTORS))}"
            )
        return CronLine(timezone, body)
    return CronLine(timezone, _check_fields(body))


def _split_timezone(line: str) -> tuple[str | None, str]:
    for prefix in ("CRON_TZ=", "TZ="):
        if line.startswith(prefix):
            zone, _, body = line.removeprefix(prefix).partition(" ")
            _check_timezone(zone)
            return zone, body.strip()
    return None, line


def _check_timezone(zone: str) -> None:
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo(zone)
    except (ValueError, OSError, KeyError):  # ZoneInfoNotFoundError is a KeyError
        raise ValueError(f"unknown timezone `{zone}`")


# Loading a file checks its cron lines by their form alone, so that a plain `plait start`
# need not import croniter; `plait validate`, the API and the scheduler also ask croniter
# (they set this).
FULL_CHECK = False
_FIELD = r"^(\*|\?|[0-9A-Za-z]+(-[0-9A-Za-z]+)?)(/[0-9]+)?$|^[0-9]*[LW#][0-9]*$|^L-?[0-9]*$"
# (lowest, highest) of minute, hour, day of month, month, day of week
_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_NAMES = (
    (),
    (),
    (),
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
    ("sun", "mon", "tue", "wed", "thu", "fri", "sat"),
)


def _check_fields(body: str) -> str:
    fields = body.split()
    if len(fields) not in (5, 6):
        raise ValueError(f"`{body}` has {len(fields)} fields; cron needs 5 (or 6 with seconds)")
    expression = " ".join(fields[1:] + fields[:1]) if len(fields) == 6 else " ".join(fields)
    ranges = ((0, 59), *_RANGES) if len(fields) == 6 else _RANGES
    names = ((), *_NAMES) if len(fields) == 6 else _NAMES
    for field, (low, high), known in zip(fields, ranges, names, strict=True):
        if not _field_ok(field, low, high, known):
            raise ValueError(f"`{body}` is not a valid cron expression (`{field}`)")
    if FULL_CHECK:
        from croniter import croniter

        if not croniter.is_valid(expression):
            raise ValueError(f"`{body}` is not a valid cron expression")
    return expression


def _field_ok(field: str, low: int, high: int, known: tuple[str, ...]) -> bool:
    for part in field.split(","):
        if not part or not re.match(_FIELD, part):  # compiled once, when first needed
            return False
        value = part.split("/")[0]
        for bound in value.split("-") if value not in ("*", "?") else ():
            if bound.isdigit() and not low <= int(bound) <= high:
                return False
            if bound.isalpha() and bound.lower() not in known and bound.upper() != "L":
                return False
    return True


class ScheduleKind(Kind):
    """``schedule``: a line, a list of lines, or ``{start, stop, restart}`` of either."""

    def read(self, ctx: Ctx, path: Path, value: object) -> Any:
        if isinstance(value, dict):
            return self._parts(ctx, path, value)
        lines = _lines(ctx, path, value)
        return INVALID if lines is INVALID else Schedule(start=lines)

    def _parts(self, ctx: Ctx, path: Path, value: dict[str, object]) -> Any:
        parts: dict[str, tuple[str, ...]] = {}
        for key, item in value.items():
            if key not in _PARTS:
                ctx.error((*path, key), f"unknown schedule `{key}`; use start, stop or restart")
            elif item is not None:
                parts[key] = _lines(ctx, (*path, key), item)
        if INVALID in parts.values():
            return INVALID
        return Schedule(**parts)

    def schema(self, defs: dict[str, Schema]) -> Schema:
        lines: Schema = {
            "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]
        }
        parts = {part: lines for part in _PARTS}
        mapping = {"type": "object", "properties": parts, "additionalProperties": False}
        return {"anyOf": [*lines["anyOf"], mapping]}


def _lines(ctx: Ctx, path: Path, value: object) -> Any:
    if isinstance(value, str):
        return _checked(ctx, path, [value], indexed=False)
    if isinstance(value, list):
        if not all(isinstance(item, str) for item in value):
            return ctx.error(path, "must be a cron line or a list of cron lines")
        return _checked(ctx, path, value, indexed=True)
    return ctx.error(path, "must be a cron line or a list of cron lines")


def _checked(ctx: Ctx, path: Path, lines: list[str], *, indexed: bool) -> Any:
    valid = True
    for i, line in enumerate(lines):
        where = (*path, i) if indexed else path
        try:
            parse_cron_line(line)
        except ValueError as exc:
            ctx.error(where, str(exc))
            valid = False
    return tuple(line.strip() for line in lines) if valid else INVALID
