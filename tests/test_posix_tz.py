"""The machine's zone from TZ in every form the C library takes, right across DST changes."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from consolescrape.extract import local_zone, resolve_reset
from consolescrape.extract.posix_tz import PosixZone, transition_day
from consolescrape.extract.resets import zone_from_tz

NEW_YORK_FORMS = [
    "EST5EDT,M3.2.0,M11.1.0",
    "/usr/share/zoneinfo/America/New_York",
    ":America/New_York",
    ":/usr/share/zoneinfo/America/New_York",
]
#: Friday 6 March 2026, noon in New York (EST); the clocks go forward on Sunday 8 March.
FRIDAY_BEFORE_SPRING = datetime(2026, 3, 6, 17, 0, tzinfo=UTC)
#: Friday 30 October 2026, noon in New York (EDT); the clocks go back on Sunday 1 November.
FRIDAY_BEFORE_AUTUMN = datetime(2026, 10, 30, 16, 0, tzinfo=UTC)


@pytest.mark.parametrize("tz", NEW_YORK_FORMS)
@pytest.mark.parametrize(
    ("now", "text", "expected"),
    [
        # 7:00 AM on Sunday is EDT (UTC-4) although Friday is EST (UTC-5).
        (FRIDAY_BEFORE_SPRING, "Resets Sun 7:00 AM", datetime(2026, 3, 8, 11, 0, tzinfo=UTC)),
        (FRIDAY_BEFORE_AUTUMN, "Resets Sun 7:00 AM", datetime(2026, 11, 1, 12, 0, tzinfo=UTC)),
        (FRIDAY_BEFORE_SPRING, "Resets Mar 9, 9:00 AM", datetime(2026, 3, 9, 13, 0, tzinfo=UTC)),
    ],
)
def test_a_reset_across_a_dst_change_is_right_in_every_tz_form(
    tz: str, now: datetime, text: str, expected: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    zone = zone_from_tz(tz)
    assert zone is not None
    assert resolve_reset(text, now=now, tz=zone) == expected
    monkeypatch.setenv("TZ", tz)
    assert resolve_reset(text, now=now, tz=local_zone()) == expected


@pytest.mark.parametrize(
    ("rule", "key"),
    [
        ("EST5EDT,M3.2.0,M11.1.0", "America/New_York"),
        ("PST8PDT", "America/Los_Angeles"),  # no dates: the US rule, as glibc reads it
        ("CET-1CEST,M3.5.0,M10.5.0/3", "Europe/Berlin"),
        ("AEST-10AEDT,M10.1.0,M4.1.0/3", "Australia/Sydney"),  # DST across the new year
        ("IST-2IDT,M3.4.4/26,M10.5.0", "Asia/Jerusalem"),  # a transition time past 24 h
        ("<-03>3", "America/Sao_Paulo"),  # a quoted name, no DST
    ],
)
def test_a_posix_rule_agrees_with_the_zone_database_every_half_hour(rule: str, key: str) -> None:
    posix, database = PosixZone(rule), ZoneInfo(key)
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    while moment < datetime(2027, 1, 1, tzinfo=UTC):
        ours, theirs = moment.astimezone(posix), moment.astimezone(database)
        assert (ours.replace(tzinfo=None), ours.fold) == (theirs.replace(tzinfo=None), theirs.fold)
        assert ours.utcoffset() == theirs.utcoffset(), moment
        moment += timedelta(minutes=30)


@pytest.mark.parametrize("fold", [0, 1])
@pytest.mark.parametrize(
    "wall",
    [
        datetime(2026, 3, 8, 2, 30),  # skipped when the clocks go forward
        datetime(2026, 11, 1, 1, 30),  # happens twice when they go back
        datetime(2026, 7, 1, 12, 0),
    ],
)
def test_skipped_and_repeated_wall_times_read_as_zoneinfo_reads_them(
    wall: datetime, fold: int
) -> None:
    posix, database = PosixZone("EST5EDT,M3.2.0,M11.1.0"), ZoneInfo("America/New_York")
    ours = wall.replace(tzinfo=posix, fold=fold).astimezone(UTC)
    assert ours == wall.replace(tzinfo=database, fold=fold).astimezone(UTC)


@pytest.mark.parametrize(
    ("spec", "year", "day"),
    [
        ("M3.2.0", 2026, date(2026, 3, 8)),  # the second Sunday of March
        ("M10.5.0", 2026, date(2026, 10, 25)),  # week 5: the last Sunday
        ("M2.5.4", 2024, date(2024, 2, 29)),
        ("J60", 2024, date(2024, 3, 1)),  # Jn never counts 29 February
        ("J60", 2026, date(2026, 3, 1)),
        ("59", 2024, date(2024, 2, 29)),  # n counts it, from 0
        ("0", 2026, date(2026, 1, 1)),
    ],
)
def test_each_form_of_a_transition_date(spec: str, year: int, day: date) -> None:
    assert transition_day(spec, year) == day


@pytest.fixture
def c_library_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str, float], float]]:
    """The C library's own reading of a TZ rule (time.tzset): the UTC offset, in hours, at a
    Unix time. The process's zone is restored afterwards."""

    def offset(rule: str, at: float) -> float:
        monkeypatch.setenv("TZ", rule)
        time.tzset()
        return time.localtime(at).tm_gmtoff / 3600

    yield offset
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize(
    "rule",
    [
        "<+0330>-3:30<+0430>,J79/24,J263/24",  # Iran's rule until 2022: Julian days
        "XST5XDT,59/1:30,300/-1",  # zero-based days (29 February counts), a negative time
        "AEST-10AEDT,M10.1.0,M4.1.0/3",
        "EST5EDT4,M3.2.0/2:00:00,M11.1.0/2:00:00",
    ],
)
@pytest.mark.parametrize("year", [2024, 2026])
def test_a_rule_changes_when_the_c_library_says_it_does(
    rule: str, year: int, c_library_zone: Callable[[str, float], float]
) -> None:
    zone = PosixZone(rule)
    moment = datetime(year, 1, 1, tzinfo=UTC)
    while moment.year == year:
        ours = moment.astimezone(zone).utcoffset()
        assert ours is not None
        assert ours / timedelta(hours=1) == c_library_zone(rule, moment.timestamp()), moment
        moment += timedelta(hours=1)


@pytest.mark.parametrize("value", ["", "not a zone", "EST5EDT,M13.1.0,M11.1.0", "/no/such/file"])
def test_what_names_no_zone_is_none(value: str) -> None:
    assert zone_from_tz(value) is None
