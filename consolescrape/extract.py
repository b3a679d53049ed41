"""Usage limits from the page's text or the site's JSON endpoint → Snapshot (SPEC §5, §6).

Pure functions, stdlib only: the browser module hands over strings and parsed JSON, nothing else.
"""

from __future__ import annotations

import contextlib
import enum
import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from urllib.parse import urlsplit

from consolescrape.model import (
    ALL_MODELS,
    DEFAULT_MODEL_ROW,
    SESSION,
    Limit,
    Snapshot,
    Spend,
    finish,
    model_key,
    parse_time,
)

__all__ = [
    "NoPlanLimits",
    "NoUsage",
    "PageKind",
    "Reading",
    "classify_page",
    "merge",
    "pick_organization",
    "read_api",
    "read_page",
    "reset_text",
    "resolve_reset",
    "snapshot_from_api",
    "snapshot_from_page",
]

#: The page's words for a limit nothing has been counted against yet (SPEC §5).
SESSION_UNUSED = "Starts when a message is sent"
#: "You haven’t used Sonnet yet" — the page uses a curly apostrophe; we write it the same way.
UNUSED_TEMPLATE = "You haven’t used {model} yet"
#: The weekly all-models row has no model name of its own; the site's product name stands in.
ALL_MODELS_NAME = "Claude"
#: The origin of a limit read from the page text (endpoint origins name the field).
PAGE = "page"
#: A countdown further ahead than this is not a usage window ("Resets in 999999999 days").
_LONGEST_COUNTDOWN_DAYS = 400


class NoUsage(ValueError):
    """The content has no usage limit at all (a scrape failure, not a partial result)."""


class NoPlanLimits(NoUsage):
    """The plan has a spend cap instead of usage limits (Enterprise and credit plans)."""

    def __init__(self, spend: Spend) -> None:
        super().__init__(
            f"this plan has a spend limit and no plan usage limits ({spend.describe()})"
        )
        self.spend = spend


class PageKind(enum.Enum):
    """What the browser is looking at."""

    USAGE = "usage"
    LOGIN = "login"
    BOT_CHECK = "bot_check"
    UNKNOWN = "unknown"


# --- what page is this ---------------------------------------------------------------------------

_BOT_TITLES = ("just a moment", "attention required", "one more step")
_BOT_WORDING = (
    "verifying you are human",
    "verify you are human",
    "checking your browser",
    "checking if the site connection is secure",
    "needs to review the security of your connection",
    "enable javascript and cookies to continue",
)
_LOGIN_WORDING = (
    "continue with google",
    "continue with email",
    "log in",
    "sign in",
    "enter your email",
)
_PERCENT_USED = re.compile(r"\d+(?:\.\d+)?\s*%\s*used", re.IGNORECASE)


def classify_page(url: str, title: str, text: str) -> PageKind:
    """Tell the usage page from a login page, a bot check, and anything else."""
    title_l = title.strip().casefold()
    text_l = _squash(text).casefold()
    parts = urlsplit(url)
    if (
        title_l.startswith(_BOT_TITLES)
        or any(w in text_l for w in _BOT_WORDING)
        or "/cdn-cgi/challenge-platform" in parts.path
        or "__cf_chl" in parts.query
    ):
        return PageKind.BOT_CHECK
    path = parts.path.rstrip("/")
    if path in ("/login", "/logout") or path.startswith(("/login/", "/logout/")):
        return PageKind.LOGIN
    if _has_usage(text):
        return PageKind.USAGE
    if any(w in text_l or w in title_l for w in _LOGIN_WORDING):
        return PageKind.LOGIN
    return PageKind.UNKNOWN


def _has_usage(text: str) -> bool:
    squashed = _squash(text).casefold()
    if "plan usage limits" in squashed or "your usage limits" in squashed:
        return True
    return ("current session" in squashed or "weekly limits" in squashed) and bool(
        _PERCENT_USED.search(squashed)
    )


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\u00a0", " "))


# --- reset texts ---------------------------------------------------------------------------------

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
_STATUS_RE = re.compile(r"(?:starts when\b|you haven[’']?t used\b).*", re.IGNORECASE)
_RESETS_PREFIX = re.compile(r"^resets\s+(?:in\s+)?", re.IGNORECASE)


