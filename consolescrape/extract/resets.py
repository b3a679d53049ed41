"""Reset times: the page's reset texts to absolute times and back, in the machine's zone.

Pure arithmetic, except `local_zone`, the one place that asks the machine which zone it is in.
"""

from __future__ import annotations

import contextlib
import os
import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo

#: A countdown further ahead than this is not a usage window ("Resets in 999999999 days").
LONGEST_COUNTDOWN_DAYS = 400


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\u00a0", " "))


_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

_CLOCK = r"(?P<hour>\d{1,2}):(?P<minute>\d{2})(?:\s*(?P<ampm>[ap])\.?\s*m\.?)?"
_WEEKDAY = r"(?P<wd>mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?"
_MONTH = r"(?P<mon>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_COUNTDOWN_RE = re.compile(
    r"(?:(?P<days>\d+)\s*(?:days?|d)\s*)?"
    r"(?:(?P<hours>\d+)\s*(?:hours?|hrs?|h)\s*)?"
    r"(?:(?P<minutes>\d+)\s*(?:minutes?|mins?|m))?",
    re.IGNORECASE,
)
_WEEKDAY_CLOCK_RE = re.compile(rf"{_WEEKDAY},?\s+(?:at\s+)?{_CLOCK}", re.IGNORECASE)
_DAY_CLOCK_RE = re.compile(rf"(?:(?P<rel>today|tomorrow),?\s+)?(?:at\s+)?{_CLOCK}", re.IGNORECASE)
_DATE_RE = re.compile(
    rf"(?:{_WEEKDAY},?\s+)?{_MONTH}\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?"
    rf"(?:,?\s+(?:at\s+)?{_CLOCK})?",
    re.IGNORECASE,
)
STATUS_RE = re.compile(r"(?:starts when\b|you haven[’']?t used\b).*", re.IGNORECASE)
#: "Resets in 2 hr", "Resets Thu 7:00 AM", also a wording we do not know ("Resets: (Sat) 3 PM").
RESETS_PREFIX = re.compile(r"^resets\b[\s:]*(?:in\s+)?", re.IGNORECASE)


def reset_body(text: str) -> str:
    """'Resets in 2 hr 42 min' → '2 hr 42 min'; other texts come back stripped."""
    return RESETS_PREFIX.sub("", squash(text).strip())


def _clock(match: re.Match[str]) -> time | None:
    hour, minute = int(match["hour"]), int(match["minute"])
    if minute > 59:
        return None
    if match["ampm"]:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if match["ampm"].lower() == "p" else 0)
    elif hour > 23:
        return None
    return time(hour, minute)


def _day_in_month(month: int, day: int) -> bool:
    # 2024 is a leap year: the text carries no year, so 29 Feb is a real date.
    try:
        date(2024, month, day)
    except ValueError:
        return False
    return True


def is_reset_body(body: str) -> bool:
    """Whether a reset text (without 'Resets ') is one of the forms the page uses, with real values.

    Used to split run-together digits ('Mar 143% used'), so it is strict on purpose.
    """
    if (m := _COUNTDOWN_RE.fullmatch(body)) and any(m.groups()):
        return True
    if (m := _WEEKDAY_CLOCK_RE.fullmatch(body)) or (m := _DAY_CLOCK_RE.fullmatch(body)):
        return _clock(m) is not None
    if m := _DATE_RE.fullmatch(body):
        month = _MONTHS.index(m["mon"].capitalize()) + 1
        return _day_in_month(month, int(m["day"])) and (m["hour"] is None or _clock(m) is not None)
    return False


def _local(day: date, at: time, tz: tzinfo) -> datetime:
    # Wall-clock time in tz: a time skipped by a DST change lands an hour later, a repeated
    # one on its first occurrence (zoneinfo's fold=0).
    return datetime.combine(day, at, tzinfo=tz)


