"""`consolescrape history`: per limit a sparkline, the peak, the time at 100% and each reset."""

from __future__ import annotations

import itertools
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import IO, Any

from consolescrape import history, model
from consolescrape.config import Settings
from consolescrape.errors import ConfigError, UsageError
from consolescrape.history import Point, same_window
from consolescrape.jobs import Outcome
from consolescrape.output import Reporter

BARS = "▁▂▃▄▅▆▇█"
WIDTH = 48
CSV_COLUMNS = ("scrapedAt", "limit", "percentageUsed", "resetsAt", "resetsIn", "source")
#: A gap longer than this many typical gaps (the machine slept) does not count as time at 100%.
GAP_FACTOR = 2


@dataclass(frozen=True)
class Reset:
    at: datetime
    peak: int | float  # the peak of the window that ended


@dataclass
class Summary:
    """One limit over the span."""

    limit: str
    points: list[Point]
    resets: list[Reset] = field(default_factory=list)
    seconds_at_full: float = 0.0

    @property
    def peak(self) -> Point:
        return max(self.points, key=lambda p: p.percent)

    def to_json(self) -> dict[str, Any]:
        from consolescrape.status import limit_label

        return {
            "limit": self.limit,
            "label": limit_label(self.limit),
            "points": len(self.points),
            "latest": self.points[-1].percent,
            "peak": self.peak.percent,
            "peakAt": model.format_time(self.peak.scraped_at),
            "secondsAt100": round(self.seconds_at_full),
            "resets": [{"at": model.format_time(r.at), "peak": r.peak} for r in self.resets],
        }


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


def summarize(points: Sequence[Point]) -> list[Summary]:
    """Group the rows by limit (session first, then as they appear) and find resets and 100%."""
    by_limit: dict[str, list[Point]] = {}
    for point in points:
        by_limit.setdefault(point.limit, []).append(point)
    order = sorted(by_limit, key=lambda key: key != model.SESSION)
    return [_summary(key, by_limit[key]) for key in order]


def _summary(limit: str, points: list[Point]) -> Summary:
    return Summary(limit, points, _resets(points), _seconds_at_full(points))


def _seconds_at_full(points: Sequence[Point]) -> float:
    pairs = list(itertools.pairwise(points))
    gaps = [(b.scraped_at - a.scraped_at).total_seconds() for a, b in pairs]
    longest = GAP_FACTOR * statistics.median(gaps) if gaps else 0.0
    total = 0.0
    for before, after in pairs:
        if before.percent >= 100:
            end = after.scraped_at
            if before.resets_at is not None:
                end = min(end, max(before.resets_at, before.scraped_at))
            total += min((end - before.scraped_at).total_seconds(), longest)
    return total


def _resets(points: Sequence[Point]) -> list[Reset]:
    """Where one window ends and the next begins, by the rule history.db itself uses."""
    found = []
    window_resets, peak = points[0].resets_at, points[0].percent
    for before, after in itertools.pairwise(points):
        if same_window(
            window_resets, before.percent, after.scraped_at, after.percent, after.resets_at
        ):
            window_resets = after.resets_at or window_resets
            peak = max(peak, after.percent)
            continue
        # The window's own reset time, when it had one that has passed; else when it was seen.
        at = after.scraped_at
        if window_resets is not None and window_resets <= after.scraped_at:
            at = window_resets
        found.append(Reset(at, peak))
        window_resets, peak = after.resets_at, after.percent
    return found


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


def _local(moment: datetime) -> str:
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
    from consolescrape.status import duration, limit_label

    width = console.width
    for summary in summaries:
        peak = summary.peak
        parts = [
            f"now {summary.points[-1].percent:g}%",
            f"peak {peak.percent:g}% ({_local(peak.scraped_at)})",
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


def write_csv(points: Sequence[Point], stream: IO[str]) -> None:
    import csv

    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for doc in history.rows_json(points):
        writer.writerow(["" if doc[c] is None else doc[c] for c in CSV_COLUMNS])


def load(settings: Settings, since: datetime) -> list[Point]:
    """The rows since `since`, oldest first; a damaged database is a configuration error."""
    try:
        reader = history.open_for_reading(settings.history_file)
        if reader is None:
            return []
        with reader:
            return reader.points(since)
    except history.HistoryError as exc:
        raise ConfigError(exc.message, exc.fix) from None


def show(
    settings: Settings, reporter: Reporter, *, since: str, as_json: bool, as_csv: bool
) -> Outcome:
    """The `history` command: the text view, or --json (data.rows), or --csv, on stdout."""
    import sys

    if as_json and as_csv:
        raise UsageError("--json and --csv: choose one")
    end = datetime.now(UTC)
    start = end - parse_since(since)
    points = load(settings, start)
    summaries = summarize(points)
    if as_csv:
        try:
            write_csv(points, sys.stdout)
            sys.stdout.flush()
        except BrokenPipeError:
            # `history --csv | head`: the reader has all it wanted. Python would complain again
            # when it flushes stdout at exit, so point stdout at nothing.
            import os

            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return Outcome()
    if not as_json:
        if not points:
            reporter.console.print(
                f"no history since {_local(start)}: each `consolescrape run` adds a row per limit "
                f"to {settings.history_file}",
                markup=False,
                highlight=False,
            )
        render(summaries, reporter.console, start, end)
    return Outcome(
        data={
            "since": model.format_time(start),
            "rows": history.rows_json(points),
            "limits": [s.to_json() for s in summaries],
        }
    )
