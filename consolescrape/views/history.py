"""What `history` shows: per limit a sparkline, the peak, the time at 100% and each reset;
`--json` streamed row by row, `--csv`. Presentation and the tallies it shows, nothing else."""

from __future__ import annotations

import csv
import itertools
import json
import re
import statistics
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import IO, TYPE_CHECKING, Any

from consolescrape import history, model, sanitize
from consolescrape.errors import UsageError
from consolescrape.history import Point, same_window
from consolescrape.output import Streamed
from consolescrape.sanitize import scrub
from consolescrape.words import duration, limit_label

if TYPE_CHECKING:
    from consolescrape.config import Secret

BARS = "▁▂▃▄▅▆▇█"
WIDTH = 48
CSV_COLUMNS = ("scrapedAt", "limit", "percentageUsed", "resetsAt", "resetsIn", "source")
#: A gap longer than this many typical gaps (the machine slept) does not count as time at 100%.
GAP_FACTOR = 2


@dataclass(frozen=True)
class Reset:
    at: datetime
    peak: int | float  # the peak of the window that ended


class Tally:
    """One limit over the span, built one row at a time (rows oldest first), so a year of rows
    is summed up without being held: count, latest, peak, resets, time at 100 %."""

    def __init__(self, first: Point) -> None:
        self.limit = first.limit
        self.count = 1
        self.latest = first
        self.peak = first
        self.resets: list[Reset] = []
        self._window_resets, self._window_peak = first.resets_at, first.percent
        #: the gaps between rows, and how long each row at 100 % lasted (before the cap on
        #: gaps, which needs their median: a gap longer than GAP_FACTOR typical ones is sleep)
        self._gaps = array("d")
        self._full = array("d")

    def add(self, after: Point) -> None:
        before = self.latest
        self.count += 1
        self.latest = after
        if after.percent > self.peak.percent:
            self.peak = after
        self._gaps.append((after.scraped_at - before.scraped_at).total_seconds())
        if before.percent >= 100:
            end = after.scraped_at
            if before.resets_at is not None:
                end = min(end, max(before.resets_at, before.scraped_at))
            self._full.append((end - before.scraped_at).total_seconds())
        # Where one window ends and the next begins, by the rule history.db itself uses.
        if same_window(
            self._window_resets, before.percent, after.scraped_at, after.percent, after.resets_at
        ):
            self._window_resets = after.resets_at or self._window_resets
            self._window_peak = max(self._window_peak, after.percent)
            return
        # The window's own reset time, when it had one that has passed; else when it was seen.
        at = after.scraped_at
        if self._window_resets is not None and self._window_resets <= after.scraped_at:
            at = self._window_resets
        self.resets.append(Reset(at, self._window_peak))
        self._window_resets, self._window_peak = after.resets_at, after.percent

    @property
    def seconds_at_full(self) -> float:
        longest = GAP_FACTOR * statistics.median(self._gaps) if self._gaps else 0.0
        return sum(min(span, longest) for span in self._full)

    def to_json(self) -> dict[str, Any]:
        return {
            "limit": self.limit,
            "label": limit_label(self.limit),
            "points": self.count,
            "latest": self.latest.percent,
            "peak": self.peak.percent,
            "peakAt": model.format_time(self.peak.scraped_at),
            "secondsAt100": round(self.seconds_at_full),
            "resets": [{"at": model.format_time(r.at), "peak": r.peak} for r in self.resets],
        }


@dataclass
class Summary:
    """One limit over the span, with its rows (what the sparkline is drawn from)."""

    points: list[Point]
    tally: Tally

    @property
    def limit(self) -> str:
        return self.tally.limit

    @property
    def peak(self) -> Point:
        return self.tally.peak

    @property
    def resets(self) -> list[Reset]:
        return self.tally.resets

    @property
    def seconds_at_full(self) -> float:
        return self.tally.seconds_at_full

    def to_json(self) -> dict[str, Any]:
        return self.tally.to_json()