def _reset_body(text: str) -> str:
    """'Resets in 2 hr 42 min' → '2 hr 42 min'; other texts come back stripped."""
    return _RESETS_PREFIX.sub("", _squash(text).strip())


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


def _is_reset_body(body: str) -> bool:
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
    now = _utc_now(now)
    body = _reset_body(text)
    if not body or _STATUS_RE.fullmatch(body):
        return None
    if (m := _COUNTDOWN_RE.fullmatch(body)) and any(m.groups()):
        days, hours, minutes = (int(m[g] or 0) for g in ("days", "hours", "minutes"))
        if days + hours / 24 + minutes / 1440 > _LONGEST_COUNTDOWN_DAYS:
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
    rounded to the nearest minute ('6:59:59.9' is '7:00 AM'). When a weekday would be read as
    another day (a week or more ahead), the text carries the date: 'Mar 12 at 7:00 AM'.
    """
    now = _utc_now(now)
    remaining = (resets_at.astimezone(UTC) - now).total_seconds()
    if remaining < 24 * 3600:
        if remaining <= 0:
            return "0 min"
        hours, minutes = divmod(max(1, int(remaining // 60)), 60)
        if not hours:
            return f"{minutes} min"
        return f"{hours} hr {minutes} min" if minutes else f"{hours} hr"
    rounded = (resets_at.astimezone(UTC) + timedelta(seconds=30)).replace(second=0, microsecond=0)
    local = rounded.astimezone(tz)
    hour12 = local.hour % 12 or 12
    clock = f"{hour12}:{local.minute:02d} {'AM' if local.hour < 12 else 'PM'}"
    text = f"{_WEEKDAYS[local.weekday()]} {clock}"
    if resolve_reset(text, now=now, tz=tz) == rounded:
        return text
    return f"{_MONTHS[local.month - 1]} {local.day} at {clock}"


def _utc_now(now: datetime) -> datetime:
    # In UTC, arithmetic is elapsed time; between two datetimes sharing a zoneinfo it would be
    # wall-clock time, an hour off across a DST change.
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must carry a time zone")
    return now.astimezone(UTC)


# --- percentages ---------------------------------------------------------------------------------


def _percentage(raw: object) -> int | float:
    """A percentage as shown: 47 stays 47, 47.0 becomes 47, 12.5 stays 12.5; 0–100 only."""
    value: int | float
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise ValueError(f"percentage is not a number ({raw!r})")
    if isinstance(raw, str):
        digits = raw.strip().removesuffix("%").strip()
        try:
            value = int(digits)
        except ValueError:
            try:
                value = float(digits)
            except ValueError:
                raise ValueError(f"percentage is not a number ({raw!r})") from None
    else:
        value = raw
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"percentage is not a number ({raw!r})")
        if value.is_integer():
            value = int(value)
    if not 0 <= value <= 100:
        raise ValueError(f"{value}% used is outside 0–100")
    return value


# --- the page text -------------------------------------------------------------------------------

_HEADINGS = ("plan usage limits", "your usage limits")
_SESSION_LABEL = "current session"
_WEEKLY_HEADING = "weekly limits"
_NOT_LABELS = {*_HEADINGS, _WEEKLY_HEADING, "learn more about usage limits"}
#: Sections that are not limits; rows resume at the next limit heading, if any.
_OTHER_SECTIONS = ("additional features", "extra usage", "last updated")
#: Row labels seen on the page; used only to split text that runs together.
_KNOWN_LABELS = ("All models", "Sonnet only", "Opus only", "Haiku only", "Fable", "Claude Design")
_ROW_START = r"(?:Resets\s|Starts when|You haven|\d+(?:\.\d+)?\s*%\s*used)"
_BREAK_BEFORE = re.compile(
    r"(?=Resets\s|Starts when a message is sent|You haven[’']?t used"
    r"|Current session|Weekly limits|(?i:Plan usage limits|Your usage limits)"
    r"|Additional features|Extra usage|Last updated"
    rf"|(?:{'|'.join(_KNOWN_LABELS)})\s*{_ROW_START})"
    # sentence run into the next line: "…boosted.Fable 5 is…"
    r"|(?<=[a-z][.!?])(?=[A-Z])"
)
_BREAK_AFTER = re.compile(
    r"(\d+(?:\.\d+)?\s*%\s*used"
    r"|Current session|Weekly limits|(?i:Plan usage limits|Your usage limits)"
    r"|Learn more about usage limits)"
)
_COMBINED = re.compile(r"(?P<head>.*?)(?P<num>[\d.]+)\s*%\s*used", re.IGNORECASE)
_PERCENT_NUMBER = re.compile(r"(?:0|[1-9]\d*)(?:\.\d+)?")
_ROW_HEAD = re.compile(r"(?:resets\s|starts when|you haven)", re.IGNORECASE)

#: One way to read a row: (reset or status line, percentage digits); None where not shown.
_Reading = tuple[str | None, str | None]


@dataclass
class _Row:
    label: str
    readings: list[_Reading] = field(default_factory=lambda: [(None, None)])
    lines: list[str] = field(default_factory=list)

    def add(self, line: str, readings: list[_Reading]) -> None:
        merged = []
        for (reset, pct), (new_reset, new_pct) in itertools.product(self.readings, readings):
            if (reset is not None and new_reset is not None) or (
                pct is not None and new_pct is not None
            ):
                continue
            merged.append((new_reset if reset is None else reset, new_pct if pct is None else pct))
        self.readings = merged
        self.lines.append(line)

    def has(self, readings: list[_Reading]) -> tuple[bool, bool]:
        reset = any(r is not None for r, _ in self.readings)
        pct = any(p is not None for _, p in self.readings)
        new_reset = any(r is not None for r, _ in readings)
        new_pct = any(p is not None for _, p in readings)
        return (reset and new_reset, pct and new_pct)


def _lines(text: str) -> list[str]:
    text = text.replace("\u00a0", " ").replace("\r", "\n")
    text = _BREAK_AFTER.sub(lambda m: m[0] + "\n", text)
    text = _BREAK_BEFORE.sub("\n", text)
    return [squashed for line in text.split("\n") if (squashed := " ".join(line.split()))]


def _resets_in(line: str) -> str:
    """The line as `resetsIn`: 'Resets in 2 hr' → '2 hr'; status lines verbatim."""
    return _reset_body(line) if _RESETS_PREFIX.match(line) else line


def _line_readings(line: str) -> list[_Reading]:
    """Every sensible reading of one line of a row; [] when the line is not part of a row."""
    m = _COMBINED.fullmatch(line)
    if m is None:
        return [(_resets_in(line), None)] if _ROW_HEAD.match(line) else []
    head, num = m["head"], m["num"]
    if not head.strip():
        return [(None, num)] if _PERCENT_NUMBER.fullmatch(num) else []
    if not _ROW_HEAD.match(head):
        return []
    # "Resets Mar 143% used": every split of the digits that leaves a real date and a number.
    splits = [
        (_resets_in((head + num[:k]).strip()), num[k:])
        for k in range(len(num))
        if _PERCENT_NUMBER.fullmatch(num[k:])
    ]
    strict: list[_Reading] = [
        (reset, pct)
        for reset, pct in splits
        if _STATUS_RE.fullmatch(reset) or _is_reset_body(reset)
    ]
    if strict:
        return strict
    # A reset wording we do not know: trust it only where no digits touch the percentage.
    if not head[-1].isdigit() and _PERCENT_NUMBER.fullmatch(num):
        return [(_resets_in(head.strip()), num)]
    return []


def _is_heading(folded: str) -> bool:
    """'plan usage limits', also with the plan on the same line ('Plan usage limits Pro')."""
    return any(folded.startswith(h) and len(folded) <= len(h) + 30 for h in _HEADINGS)


def _is_label(line: str) -> bool:
    folded = line.casefold()
    return (
        len(line) <= 40
        and folded not in _NOT_LABELS
        and not _is_heading(folded)
        and not _SPEND_RE.search(line)
        and not re.search(r"[$€£]\s*\d", line)
        and not line.endswith((".", "!", "?", ":"))
        and any(c.isalpha() for c in line)
    )


def _scoped_rows(lines: list[str]) -> list[_Row]:
    folded = [line.casefold() for line in lines]
    # Scope to the usage content: the sidebar before it may show "All models" or "0% used".
    heading = next((i for i, f in enumerate(folded) if _is_heading(f)), None)
    if heading is not None:
        start = heading + 1
    elif _SESSION_LABEL in folded:
        start = folded.index(_SESSION_LABEL)
    elif _WEEKLY_HEADING in folded:
        start = folded.index(_WEEKLY_HEADING) + 1
    else:
        raise NoUsage("no usage limits heading, 'Current session' or 'Weekly limits' in the text")
    rows: list[_Row] = []
    row: _Row | None = None
    skipping = False
    for i in range(start, len(lines)):
        line, key = lines[i], folded[i]
        if key.startswith(_OTHER_SECTIONS):
            skipping, row = True, None
            continue
        if key in (_SESSION_LABEL, _WEEKLY_HEADING) or _is_heading(key):
            skipping = False
        if skipping:
            continue
        readings = _line_readings(line)
        if readings and row is not None and not any(row.has(readings)):
            row.add(line, readings)
            continue
        row = None
        if (
            not readings
            and _is_label(line)
            and i + 1 < len(lines)
            and _line_readings(lines[i + 1])
            and not folded[i + 1].startswith(_OTHER_SECTIONS)
        ):
            row = _Row(label=line)
            rows.append(row)
    return rows


def _close(value: int | float, meter: float) -> bool:
    return abs(value - meter) < 1


def _settle(row: _Row, meter: float | None) -> tuple[str, int | float]:
    """The one reading of a row: (resetsIn, percentage). ValueError says why there is none."""
    readings: list[tuple[str, str]] = []
    for reset, pct in row.readings:
        if reset is None:
            continue
        if pct is None:
            if not _STATUS_RE.fullmatch(reset):
                continue
            pct = "0"  # "You haven’t used Sonnet yet" is itself the page saying 0%
        readings.append((reset, pct))
    if not readings:
        missing = "reset time" if all(r is None for r, _ in row.readings) else "percentage"
        raise ValueError(f"no {missing} shown for {row.label!r}")
    if len(readings) > 1:
        in_range = [r for r in readings if _in_range(r[1])]
        readings = in_range or readings
    if len(readings) > 1 and meter is not None:
        readings = [r for r in readings if _close(float(r[1]), meter)] or readings
    if len(readings) > 1:
        options = " or ".join(f"{reset!r} with {pct}%" for reset, pct in readings)
        raise ValueError(f"run-together text {' '.join(row.lines)!r} reads as {options}")
    reset, pct = readings[0]
    return reset, _percentage(pct)


def _in_range(pct: str) -> bool:
    try:
        _percentage(pct)
    except ValueError:
        return False
    return True


def read_page(
    text: str, meters: Sequence[float | None] = (), *, now: datetime, tz: tzinfo
) -> Reading:
    """What the usage content's innerText shows, row by row.

    `meters` are the bars' aria-valuenow values in document order (None where absent); they only
    settle digits that run together ("Resets Mar 143% used"). A row that cannot be read (or
    reads outside 0–100, or resets at an impossible time) becomes an error for that row. Raises
    NoUsage when the text has no usage heading or row at all and shows no spend cap either.
    """
    now = _utc_now(now)
    lines = _lines(text)
    reading = Reading(spend=_page_spend(lines))
    try:
        rows = _scoped_rows(lines)
    except NoUsage:
        if reading.spend is None:
            raise
        return reading
    # One bar per row, in order; with fewer bars than rows we cannot tell which row lacks one.
    paired: Sequence[float | None] = meters if len(meters) >= len(rows) else [None] * len(rows)
    seen: set[str] = set()
    for row, meter in zip(rows, paired, strict=False):
        try:
            key = SESSION if row.label.casefold() == _SESSION_LABEL else model_key(row.label)
        except ValueError:
            continue
        if key in seen:
            continue  # the first row of a kind is the one the page shows for it
        seen.add(key)
        try:
            resets_in, percentage = _settle(row, meter)
            resets_at = resolve_reset(resets_in, now=now, tz=tz)
        except (ValueError, OverflowError) as exc:
            reading.fail(key, str(exc))
            continue
        reading.put(key, Limit(resets_in, percentage, resets_at), PAGE)
    return reading


def snapshot_from_page(
    text: str,
    meters: Sequence[float | None] = (),
    *,
    now: datetime,
    tz: tzinfo,
    model_row: str = DEFAULT_MODEL_ROW,
) -> Snapshot:
    """The page text alone as a snapshot; NoUsage when it shows no limit."""
    reading = read_page(text, meters, now=now, tz=tz)
    if not reading.limits and reading.spend is None:
        detail = "; ".join(f"{k}: {v}" for k, v in reading.errors.items())
        raise NoUsage("no usage limit found in the page text" + (f" ({detail})" if detail else ""))
    return merge([reading], now=now, model_row=model_row)


_SPEND_RE = re.compile(
    r"(?P<cur>[$€£])\s*(?P<used>\d[\d,]*(?:\.\d+)?)\s+of\s+[$€£]?\s*(?P<limit>\d[\d,]*(?:\.\d+)?)"
    r"\s+(?:spent|used)\b",
    re.IGNORECASE,
)
_CURRENCIES = {"$": "USD", "€": "EUR", "£": "GBP"}


def _page_spend(lines: list[str]) -> Spend | None:
    """'$19.80 of $125.00 spent' → Spend(19.8, 125.0, 'USD'): a spend cap, never a limit row."""
    for line in lines:
        if m := _SPEND_RE.search(line):
            used = float(m["used"].replace(",", ""))
            return Spend(used, float(m["limit"].replace(",", "")), _CURRENCIES[m["cur"]])
    return None


# --- one source's reading, and the per-limit merge ------------------------------------------------


@dataclass
class Reading:
    """What one source showed, before the merge: limits by key, the session under SESSION.

    `origins` says where in the source each limit was read ("limits[]", "five_hour", "page");
    `notes` are things skipped on purpose (for --verbose, never sent); `spend` is a spend cap
    the source showed (plans without plan limits).
    """

    limits: dict[str, Limit] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    spend: Spend | None = None

    def put(self, key: str, limit: Limit, origin: str) -> None:
        """Keep the first reading of a limit; a later one (an older field) only fills a gap."""
        if key not in self.limits:
            self.limits[key] = limit
            self.origins[key] = origin
            self.errors.pop(key, None)

    def fail(self, key: str, reason: str) -> None:
        if key not in self.limits:
            self.errors.setdefault(key, reason)


def merge(
    readings: Sequence[Reading], *, now: datetime, model_row: str = DEFAULT_MODEL_ROW
) -> Snapshot:
    """One snapshot from readings in order of trust: each limit from the first that has it.

    `source` is "api" when every limit came from the endpoint, "page" when none did, else
    "mixed". Raises NoUsage when no reading has any limit (NoPlanLimits when one showed a spend
    cap instead).
    """
    now = _utc_now(now)
    limits: dict[str, Limit] = {}
    origins: dict[str, str] = {}
    for reading in readings:
        for key, limit in reading.limits.items():
            if key not in limits:
                limits[key] = limit
                origins[key] = reading.origins.get(key, "?")
    errors: dict[str, str] = {}
    for reading in readings:
        for key, reason in reading.errors.items():
            if key not in limits:
                errors.setdefault(key, reason)
    if not limits:
        spend = next((r.spend for r in readings if r.spend is not None), None)
        if spend is not None:
            raise NoPlanLimits(spend)
        detail = "; ".join(f"{k}: {v}" for k, v in errors.items())
        raise NoUsage("no usage limit found" + (f" ({detail})" if detail else ""))
    kinds = {"page" if origin == PAGE else "api" for origin in origins.values()}
    source = kinds.pop() if len(kinds) == 1 else "mixed"
    session = limits.pop(SESSION, None)
    # allModels first, then the model rows in the order the source gave them.
    weekly = dict(sorted(limits.items(), key=lambda item: item[0] != ALL_MODELS))
    return finish(
        now, session, weekly, source=source, model_row=model_row, errors=errors, origins=origins
    )


# --- the JSON endpoint ---------------------------------------------------------------------------

#: Fields of the endpoint's older answer: (field, key, model name for the unused wording).
#: `seven_day_omelette` is the "Claude Design" weekly row the page shows under that name. Other
#: fields (seven_day_cowork: daily routines; seven_day_oauth_apps; codenames such as tangelo;
#: *_dollars, spend, extra_usage, seven_day_breakdown) are not plan limits and are not read.
_OLD_FIELDS = (
    ("five_hour", SESSION, None),
    ("seven_day", ALL_MODELS, ALL_MODELS_NAME),
    ("seven_day_sonnet", model_key("Sonnet"), "Sonnet"),
    ("seven_day_opus", model_key("Opus"), "Opus"),
    ("seven_day_omelette", model_key("Claude Design"), "Claude Design"),
)
#: A reset further ahead than this is not a usage window (weekly limits reset within 7 days).
_FARTHEST_RESET = timedelta(days=366)


def _unused(model: str | None) -> str:
    return SESSION_UNUSED if model is None else UNUSED_TEMPLATE.format(model=model)


def _api_percentage(raw: object) -> tuple[int | float, int | float | None]:
    """(percentage clamped to 0–100, raw value when it was above 100); ValueError otherwise."""
    if isinstance(raw, int | float) and not isinstance(raw, bool) and raw > 100:
        if not math.isfinite(raw):
            raise ValueError(f"percentage is not a number ({raw!r})")
        return 100, raw
    if isinstance(raw, str):
        with contextlib.suppress(ValueError):
            number = float(raw.strip().removesuffix("%"))
            if math.isfinite(number) and number > 100:
                return 100, int(number) if number.is_integer() else number
    return _percentage(raw), None


def _api_limit(
    percent: object, resets_at: object, *, unused: str, now: datetime, tz: tzinfo
) -> Limit:
    if percent is None:
        raise ValueError("no percentage (null)")  # never read as 0: the value is unknown
    value, raw = _api_percentage(percent)
    if resets_at is None:
        if value != 0:
            raise ValueError(f"{value}% used but no reset time")
        return Limit(unused, value)
    if not isinstance(resets_at, str):
        raise ValueError(f"resets_at is not a timestamp ({resets_at!r})")
    moment = parse_time(resets_at)
    if moment - now > _FARTHEST_RESET:
        raise ValueError(f"resets_at {resets_at[:40]!r} is not a plausible reset time")
    return Limit(reset_text(moment, now=now, tz=tz), value, moment, raw)


def _scope_name(scope: Mapping[str, object], part: str) -> str | None:
    """scope.model.display_name (or .name), or scope.surface as a name; None when absent."""
    value = scope.get(part)
    if isinstance(value, Mapping):
        value = value.get("display_name") or value.get("name")
    return value.strip() if isinstance(value, str) and value.strip() else None


def _limits_item(
    item: Mapping[str, object], where: str, reading: Reading, now: datetime, tz: tzinfo
) -> None:
    kind = item.get("kind")
    raw_scope = item.get("scope")
    scope: Mapping[str, object] = raw_scope if isinstance(raw_scope, Mapping) else {}
    model = _scope_name(scope, "model")
    surface = _scope_name(scope, "surface")
    if surface is not None and model is None:
        # A product surface's own allowance (Cowork, Claude Code), not a plan limit the page or
        # the server's card shows: noted for --verbose, never sent as an error.
        reading.notes.append(f"{where}: {kind} limit of the {surface} surface is not a plan limit")
        return
    key: str
    if kind == "session" and model is None:
        key, name = SESSION, None
    elif kind == "weekly_all" and model is None:
        key, name = ALL_MODELS, ALL_MODELS_NAME
    elif kind == "weekly_scoped" or (kind == "weekly_all" and model is not None):
        if model is None:
            reading.errors[where] = "weekly_scoped limit without scope.model.display_name"
            return
        try:
            key, name = model_key(model), model
        except ValueError as exc:
            reading.errors[where] = str(exc)
            return
    else:
        if isinstance(kind, str):
            reading.notes.append(f"{where}: {kind} limit is not one the page shows")
        return
    try:
        limit = _api_limit(
            item.get("percent"), item.get("resets_at"), unused=_unused(name), now=now, tz=tz
        )
    except (ValueError, OverflowError) as exc:
        reading.fail(key, str(exc))
        return
    reading.put(key, limit, "limits[]")


def _old_fields(usage: Mapping[str, object], reading: Reading, now: datetime, tz: tzinfo) -> None:
    for name, key, model in _OLD_FIELDS:
        value = usage.get(name)
        if value is None:
            continue
        if not isinstance(value, Mapping):
            reading.fail(key, f"{name} is not an object")
            continue
        try:
            limit = _api_limit(
                value.get("utilization"),
                value.get("resets_at"),
                unused=_unused(model),
                now=now,
                tz=tz,
            )
        except (ValueError, OverflowError) as exc:
            reading.fail(key, f"{name}: {exc}")
            continue
        reading.put(key, limit, name)


def _amount(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) and 0 <= number < 1e12 else None


def _money(value: object) -> tuple[float | None, str | None]:
    """{amount_minor, currency, exponent} → (amount in currency units, currency)."""
    if not isinstance(value, Mapping):
        return None, None
    minor = _amount(value.get("amount_minor"))
    exponent = value.get("exponent", 2)
    currency = value.get("currency")
    if minor is None or not isinstance(exponent, int) or not 0 <= exponent <= 6:
        return None, None
    return round(minor / 10**exponent, exponent), currency if isinstance(currency, str) else None


def _api_spend(usage: Mapping[str, object]) -> Spend | None:
    """A spend cap from `spend` ({used, limit} as money) or `extra_usage` (credits in cents)."""
    spend = usage.get("spend")
    if isinstance(spend, Mapping):
        used, currency = _money(spend.get("used"))
        if used is not None:
            limit, limit_currency = _money(spend.get("limit"))
            return Spend(used, limit, currency or limit_currency)
    extra = usage.get("extra_usage")
    if isinstance(extra, Mapping):
        used = _amount(extra.get("used_credits"))
        if used is not None:
            limit = _amount(extra.get("monthly_limit"))
            currency = extra.get("currency")
            return Spend(
                round(used / 100, 2),
                None if limit is None else round(limit / 100, 2),
                currency if isinstance(currency, str) else None,
            )
    return None


def read_api(usage: object, *, now: datetime, tz: tzinfo) -> Reading:
    """What GET /api/organizations/{uuid}/usage (parsed JSON) shows, limit by limit.

    Each limit from `limits[]`, else from the older field that holds it. Raises NoUsage when the
    answer is not an object at all (an error page, a list).
    """
    now = _utc_now(now)
    if not isinstance(usage, Mapping):
        raise NoUsage(f"usage answer is not an object ({type(usage).__name__})")
    reading = Reading()
    limits = usage.get("limits")
    if isinstance(limits, list):
        for i, item in enumerate(limits):
            if isinstance(item, Mapping):
                _limits_item(item, f"limits[{i}]", reading, now, tz)
            else:
                reading.errors[f"limits[{i}]"] = "not an object"
    _old_fields(usage, reading, now, tz)
    if not reading.limits:
        reading.spend = _api_spend(usage)
    return reading


def snapshot_from_api(
    usage: object, *, now: datetime, tz: tzinfo, model_row: str = DEFAULT_MODEL_ROW
) -> Snapshot:
    """The endpoint's answer alone as a snapshot; NoUsage when it holds no limit we can read."""
    reading = read_api(usage, now=now, tz=tz)
    if not reading.limits and reading.spend is None:
        keys = ", ".join(sorted(str(k) for k in usage)) if isinstance(usage, Mapping) else ""
        detail = "; ".join(f"{k}: {v}" for k, v in reading.errors.items())
        raise NoUsage(
            f"usage answer has no limit we can read (keys: {keys or 'none'})"
            + (f" ({detail})" if detail else "")
        )
    return merge([reading], now=now, model_row=model_row)


def _api_only(org: Mapping[str, object]) -> bool:
    """An API-console organization: no chat, so its /usage answers 403."""
    capabilities = org.get("capabilities")
    return (
        isinstance(capabilities, list)
        and "chat" not in capabilities
        and any(isinstance(c, str) and c.startswith("api") for c in capabilities)
    )


def pick_organization(orgs: object, last_active: str | None = None) -> str | None:
    """The uuid to ask for usage.

    The lastActiveOrg cookie's organization unless it is API-only; else the first with the chat
    capability; else, when the list carries no capabilities, the first that is not API-only.
    """
    if not isinstance(orgs, list):
        return None
    usable = [
        org
        for org in orgs
        if isinstance(org, Mapping)
        and isinstance(org.get("uuid"), str)
        and org["uuid"].strip()
        and not _api_only(org)
    ]
    if last_active:
        for org in usable:
            if org["uuid"] == last_active:
                return last_active
    for org in usable:
        capabilities = org.get("capabilities")
        if isinstance(capabilities, list) and "chat" in capabilities:
            return str(org["uuid"])
    for org in usable:
        if org.get("capabilities") is None:
            return str(org["uuid"])
    return None
