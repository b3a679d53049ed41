"""Burn-rate forecast: from the current reset window's points, when would 100% be reached?

Pure: no I/O. The points come from history.db (consolescrape.history).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from consolescrape.history import Point
from consolescrape.model import format_time
from consolescrape.words import duration

#: Fewer points, or a shorter stretch of the window, say nothing about a pace.
MIN_POINTS = 3
MIN_SPAN = timedelta(minutes=10)


@dataclass(frozen=True)
class Forecast:
    """The pace over the current window and what it leads to before the reset."""

    percent: float
    pace_per_hour: float
    reaches_at: datetime | None  # None: the pace never gets there (flat)
    resets_at: datetime | None

    @property
    def before_reset(self) -> bool:
        """Whether 100% comes before the reset at this pace (unknown reset: if it comes)."""
        if self.reaches_at is None:
            return False
        return self.resets_at is None or self.reaches_at < self.resets_at

    def to_json(self) -> dict[str, object]:
        return {
            "percentageUsed": self.percent,
            "pacePercentPerHour": round(self.pace_per_hour, 2),
            "reachesLimitAt": format_time(self.reaches_at) if self.reaches_at else None,
            "resetsAt": format_time(self.resets_at) if self.resets_at else None,
            "reachesLimitBeforeReset": self.before_reset,
        }


def pace(points: Sequence[Point]) -> float:
    """Percent per hour: the least-squares slope, so one odd reading does not swing it."""
    start = points[0].scraped_at
    xs = [(p.scraped_at - start).total_seconds() / 3600 for p in points]
    ys = [float(p.percent) for p in points]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    if spread == 0:
        return 0.0
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread


def forecast(points: Sequence[Point], resets_at: datetime | None, now: datetime) -> Forecast | None:
    """A forecast from one window's points (oldest first), or None when they are too few."""
    if len(points) < MIN_POINTS or points[-1].scraped_at - points[0].scraped_at < MIN_SPAN:
        return None
    if resets_at is not None and resets_at <= now:
        return None  # the window is over: its pace says nothing about the next one
    current = float(points[-1].percent)
    rate = pace(points)
    reaches_at = None
    if current >= 100:
        reaches_at = points[-1].scraped_at
    elif rate > 0:
        reaches_at = points[-1].scraped_at + timedelta(hours=(100 - current) / rate)
    return Forecast(current, rate, reaches_at, resets_at)


def describe(found: Forecast, now: datetime, *, with_reset: bool = True) -> str:
    """'at this pace 100% in ~45 min — resets in 2 hr 10 min' (or 'won't reach it …');
    `with_reset=False` leaves the countdown to a view that shows it already."""
    if found.percent >= 100:
        head = "at 100%"
    elif found.before_reset and found.reaches_at is not None:
        head = f"at this pace 100% in ~{duration((found.reaches_at - now).total_seconds())}"
    elif found.resets_at is not None:
        head = "at this pace it won't reach 100% before the reset"
    else:
        head = "at this pace it won't reach 100%"
    if found.resets_at is None or not with_reset:
        return head
    return f"{head} — resets in {duration((found.resets_at - now).total_seconds())}"