def parse_since(text: str) -> timedelta:
    """'24h', '7d', '30d' (any whole number of hours or days up to ten years)."""
    found = re.fullmatch(r"\s*(\d{1,6})\s*([hd])\s*", text.lower())
    span = None
    if found:
        number = int(found.group(1))
        span = timedelta(hours=number) if found.group(2) == "h" else timedelta(days=number)
    if span is None or not timedelta(0) < span <= timedelta(days=3650):
        raise UsageError(f"--since {text!r}: expected a span such as 24h, 7d or 30d")
    return span


def tally(points: Iterable[Point], each: Callable[[Point], None] | None = None) -> list[Tally]:
    """One Tally per limit (session first, then as they appear), `each` called on every row."""
    found: dict[str, Tally] = {}
    for point in points:
        current = found.get(point.limit)
        if current is None:
            found[point.limit] = Tally(point)
        else:
            current.add(point)
        if each is not None:
            each(point)
    return sorted(found.values(), key=lambda t: t.limit != model.SESSION)


def summarize(points: Sequence[Point]) -> list[Summary]:
    """Group the rows by limit (session first, then as they appear) and find resets and 100%."""
    by_limit: dict[str, list[Point]] = {}
    for point in points:
        by_limit.setdefault(point.limit, []).append(point)
    return [Summary(by_limit[t.limit], t) for t in tally(points)]


def sparkline(points: Sequence[Point], start: datetime, end: datetime, width: int = WIDTH) -> str:
    """The highest percentage in each slice of the span; a blank where nothing was recorded."""
    slices: list[float | None] = [None] * width
    span = (end - start).total_seconds() or 1.0
    for point in points:
        index = int((point.scraped_at - start).total_seconds() / span * width)
        index = min(max(index, 0), width - 1)
        current = slices[index]
        slices[index] = point.percent if current is None else max(current, point.percent)
    return "".join(
        " " if value is None else BARS[min(int(value / 100 * len(BARS)), len(BARS) - 1)]
        for value in slices
    )


def local_time(moment: datetime) -> str:
    return moment.astimezone().strftime("%a %d %b %H:%M")


def _day(moment: datetime) -> str:
    return moment.astimezone().strftime("%a %d %b")


def _clock(moment: datetime) -> str:
    return moment.astimezone().strftime("%H:%M")


#: The label column; what follows a sparkline starts two blanks after it.
LABEL = 16
#: The narrowest sparkline still worth drawing, on a narrow terminal.
MIN_WIDTH = 12


def fit(head: str, parts: Sequence[str], sep: str, width: int, indent: int) -> list[str]:
    """`head` then `parts` joined by `sep`, in lines of at most `width` columns: a line breaks
    between parts (never inside a word), continuation lines start at `indent`; a part too long
    for a line of its own is cut with an ellipsis."""
    lines, line = [], head
    for part in parts:
        joined = part if line == head or not line.strip() else sep + part
        if len(line) + len(joined) <= width:
            line += joined
            continue
        if line.strip():
            # A list ("11:54 (peak 100%), 16:54 …") keeps its comma where its line breaks.
            lines.append(line + sep.rstrip() if sep.strip() == "," and line != head else line)
        line = " " * indent
        room = width - indent
        line += part if len(part) <= room else part[: max(room - 1, 0)].rstrip() + "…"
    lines.append(line)
    return [text.rstrip() for text in lines]


