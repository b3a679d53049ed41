"""Reset windows: the one rule for "the same window", and the records history keeps.

Pure: history.db, alerts, the forecast and the `history` command all decide with `same_window`.
"""

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from consolescrape import model

# Imported by every run (through history): NamedTuples, and annotations not postponed, keep it
# cheap (see benchmarks/history.py).

#: A countdown read from the page ("2 hr 42 min") gives a reset time that moves by a minute or
#: two between runs; a reset time this close to the window's is the same window.
DRIFT = timedelta(minutes=10)
#: After the reset time, a reading that no longer names one belongs to the next window.
GRACE = timedelta(minutes=2)
#: Endpoint and page can round one limit differently (55.5 vs 55): not a reset.
FALLBACK = 1.0


class Point(NamedTuple):
    """One limit as one scrape saw it."""

    scraped_at: datetime
    limit: str
    percent: int | float
    resets_at: datetime | None
    resets_in: str
    source: str | None

    def to_json(self, stamp: Callable[[datetime], str] = model.format_time) -> dict[str, object]:
        """The row in the local camelCase format; `stamp` may be a memo of format_time."""
        return {
            "scrapedAt": stamp(self.scraped_at),
            "limit": self.limit,
            "percentageUsed": self.percent,
            "resetsAt": stamp(self.resets_at) if self.resets_at else None,
            "resetsIn": self.resets_in,
            "source": self.source,
        }


def rows_json(points: Sequence[Point]) -> list[dict[str, object]]:
    """Many rows in the local format, each distinct time formatted once."""
    memo: dict[datetime, str] = {}

    def stamp(moment: datetime) -> str:
        text = memo.get(moment)
        if text is None:
            text = memo[moment] = model.format_time(moment)
        return text

    return [point.to_json(stamp) for point in points]


class Window(NamedTuple):
    """One reset window of one limit, as far as the history has seen it."""

    id: int
    limit: str
    started_at: datetime
    seen_at: datetime
    resets_at: datetime | None
    last_percent: int | float
    peak: int | float

    @property
    def over(self) -> bool:
        """The window's own reset time has passed (a forecast for it means nothing)."""
        return self.resets_at is not None and datetime.now(UTC) > self.resets_at + GRACE


class Recorded(NamedTuple):
    """A limit recorded by this run: its window, and the window it ended, if any."""

    point: Point
    window_id: int
    ended: Window | None


# --- the one rule for "same window" --------------------------------------------------------------


def fell_back(before: float, now: float) -> bool:
    """Usage never goes down within a window: a drop means the limit has reset."""
    return now < before - FALLBACK or (now == 0 < before)


def same_window(
    window_resets_at: datetime | None,
    last_percent: float,
    at: datetime,
    percent: float,
    resets_at: datetime | None,
) -> bool:
    """Whether a reading (taken `at`) continues a window. Pure; history and alerts share it.

    The reset time decides when both readings name one: the same reset time, even one already
    past (a page not yet refreshed), is the same window, whatever the percentage does (usage
    that wobbles 79 → 81 → 79 → 81 is one window, so it alerts once); a truly new window names
    a new reset time. Only without a reset time does a drop mean the limit has reset.
    """
    if window_resets_at is not None and resets_at is not None:
        return abs(resets_at - window_resets_at) <= DRIFT
    if fell_back(last_percent, percent):
        return False
    if window_resets_at is None:
        return True
    return at <= window_resets_at + GRACE