def resolve_reset(text: str, *, now: datetime, tz: tzinfo) -> datetime | None:
    """The absolute UTC time a reset text denotes, read in the local zone `tz` at `now`.

    None for texts without a time of day ('Sat, Aug 1') and for status lines; ValueError for a
    countdown no usage window has ('Resets in 999999999 days').
    """
    now = utc_now(now)
    body = reset_body(text)
    if not body or STATUS_RE.fullmatch(body):
        return None
    if (m := _COUNTDOWN_RE.fullmatch(body)) and any(m.groups()):
        days, hours, minutes = (int(m[g] or 0) for g in ("days", "hours", "minutes"))
        if days + hours / 24 + minutes / 1440 > LONGEST_COUNTDOWN_DAYS:
            raise ValueError(f"reset {body[:40]!r} is not a plausible reset time")
        return now + timedelta(days=days, hours=hours, minutes=minutes)
    today = now.astimezone(tz).date()
    if m := _WEEKDAY_CLOCK_RE.fullmatch(body):
        at = _clock(m)
        if at is None:
            return None
        ahead = (_WEEKDAYS.index(m["wd"].capitalize()) - today.weekday()) % 7
        moment = _local(today + timedelta(days=ahead), at, tz)
        if moment < now:
            moment = _local(today + timedelta(days=ahead + 7), at, tz)
        return moment.astimezone(UTC)
    if m := _DAY_CLOCK_RE.fullmatch(body):
        at = _clock(m)
        if at is None:
            return None
        tomorrow = (m["rel"] or "").lower() == "tomorrow"
        moment = _local(today + timedelta(days=1 if tomorrow else 0), at, tz)
        if moment < now and not m["rel"]:
            moment = _local(today + timedelta(days=1), at, tz)
        return moment.astimezone(UTC)
    if (m := _DATE_RE.fullmatch(body)) and m["hour"] is not None:
        at = _clock(m)
        if at is None:
            return None
        month = _MONTHS.index(m["mon"].capitalize()) + 1
        for year in range(today.year, today.year + 5):  # 29 Feb may be up to 4 years off
            try:
                moment = _local(date(year, month, int(m["day"])), at, tz)
            except ValueError:
                continue
            if moment >= now:
                return moment.astimezone(UTC)
    return None


def reset_text(resets_at: datetime, *, now: datetime, tz: tzinfo) -> str:
    """A reset time in the page's style: '2 hr 42 min' under a day, else 'Thu 7:00 AM' local.

    The countdown counts whole minutes down (as a countdown does) but shows '1 min', never
    '0 min', while the reset is still ahead; a time already past reads '0 min'. Clock times are
    truncated to the minute, as the page shows them ('6:59:59.9' is '6:59 AM'). When a weekday
    would be read as another day (a week or more ahead), the text carries the date:
    'Mar 12 at 7:00 AM'.
    """
    now = utc_now(now)
    remaining = (resets_at.astimezone(UTC) - now).total_seconds()
    if remaining < 24 * 3600:
        if remaining <= 0:
            return "0 min"
        hours, minutes = divmod(max(1, int(remaining // 60)), 60)
        if not hours:
            return f"{minutes} min"
        return f"{hours} hr {minutes} min" if minutes else f"{hours} hr"
    shown = resets_at.astimezone(UTC).replace(second=0, microsecond=0)
    local = shown.astimezone(tz)
    hour12 = local.hour % 12 or 12
    clock = f"{hour12}:{local.minute:02d} {'AM' if local.hour < 12 else 'PM'}"
    text = f"{_WEEKDAYS[local.weekday()]} {clock}"
    if resolve_reset(text, now=now, tz=tz) == shown:
        return text
    return f"{_MONTHS[local.month - 1]} {local.day} at {clock}"


def utc_now(now: datetime) -> datetime:
    # In UTC, arithmetic is elapsed time; between two datetimes sharing a zoneinfo it would be
    # wall-clock time, an hour off across a DST change.
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must carry a time zone")
    return now.astimezone(UTC)


def local_zone() -> tzinfo:
    """The machine's zone with its DST rules; a fixed offset would misplace resets across a DST
    change ("Resets Sun 7:00 AM" read on a Friday before the clocks move)."""
    found = zone_from_tz(os.environ.get("TZ", ""))
    if found is None:
        target = os.path.realpath("/etc/localtime")
        found = zone_from_tz(target) if "/zoneinfo/" in target else None
    return found or datetime.now().astimezone().tzinfo or UTC


def zone_from_tz(value: str) -> tzinfo | None:
    """The zone a TZ value names, in each form the C library takes: a zone name
    (`America/New_York`, also `:America/New_York`), a file (`/usr/share/zoneinfo/…`: a path
    under a zoneinfo directory names its zone), or a POSIX rule (`EST5EDT,M3.2.0,M11.1.0`,
    with its own transitions). None when it names nothing this machine knows."""
    from zoneinfo import ZoneInfo

    name = value.strip().removeprefix(":")
    if not name:
        return None
    if name.startswith("/"):
        key = name.split("/zoneinfo/", 1)[1] if "/zoneinfo/" in name else ""
        with contextlib.suppress(Exception):
            return ZoneInfo(key)
        if os.path.isfile(name):  # never a FIFO: opening one would wait forever
            with contextlib.suppress(Exception), open(name, "rb") as handle:
                return ZoneInfo.from_file(handle, key=name)
        return None
    with contextlib.suppress(Exception):
        return ZoneInfo(name)
    from consolescrape.extract.posix_tz import PosixZone

    with contextlib.suppress(ValueError):
        return PosixZone(name)
    return None
