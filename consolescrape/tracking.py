"""What a run leaves besides the snapshot: history rows, alerts, the metrics file.

None of it may change how a run ends: each failure here is one warning line, and the run saves,
queues and syncs as it would without it.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
from typing import TYPE_CHECKING, Any

from consolescrape import model, store
from consolescrape.config import Settings
from consolescrape.errors import Stopped
from consolescrape.output import Reporter

if TYPE_CHECKING:
    from consolescrape.alerts import Alert


def preload(settings: Settings) -> threading.Thread:
    """Import sqlite3 and the history modules in the background while the browser works.

    A run spends most of a second waiting on Chrome; loading these then (~3 ms on the 2-core
    machine, half of the history write) keeps them off the run's own time. Importing is
    thread-safe, and a failure here only means after_scrape imports them itself.
    """

    def load() -> None:
        with contextlib.suppress(Exception):
            importlib.import_module("consolescrape.history")
            if settings.alert_at:
                importlib.import_module("consolescrape.alerts")

    thread = threading.Thread(target=load, name="preload", daemon=True)
    thread.start()
    return thread


def after_scrape(settings: Settings, snapshot: model.Snapshot, reporter: Reporter) -> None:
    """After a fresh scrape is saved, inside the lock: append history, then send due alerts.

    Only `run` calls this, so alerts come from data scraped now, never from resent data.
    """
    from consolescrape.history import HistoryError

    try:
        due = _record(settings, snapshot)
        if due:
            from consolescrape import alerts

            alerts.send(due, settings.alert_command, reporter.warn)
    except HistoryError as exc:
        reporter.warn(exc.line())
    except Stopped:
        raise  # a signal ends the run as usual; the transaction was rolled back
    except Exception as exc:
        # A bug in this extra must not cost the user the sync that follows.
        reporter.warn(f"history not updated: internal error: {type(exc).__name__}: {exc}")


def _record(settings: Settings, snapshot: model.Snapshot) -> list[Alert]:
    """Rows and alert claims in one transaction, committed before any alert is sent."""
    from consolescrape import history

    due: list[Alert] = []
    with history.open_for_writing(settings.history_file) as db:
        with db.transaction():
            readings = db.record(snapshot)
            if settings.alert_at:  # without thresholds, alerts are not even imported
                from consolescrape import alerts

                due = alerts.claim(db, readings, settings.alert_at)
        db.prune(settings.history_days)
    return due


def after_run(settings: Settings, exit_code: int, reporter: Reporter, data: Any = None) -> None:
    """At the end of every run that held the lock: rewrite the metrics file, if one is set."""
    if settings.metrics_file is None:
        return
    from consolescrape import metrics

    try:
        snapshot = model.from_json(data) if data else store.load_snapshot(settings.data_file)
    except ValueError:
        snapshot = None
    items = len(store.Outbox(settings.outbox_dir, settings.outbox_cap).pending())
    try:
        metrics.write(
            settings.metrics_file, metrics.render(metrics.Reading(snapshot, exit_code, items))
        )
    except OSError as exc:
        reporter.warn(
            f"metrics file {settings.metrics_file} not written: {exc.strerror or exc} "
            "(fix: point CONSOLESCRAPE_METRICS_FILE into a directory you can write)"
        )
