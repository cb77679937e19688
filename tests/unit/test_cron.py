"""When schedule lines fire: plait.scheduler.cron, pure (no clock, no store)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from plait.scheduler.cron import fires_between, next_fires


def utc(text: str) -> datetime:
    """``2024-03-31T01:00`` (UTC) as an aware datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def iso(moments: list[datetime]) -> list[str]:
    return [m.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") for m in moments]


# ----------------------------------------------------------------------- forms


def test_five_fields_fire_strictly_after_the_given_moment() -> None:
    fires = next_fires("*/5 * * * *", utc("2024-01-01T00:05:00"), 3, "UTC")
    assert iso(fires) == ["2024-01-01T00:10:00", "2024-01-01T00:15:00", "2024-01-01T00:20:00"]
    assert all(f.tzinfo is not None and f.utcoffset() == timedelta(0) for f in fires)


def test_six_fields_take_seconds_first() -> None:
    fires = next_fires("*/20 30 9 * * *", utc("2024-01-01T09:29:59"), 4, "UTC")
    assert iso(fires) == [
        "2024-01-01T09:30:00",
        "2024-01-01T09:30:20",
        "2024-01-01T09:30:40",
        "2024-01-02T09:30:00",
    ]
    every_second = next_fires("*/1 * * * * *", utc("2024-01-01T00:00:00"), 3, "UTC")
    assert iso(every_second) == [
        "2024-01-01T00:00:01",
        "2024-01-01T00:00:02",
        "2024-01-01T00:00:03",
    ]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("@hourly", ["2024-01-10T13:00:00", "2024-01-10T14:00:00"]),
        ("@daily", ["2024-01-11T00:00:00", "2024-01-12T00:00:00"]),
        ("@midnight", ["2024-01-11T00:00:00", "2024-01-12T00:00:00"]),
        ("@weekly", ["2024-01-14T00:00:00", "2024-01-21T00:00:00"]),  # Sundays
        ("@monthly", ["2024-02-01T00:00:00", "2024-03-01T00:00:00"]),
        ("@yearly", ["2025-01-01T00:00:00", "2026-01-01T00:00:00"]),
        ("@annually", ["2025-01-01T00:00:00", "2026-01-01T00:00:00"]),
    ],
)
def test_descriptors(line: str, expected: list[str]) -> None:
    assert iso(next_fires(line, utc("2024-01-10T12:34:56"), 2, "UTC")) == expected


def test_every_is_aligned_to_multiples_of_its_period_since_the_epoch() -> None:
    assert iso(next_fires("@every 10m", utc("2024-01-01T00:03:07"), 3)) == [
        "2024-01-01T00:10:00",
        "2024-01-01T00:20:00",
        "2024-01-01T00:30:00",
    ]
    fires = next_fires("@every 1h30m", utc("2024-01-01T00:10:00"), 3)
    assert iso(fires) == ["2024-01-01T01:30:00", "2024-01-01T03:00:00", "2024-01-01T04:30:00"]
    assert all(f.timestamp() % 5400 == 0 for f in fires)
    # on a multiple: the next one, never the same moment again
    assert iso(next_fires("@every 10m", utc("2024-01-01T00:10:00"), 1)) == ["2024-01-01T00:20:00"]
    # a timezone does not move an @every (it counts real seconds)
    assert next_fires("CRON_TZ=Asia/Kolkata @every 10m", utc("2024-01-01T00:03:07"), 2) == (
        next_fires("@every 10m", utc("2024-01-01T00:03:07"), 2)
    )


