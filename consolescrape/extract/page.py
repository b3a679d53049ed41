"""The page: what kind of page the browser shows, and the limits its text shows, row by row."""

from __future__ import annotations

import enum
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from urllib.parse import urlsplit

from consolescrape.extract.reading import PAGE, NoUsage, Reading, percentage
from consolescrape.extract.resets import (
    RESETS_PREFIX,
    STATUS_RE,
    is_reset_body,
    reset_body,
    resolve_reset,
    squash,
    utc_now,
)
from consolescrape.extract.trouble import is_outage_page
from consolescrape.model import SESSION, Limit, Spend, model_key, row_label
from consolescrape.sanitize import clean_lines


class PageKind(enum.Enum):
    """What the browser is looking at."""

    USAGE = "usage"
    LOGIN = "login"
    BOT_CHECK = "bot_check"
    #: an outage, maintenance or error page of the site (passing: the next run tries again)
    OUTAGE = "outage"
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
    # Cloudflare's 2026 interstitial, also under the site's own title.
    "performing security verification",
    "verifies you are not a bot",
    "verify you are not a bot",
)
#: A login form's own lines ("Log in", "Continue with Google"), matched at the start of a line:
#: inside a line they are often part of something else (a chat titled "Blog intro" in the
#: sidebar holds "log in"; "Design inspiration" holds "sign in").
_LOGIN_LINE = re.compile(
    r"^\s*(?:log in|sign in|continue with (?:google|email|sso)|enter your email)\b",
    re.IGNORECASE | re.MULTILINE,
)
_LOGIN_TITLE = re.compile(r"\b(?:log ?in|sign ?in)\b", re.IGNORECASE)
_PERCENT_USED = re.compile(r"\d+(?:\.\d+)?\s*%\s*used", re.IGNORECASE)


def classify_page(
    url: str, title: str, text: str, *, status: int = 0, challenge: bool = False
) -> PageKind:
    """Tell the usage page from a login page, a bot check, an outage page, and anything else.

    `status` is the page's HTTP status (0: unknown); `challenge` says the document carries a
    bot-check platform's own markup (its script, form or settings object), whatever its title.
    """
    title_l = title.strip().casefold()
    text_l = squash(text).casefold()
    parts = urlsplit(url)
    usage = _has_usage(text)
    if (
        (challenge and not usage)  # a page of the site that merely loads the platform's script
        or title_l.startswith(_BOT_TITLES)
        or any(w in text_l for w in _BOT_WORDING)
        or "/cdn-cgi/challenge-platform" in parts.path
        or "__cf_chl" in parts.query
    ):
        return PageKind.BOT_CHECK
    if not usage and is_outage_page(status, title, text):
        return PageKind.OUTAGE
    path = parts.path.rstrip("/")
    if path in ("/login", "/logout") or path.startswith(("/login/", "/logout/")):
        return PageKind.LOGIN
    if usage:
        return PageKind.USAGE
    if _LOGIN_LINE.search(text) or _LOGIN_TITLE.search(title):
        return PageKind.LOGIN
    return PageKind.UNKNOWN


def _has_usage(text: str) -> bool:
    squashed = squash(text).casefold()
    if "plan usage limits" in squashed or "your usage limits" in squashed:
        return True
    return ("current session" in squashed or "weekly limits" in squashed) and bool(
        _PERCENT_USED.search(squashed)
    )


# --- the page text -------------------------------------------------------------------------------

_HEADINGS = ("plan usage limits", "your usage limits")
_SESSION_LABEL = "current session"
_WEEKLY_HEADING = "weekly limits"
_NOT_LABELS = {*_HEADINGS, _WEEKLY_HEADING, "learn more about usage limits"}
#: Sections that are not limits; rows resume at the next limit heading, if any.
_OTHER_SECTIONS = ("additional features", "extra usage", "last updated")
#: Row labels seen on the page; used only to split text that runs together.
_KNOWN_LABELS = ("All models", "Sonnet only", "Opus only", "Haiku only", "Fable", "Claude Design")
_ROW_START = r"(?:Resets[\s:]|Starts when|You haven|\d+(?:\.\d+)?\s*%\s*used)"
_BREAK_BEFORE = re.compile(
    r"(?=Resets[\s:]|Starts when a message is sent|You haven[’']?t used"
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
#: A line that begins a row's reading; "Resets" in any wording ("Resets: (Saturday) 3:00 PM") is
#: a reset, never a row label.
_ROW_HEAD = re.compile(r"(?:resets\b|starts when|you haven)", re.IGNORECASE)

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
    # Page text is stored and printed later: no escape sequence or control character survives.
    text = clean_lines(text.replace("\u00a0", " "))
    text = _BREAK_AFTER.sub(lambda m: m[0] + "\n", text)
    text = _BREAK_BEFORE.sub("\n", text)
    return [squashed for line in text.split("\n") if (squashed := " ".join(line.split()))]


def _resets_in(line: str) -> str:
    """The line as `resetsIn`: 'Resets in 2 hr' → '2 hr'; status lines verbatim."""
    return (reset_body(line) or line) if RESETS_PREFIX.match(line) else line


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
        (reset, pct) for reset, pct in splits if STATUS_RE.fullmatch(reset) or is_reset_body(reset)
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
            if not STATUS_RE.fullmatch(reset):
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
    return reset, percentage(pct)


def _in_range(pct: str) -> bool:
    try:
        percentage(pct)
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
    now = utc_now(now)
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
        if resets_at is None and not (STATUS_RE.fullmatch(resets_in) or is_reset_body(resets_in)):
            # The row is real; only its reset time is unknown: kept in the page's own words.
            reading.notes.append(f"{key}: reset {resets_in[:60]!r} not understood; no resetsAt")
        label = None if key == SESSION else row_label(row.label, key)
        reading.put(key, Limit(resets_in, percentage, resets_at, label=label), PAGE)
    return reading


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
