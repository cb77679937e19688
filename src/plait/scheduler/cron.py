"""The one wrapper around the cron library: when a schedule line fires, in UTC.

Times are computed in the line's timezone (``CRON_TZ=``/``TZ=``, else the configured default,
else the machine's), so ``0 9 * * *`` is 09:00 local time on both sides of a daylight-saving
change; a wall time that does not exist that day (spring forward) fires at the first moment
after the gap, and a wall time that happens twice (fall back) fires once.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from plait.spec.cron import CronLine, parse_cron_line

__all__ = ["Overflow", "fires_between", "first_fires", "next_fires"]

_UTC = UTC


@lru_cache(maxsize=1024)
def _parsed(line: str) -> CronLine:
    return parse_cron_line(line)


def _zone(line: CronLine, default: str | None) -> ZoneInfo | None:
    name = line.timezone or default
    return ZoneInfo(name) if name else None


def _local(moment: datetime, zone: ZoneInfo | None) -> datetime:
    return moment.astimezone(zone) if zone is not None else moment.astimezone()


def _every(period: float, after: datetime, count: int) -> list[datetime]:
    start = after.timestamp()
    first = math.floor(start / period + 1) * period
    return [datetime.fromtimestamp(first + i * period, _UTC) for i in range(count)]


def next_fires(
    line: str, after: datetime, count: int = 1, default_tz: str | None = None
) -> list[datetime]:
    """The next ``count`` times (UTC) strictly after ``after`` at which ``line`` fires."""
    parsed = _parsed(line)
    if parsed.every_sec:
        return _every(parsed.every_sec, after, count)
    from croniter import croniter

    zone = _zone(parsed, default_tz)
    cursor = croniter(parsed.expression, _local(after, zone))
    once_a_day = _fixed_hour(parsed.expression)
    fires: list[datetime] = []
    last: datetime | None = None
    while len(fires) < count:
        moment = cursor.get_next(datetime).astimezone(_UTC)
        if last is not None and moment <= last:
            continue
        if once_a_day and _local(moment, zone).fold == 1:
            continue  # the second pass through a wall time (fall back): fired already
        fires.append(moment)
        last = moment
    return fires


class Overflow:
    """The fire times of a window past the ones taken: the first and last of them and how
    many (``at_least``: counting stopped there)."""

    __slots__ = ("at_least", "count", "first", "last")

    def __init__(self, first: datetime, last: datetime, count: int, at_least: bool) -> None:
        self.first, self.last, self.count, self.at_least = first, last, count, at_least

    def joined(self, other: Overflow | None) -> Overflow:
        if other is None:
            return self
        return Overflow(
            min(self.first, other.first),
            max(self.last, other.last),
            self.count + other.count,
            self.at_least or other.at_least,
        )


COUNTED = 10_000  # fire times past the ones taken are counted up to this many (~0.2 s)


def first_fires(
    line: str, start: datetime, end: datetime, default_tz: str | None = None, limit: int = 1000
) -> tuple[list[datetime], Overflow | None]:
    """The first ``limit`` fire times in ``(start, end]`` (UTC), earliest first, and what
    the window holds past them (None when nothing)."""
    parsed = _parsed(line)
    fires: list[datetime] = []
    if parsed.every_sec:  # a fixed period: the times past the limit are counted, not listed
        period = parsed.every_sec
        first = math.floor(start.timestamp() / period + 1) * period
        total = max(0, math.floor((end.timestamp() - first) / period) + 1)
        fires = [datetime.fromtimestamp(first + i * period, _UTC) for i in range(min(total, limit))]
        if total <= limit:
            return fires, None
        past = datetime.fromtimestamp(first + limit * period, _UTC)
        last = datetime.fromtimestamp(first + (total - 1) * period, _UTC)
        return fires, Overflow(past, last, total - limit, False)
    cursor = start
    size = 1
    more = 0
    over_first = over_last = None
    while True:
        batch = next_fires(line, cursor, size, default_tz)
        size = 64
        for moment in batch:
            if moment > end:
                break
            if len(fires) < limit:
                fires.append(moment)
                continue
            more += 1
            over_first = over_first or moment
            over_last = moment
        else:
            cursor = batch[-1]
            if more < COUNTED:
                continue
        break
    if over_first is None or over_last is None:
        return fires, None
    return fires, Overflow(over_first, over_last, more, more >= COUNTED and over_last < end)


def _fixed_hour(expression: str) -> bool:
    """Whether a line names its hours (``30 2 * * *``, ``@daily``) rather than every hour."""
    if expression.startswith("@"):
        return expression != "@hourly"
    fields = expression.split()
    return len(fields) > 1 and not any(mark in fields[1] for mark in "*/")


def fires_between(
    line: str, start: datetime, end: datetime, default_tz: str | None = None, limit: int = 1000
) -> list[datetime]:
    """Every fire time in ``(start, end]`` (UTC), at most ``limit`` of them (the latest)."""
    fires: list[datetime] = []
    cursor = start
    size = 1  # most windows hold no time, or one: ask for more only once one is inside
    while True:
        batch = next_fires(line, cursor, size, default_tz)
        size = 64
        for moment in batch:
            if moment > end:
                return fires[-limit:]
            fires.append(moment)
        cursor = batch[-1]
        if len(fires) > limit * 4:
            fires = fires[-limit:]
