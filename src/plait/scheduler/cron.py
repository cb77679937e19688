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

__all__ = ["fires_between", "next_fires"]

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
