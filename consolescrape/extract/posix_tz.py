"""A time zone from a POSIX TZ rule ("EST5EDT,M3.2.0,M11.1.0"), with its own DST transitions.

Pure. The rule's grammar is POSIX's (and RFC 8536's, which allows transition times from -167 to
167 hours): `std offset [dst [offset] [,start[/time],end[/time]]]`, offsets west of Greenwich
positive, dates as `Mm.w.d` (week 5 = the last), `Jn` (1–365, 29 February never counted) or `n`
(0–365, counted). A DST name without dates uses the US rule, as glibc does.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime, timedelta, tzinfo

_NAME = r"(?:[A-Za-z]{3,}|<[A-Za-z0-9+-]{3,}>)"
_OFFSET = r"[+-]?\d{1,3}(?::\d{1,2}){0,2}"
_DATE = r"(?:M\d{1,2}\.\d\.\d|J\d{1,3}|\d{1,3})"
_RULE = re.compile(
    rf"(?P<std>{_NAME})(?P<std_offset>{_OFFSET})"
    rf"(?:(?P<dst>{_NAME})(?P<dst_offset>{_OFFSET})?"
    rf"(?:,(?P<start>{_DATE})(?:/(?P<start_time>{_OFFSET}))?"
    rf",(?P<end>{_DATE})(?:/(?P<end_time>{_OFFSET}))?)?)?"
)
#: When a rule names a DST zone but no dates (glibc's default, the US rule since 2007).
DEFAULT_DATES = ("M3.2.0", "M11.1.0")
_TWO_AM = timedelta(hours=2)


def _span(text: str, limit: int) -> timedelta:
    """'5', '-10', '+5:30', '2:00:00' as a signed span of at most `limit` hours."""
    sign = -1 if text.startswith("-") else 1
    parts = [int(p) for p in text.lstrip("+-").split(":")]
    hours, minutes, seconds = [*parts, 0, 0][:3]
    if hours > limit or minutes > 59 or seconds > 59:
        raise ValueError(f"{text!r} is out of range")
    return sign * timedelta(hours=hours, minutes=minutes, seconds=seconds)


def transition_day(spec: str, year: int) -> date:
    """The day a rule's `Mm.w.d`, `Jn` or `n` names in `year`."""
    if spec.startswith("M"):
        month, week, weekday = (int(p) for p in spec[1:].split("."))
        if not (1 <= month <= 12 and 1 <= week <= 5 and 0 <= weekday <= 6):
            raise ValueError(f"{spec!r} is not a day of a month")
        first = date(year, month, 1)
        # POSIX counts weekdays from Sunday (0); Python from Monday (0).
        day = 1 + ((weekday - 1) % 7 - first.weekday()) % 7 + (week - 1) * 7
        while day > calendar.monthrange(year, month)[1]:  # week 5: the last such weekday
            day -= 7
        return first.replace(day=day)
    if spec.startswith("J"):
        number = int(spec[1:])
        if not 1 <= number <= 365:
            raise ValueError(f"{spec!r} is not a day of the year")
        leap_day = calendar.isleap(year) and number >= 60
        return date(year, 1, 1) + timedelta(days=number - 1 + leap_day)
    number = int(spec)
    if not 0 <= number <= 365:
        raise ValueError(f"{spec!r} is not a day of the year")
    return date(year, 1, 1) + timedelta(days=number)


class PosixZone(tzinfo):
    """A zone that follows one POSIX TZ rule every year (what the C library does with it)."""

    def __init__(self, rule: str) -> None:
        found = _RULE.fullmatch(rule)
        if found is None:
            raise ValueError(f"{rule!r} is not a POSIX TZ rule")
        self.rule = rule
        self.std_name = found["std"].strip("<>")
        #: offsets east of Greenwich, as utcoffset() gives them (the rule writes them west)
        self.std_offset = -_span(found["std_offset"], 24)
        self.dst_name = found["dst"].strip("<>") if found["dst"] else None
        dst_west = found["dst_offset"]
        self.dst_offset = -_span(dst_west, 24) if dst_west else self.std_offset + timedelta(hours=1)
        dates = (found["start"], found["end"]) if found["start"] else DEFAULT_DATES
        times = (found["start_time"], found["end_time"])
        self.start, self.end = dates
        self.start_time, self.end_time = (_span(t, 167) if t else _TWO_AM for t in times)
        for spec in dates:
            transition_day(spec, 2024)  # an impossible date fails here, not at first use
        #: each year's transitions, worked out once (every offset asked needs them, some twice)
        self._years: dict[int, tuple[datetime, datetime]] = {}

    def __repr__(self) -> str:
        return f"PosixZone({self.rule!r})"

    # -- which offset applies at a UTC moment --

    def _transitions(self, year: int) -> tuple[datetime, datetime]:
        """When DST starts and ends in `year`, as naive UTC: the start is written in standard
        time, the end in daylight time."""
        if (known := self._years.get(year)) is not None:
            return known
        start = datetime.combine(transition_day(self.start, year), datetime.min.time())
        end = datetime.combine(transition_day(self.end, year), datetime.min.time())
        self._years[year] = (
            start + self.start_time - self.std_offset,
            end + self.end_time - self.dst_offset,
        )
        return self._years[year]

    def _dst_at(self, utc: datetime) -> bool:
        if self.dst_name is None:
            return False
        start, end = self._transitions(utc.year)
        if start < end:
            return start <= utc < end
        return not end <= utc < start  # the southern hemisphere: DST spans the new year

    def _offset_at(self, utc: datetime) -> timedelta:
        return self.dst_offset if self._dst_at(utc) else self.std_offset

    # -- tzinfo --

    def fromutc(self, dt: datetime) -> datetime:
        utc = dt.replace(tzinfo=None)
        offset = self._offset_at(utc)
        local = utc + offset
        # The second time a wall-clock time occurs (the clocks were set back) carries fold=1:
        # the same wall time, read with the other offset, was an earlier moment too.
        other = self.dst_offset if offset == self.std_offset else self.std_offset
        fold = int(other > offset and self._offset_at(local - other) == other)
        return local.replace(tzinfo=self, fold=fold)

    def utcoffset(self, dt: datetime | None) -> timedelta:
        if dt is None:
            return self.std_offset
        wall = dt.replace(tzinfo=None, fold=0)
        fits = [o for o in (self.std_offset, self.dst_offset) if self._offset_at(wall - o) == o]
        if len(fits) == 1:
            return fits[0]
        # Both fit: a time the clocks set back repeat; fold 0 is its first occurrence (the
        # larger offset). Neither fits: a time skipped when the clocks went forward; fold 0
        # reads it with the offset before the change (the smaller one), as zoneinfo does.
        larger = max(self.std_offset, self.dst_offset)
        smaller = min(self.std_offset, self.dst_offset)
        if fits:
            return smaller if dt.fold else larger
        return larger if dt.fold else smaller

    def dst(self, dt: datetime | None) -> timedelta:
        return self.utcoffset(dt) - self.std_offset

    def tzname(self, dt: datetime | None) -> str:
        if dt is not None and self.dst_name is not None and self.dst(dt):
            return self.dst_name
        return self.std_name
