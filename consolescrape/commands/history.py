"""`consolescrape history`: the text view, `--json` (data.rows) or `--csv`, on stdout."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime

from consolescrape import history
from consolescrape.config import Settings
from consolescrape.errors import UsageError
from consolescrape.outcome import Outcome
from consolescrape.output import Reporter
from consolescrape.views import history as view


def show(
    settings: Settings, reporter: Reporter, *, since: str, as_json: bool, as_csv: bool
) -> Outcome:
    """A damaged history.db is exit 7 (`history.HistoryError` is a configuration error)."""
    if as_json and as_csv:
        raise UsageError("--json and --csv: choose one")
    end = datetime.now(UTC)
    start = end - view.parse_since(since)
    if as_json:
        # Checked (opened) now, so a damaged database is exit 7; read while it is printed.
        return Outcome(
            data=view.HistoryJson(history.open_for_reading(settings.history_file), start, end)
        )
    if as_csv:
        _print_csv(settings, start, end)
        return Outcome()
    points = load(settings, start, end)
    if not points:
        reporter.console.print(
            f"no history since {view.local_time(start)}: each `consolescrape run` adds a row "
            f"per limit to {settings.history_file}",
            markup=False,
            highlight=False,
        )
    view.render(view.summarize(points), reporter.console, start, end)
    return Outcome()


def load(settings: Settings, since: datetime, until: datetime | None = None) -> list[history.Point]:
    """The rows since `since`, oldest first (none without a history.db)."""
    reader = history.open_for_reading(settings.history_file)
    if reader is None:
        return []
    with reader:
        return reader.points(since, until=until)


def _print_csv(settings: Settings, start: datetime, end: datetime) -> None:
    reader = history.open_for_reading(settings.history_file)
    try:
        rows = reader.iter_points(start, until=end) if reader else iter(())
        view.write_csv(rows, sys.stdout)
        sys.stdout.flush()
    except BrokenPipeError:
        # `history --csv | head`: the reader has all it wanted. Python would complain again
        # when it flushes stdout at exit, so point stdout at nothing.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    finally:
        if reader is not None:
            reader.close()