def render(summaries: Sequence[Summary], console: Any, start: datetime, end: datetime) -> None:
    """Each limit in the console's width: the sparkline shrinks before the text wraps."""
    width = console.width
    for summary in summaries:
        peak = summary.peak
        parts = [
            f"now {summary.points[-1].percent:g}%",
            f"peak {peak.percent:g}% ({local_time(peak.scraped_at)})",
        ]
        if summary.seconds_at_full:
            parts.append(f"{duration(summary.seconds_at_full)} at 100%")
        room = width - LABEL - 3  # the blank after the label, two before the text
        cells = room - len(" · ".join(parts))
        if cells < 2 * MIN_WIDTH:  # the text wraps: keep the first two phrases by the line
            cells = room - len(" · ".join(parts[:2]))
        cells = min(WIDTH, max(MIN_WIDTH, cells))
        spark = sparkline(summary.points, start, end, cells)
        head = f"{limit_label(summary.limit):<{LABEL}} {spark}  "
        for line in fit(head, parts, " · ", width, LABEL + 1):
            console.print(line, markup=False, highlight=False, soft_wrap=True)
        for day, resets in itertools.groupby(summary.resets, key=lambda r: _day(r.at)):
            times = [f"{_clock(r.at)} (peak {r.peak:g}%)" for r in resets]
            head = f"{'':<{LABEL}} resets {day}: "
            for line in fit(head, times, ", ", width, LABEL + 8):
                console.print(line, markup=False, highlight=False, soft_wrap=True)


def write_csv(points: Iterable[Point], stream: IO[str]) -> None:
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for point in points:
        doc = point.to_json()
        writer.writerow(["" if doc[c] is None else doc[c] for c in CSV_COLUMNS])


class _RowText:
    """A row as the JSON text json.dumps would give its to_json(), much faster: each distinct
    time, number and text is formatted (and scrubbed) once, in memos kept small."""

    def __init__(self, secrets: list[Secret]) -> None:
        self.secrets = secrets
        self.memo: dict[object, str] = {}

    def _text(self, value: str | None) -> str:
        found = self.memo.get(value)
        if found is None:
            shown = "null" if value is None else json.dumps(scrub(value, self.secrets))
            found = self.memo[value] = shown
        return found

    def _time(self, moment: datetime | None) -> str:
        found = self.memo.get(moment)
        if found is None:
            found = self.memo[moment] = (
                "null" if moment is None else f'"{model.format_time(moment)}"'
            )
        return found

    def _number(self, value: int | float) -> str:
        key = (type(value), value)
        found = self.memo.get(key)
        if found is None:
            found = self.memo[key] = json.dumps(value)
        return found

    def __call__(self, p: Point) -> str:
        if len(self.memo) > 8192:
            self.memo.clear()
        return (
            f'{{"scrapedAt": {self._time(p.scraped_at)}, "limit": {self._text(p.limit)}, '
            f'"percentageUsed": {self._number(p.percent)}, "resetsAt": {self._time(p.resets_at)}, '
            f'"resetsIn": {self._text(p.resets_in)}, "source": {self._text(p.source)}}}'
        )


class HistoryJson(Streamed):
    """`history --json`'s data, streamed: the rows are read, summed up and written one batch at
    a time (a year of a million rows took 933 MiB held as one document)."""

    def __init__(self, reader: history.History | None, start: datetime, end: datetime) -> None:
        self.reader, self.start, self.end = reader, start, end

    def rows(self) -> Iterator[Point]:
        if self.reader is None:
            return iter(())
        return self.reader.iter_points(self.start, until=self.end)

    def write_json(self, write: Callable[[str], object], secrets: list[Secret]) -> None:
        row_text = _RowText(secrets)
        batch: list[str] = []
        separator = ""

        def flush() -> None:
            nonlocal separator
            write(separator + ", ".join(batch))
            separator = ", "
            batch.clear()

        def each(point: Point) -> None:
            batch.append(row_text(point))
            if len(batch) >= 2048:
                flush()

        write(f'{{"since": "{model.format_time(self.start)}", "rows": [')
        try:
            tallies = tally(self.rows(), each)
        finally:
            if self.reader is not None:
                self.reader.close()
        if batch:
            flush()
        limits = sanitize.dumps([t.to_json() for t in tallies], secrets)
        write(f'], "limits": {limits}}}')