def test_fires_between_is_half_open_and_limited_to_the_latest() -> None:
    start, end = utc("2024-01-01T00:00:00"), utc("2024-01-01T01:00:00")
    fires = fires_between("*/15 * * * *", start, end, "UTC")
    assert iso(fires) == [
        "2024-01-01T00:15:00",
        "2024-01-01T00:30:00",
        "2024-01-01T00:45:00",
        "2024-01-01T01:00:00",
    ]
    assert iso(fires_between("*/15 * * * *", start, end, "UTC", limit=2)) == [
        "2024-01-01T00:45:00",
        "2024-01-01T01:00:00",
    ]
    assert fires_between("0 0 1 1 *", start, end, "UTC") == []
    # many fires: still the latest ones, in order
    many = fires_between("*/1 * * * * *", start, end, "UTC", limit=5)
    assert iso(many) == [
        "2024-01-01T00:59:56",
        "2024-01-01T00:59:57",
        "2024-01-01T00:59:58",
        "2024-01-01T00:59:59",
        "2024-01-01T01:00:00",
    ]


# ----------------------------------------------------------------------- timezones


def test_cron_tz_and_tz_prefixes() -> None:
    after = utc("2024-01-15T00:00:00")
    # 09:00 in Tokyo is 00:00 UTC: strictly after 00:00 UTC is the next day
    assert iso(next_fires("CRON_TZ=Asia/Tokyo 0 9 * * *", after, 1)) == ["2024-01-16T00:00:00"]
    assert iso(next_fires("TZ=America/New_York 0 9 * * *", after, 1)) == ["2024-01-15T14:00:00"]
    # the prefix wins over the default timezone
    assert iso(next_fires("TZ=America/New_York 0 9 * * *", after, 1, "Asia/Tokyo")) == [
        "2024-01-15T14:00:00"
    ]


def test_default_timezone_argument() -> None:
    after = utc("2024-07-01T00:00:00")
    assert iso(next_fires("0 9 * * *", after, 1, "Europe/Paris")) == ["2024-07-01T07:00:00"]
    assert iso(next_fires("0 9 * * *", after, 1, "UTC")) == ["2024-07-01T09:00:00"]
    assert iso(next_fires("0 9 * * *", after, 1, "America/Los_Angeles")) == ["2024-07-01T16:00:00"]


def test_no_timezone_at_all_means_the_machines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    try:
        assert iso(next_fires("0 9 * * *", utc("2024-07-01T00:00:00"), 1)) == [
            "2024-07-01T03:30:00"
        ]
    finally:
        monkeypatch.undo()
        time.tzset()


# ----------------------------------------------------------------------- daylight saving


@pytest.mark.parametrize(
    ("zone", "after", "first_after_gap", "next_day"),
    [
        # Paris 2024-03-31: 02:00 CET -> 03:00 CEST (01:00 UTC); 02:30 does not exist
        ("Europe/Paris", "2024-03-30T12:00:00", "2024-03-31T01:00:00", "2024-04-01T00:30:00"),
        # New York 2024-03-10: 02:00 EST -> 03:00 EDT (07:00 UTC)
        ("America/New_York", "2024-03-09T12:00:00", "2024-03-10T07:00:00", "2024-03-11T06:30:00"),
    ],
)
def test_spring_forward_fires_once_at_the_first_moment_after_the_gap(
    zone: str, after: str, first_after_gap: str, next_day: str
) -> None:
    fires = next_fires("30 2 * * *", utc(after), 3, zone)
    assert iso(fires)[:2] == [first_after_gap, next_day]
    day_before = utc(after) - timedelta(days=1)
    window = fires_between("30 2 * * *", day_before, utc(after) + timedelta(days=1), zone)
    gap_day = [f for f in window if f.date() == utc(first_after_gap).date()]
    assert iso(gap_day) == [first_after_gap]
    # and via the prefix, with no default
    assert iso(next_fires(f"CRON_TZ={zone} 30 2 * * *", utc(after), 1)) == [first_after_gap]


