"""A year of history.db rows, written in bulk (for the history tests and benchmarks/history.py).

Real runs write one snapshot at a time through `History.record`; a year of them that way takes
minutes, so this inserts the same rows directly: a 5-hour session window that fills and resets,
weekly windows, one row per limit every `step` minutes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from consolescrape import history

SESSION_HOURS = 5
WEEK = timedelta(days=7)


def _ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)


def session_percent(at: datetime, origin: datetime) -> tuple[int, datetime]:
    """A session that climbs 25 % an hour (so it sits at 100 % for its last hour)."""
    elapsed = (at - origin) % timedelta(hours=SESSION_HOURS)
    resets = at - elapsed + timedelta(hours=SESSION_HOURS)
    return min(100, int(elapsed.total_seconds() / 3600 * 25)), resets


def weekly_percent(at: datetime, origin: datetime, rate: float) -> tuple[int, datetime]:
    elapsed = (at - origin) % WEEK
    return min(100, int(elapsed / WEEK * rate)), at - elapsed + WEEK


def fill(
    path: Path,
    *,
    end: datetime | None = None,
    days: int = 365,
    step: timedelta = timedelta(minutes=5),
) -> int:
    """Write `days` of rows ending at `end` (now); returns how many rows per limit."""
    end = end or datetime.now(UTC)
    origin = end - timedelta(days=days)
    rows = []
    at, count = origin, 0
    while at <= end:
        session, session_reset = session_percent(at, origin)
        weekly, weekly_reset = weekly_percent(at, origin, 90)
        sonnet, _ = weekly_percent(at, origin, 40)
        stamp = _ms(at)
        rows += [
            (stamp, "currentSession", session, _ms(session_reset), "2 hr", "api"),
            (stamp, "allModels", weekly, _ms(weekly_reset), "Thu 7:00 AM", "api"),
            (stamp, "sonnetOnly", sonnet, _ms(weekly_reset), "Thu 7:00 AM", "api"),
        ]
        at += step
        count += 1
    with history.open_for_writing(path) as db, db.transaction():
        db.db.executemany(
            "INSERT INTO points (scraped_at, limit_key, percent, resets_at, resets_in, source)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
    return count