@pytest.mark.parametrize(
    ("zone", "line", "day_start", "day_end", "expected"),
    [
        # Paris 2024-10-27: 03:00 CEST -> 02:00 CET; 02:30 happens at 00:30 and 01:30 UTC
        (
            "Europe/Paris",
            "30 2 * * *",
            "2024-10-26T22:00:00",
            "2024-10-27T23:00:00",
            ["2024-10-27T00:30:00"],
        ),
        # New York 2024-11-03: 02:00 EDT -> 01:00 EST; 01:30 happens at 05:30 and 06:30 UTC
        (
            "America/New_York",
            "30 1 * * *",
            "2024-11-03T04:00:00",
            "2024-11-04T04:00:00",
            ["2024-11-03T05:30:00"],
        ),
        ("Europe/Paris", "0 2 * * *", "2024-10-26T22:00:00", "2024-10-27T23:00:00", None),
    ],
)
def test_fall_back_fires_a_fixed_hour_line_once(
    zone: str, line: str, day_start: str, day_end: str, expected: list[str] | None
) -> None:
    fires = fires_between(line, utc(day_start), utc(day_end), zone)
    assert len(fires) == 1
    if expected is not None:
        assert iso(fires) == expected
    # the day after is back to normal
    following = next_fires(line, fires[0], 1, zone)[0]
    assert following - fires[0] == timedelta(hours=25)


@pytest.mark.parametrize(
    ("zone", "start", "end", "expected"),
    [
        (
            "Europe/Paris",
            "2024-10-26T23:50:00",  # 01:50 CEST
            "2024-10-27T02:10:00",  # 03:10 CET
            [
                "2024-10-27T00:00:00",  # 02:00 CEST
                "2024-10-27T00:30:00",  # 02:30 CEST
                "2024-10-27T01:00:00",  # 02:00 CET
                "2024-10-27T01:30:00",  # 02:30 CET
                "2024-10-27T02:00:00",  # 03:00 CET
            ],
        ),
        (
            "America/New_York",
            "2024-11-03T04:50:00",  # 00:50 EDT
            "2024-11-03T07:10:00",  # 02:10 EST
            [
                "2024-11-03T05:00:00",  # 01:00 EDT
                "2024-11-03T05:30:00",  # 01:30 EDT
                "2024-11-03T06:00:00",  # 01:00 EST
                "2024-11-03T06:30:00",  # 01:30 EST
                "2024-11-03T07:00:00",  # 02:00 EST
            ],
        ),
    ],
)
def test_fall_back_fires_every_real_half_hour(
    zone: str, start: str, end: str, expected: list[str]
) -> None:
    assert iso(fires_between("*/30 * * * *", utc(start), utc(end), zone)) == expected


def test_spring_forward_every_half_hour_skips_only_the_missing_wall_times() -> None:
    fires = fires_between(
        "*/30 * * * *", utc("2024-03-31T00:10:00"), utc("2024-03-31T02:10:00"), "Europe/Paris"
    )
    # 01:30 CET, then 03:00, 03:30, 04:00 CEST: one real half hour apart each
    assert iso(fires) == [
        "2024-03-31T00:30:00",
        "2024-03-31T01:00:00",
        "2024-03-31T01:30:00",
        "2024-03-31T02:00:00",
    ]


def test_daily_lines_keep_local_wall_time_across_the_change() -> None:
    fires = next_fires("0 9 * * *", utc("2024-03-29T12:00:00"), 4, "Europe/Paris")
    assert iso(fires) == [
        "2024-03-30T08:00:00",  # 09:00 CET
        "2024-03-31T07:00:00",  # 09:00 CEST
        "2024-04-01T07:00:00",
        "2024-04-02T07:00:00",
    ]


def test_hourly_descriptor_on_the_fall_back_night_fires_every_real_hour() -> None:
    fires = fires_between(
        "@hourly", utc("2024-10-26T23:30:00"), utc("2024-10-27T02:30:00"), "Europe/Paris"
    )
    assert iso(fires) == ["2024-10-27T00:00:00", "2024-10-27T01:00:00", "2024-10-27T02:00:00"]


def test_a_bad_line_is_refused() -> None:
    with pytest.raises(ValueError, match="fields"):
        next_fires("* * *", utc("2024-01-01T00:00:00"))
    with pytest.raises(ValueError, match="unknown timezone"):
        next_fires("CRON_TZ=Mars/Olympus 0 9 * * *", utc("2024-01-01T00:00:00"))
