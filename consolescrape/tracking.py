"""What a run leaves besides the snapshot: history rows, alerts, the metrics file, the ping.

None of it may change how a run ends: each failure here is one warning line, and the run saves,
queues and syncs as it would without it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from consolescrape import history, model, store, sync
from consolescrape.config import Settings
from consolescrape.output import Reporter

if TYPE_CHECKING:
    from consolescrape.alerts import Alert
    from consolescrape.children import Record

#: One deadline for what a run does once its result is known: the alert commands and the health
#: ping share it. So a run ends within its browser and sync budgets plus this (README).
AFTER_RUN_SECONDS = 5.0


def after_scrape(settings: Settings, snapshot: model.Snapshot, reporter: Reporter) -> list[Alert]:
    """After a fresh scrape is queued and saved, inside the lock: append history and claim the
    alerts this reading calls for; they are sent by `afterwards`, once the run's result is in.

    Only `run` calls this, so alerts come from data scraped now, never from resent data.
    """
    try:
        return _record(settings, snapshot)
    except history.HistoryError as exc:
        reporter.warn(exc.line())
    except Exception as exc:  # a signal (Stopped) is no Exception: it ends the run as usual
        # A bug in this extra must not cost the user the sync that follows.
        reporter.warn(f"history not updated: internal error: {type(exc).__name__}: {exc}")
    return []


def _record(settings: Settings, snapshot: model.Snapshot) -> list[Alert]:
    """Rows and alert claims in one transaction, committed before any alert is sent."""
    due: list[Alert] = []
    with history.open_for_writing(settings.history_file) as db:
        with db.transaction():
            readings = db.record(snapshot)
            if settings.alert_at:  # without thresholds, alerts are not even imported
                from consolescrape import alerts

                due = alerts.claim(db, readings, settings.alert_at)
        db.prune(settings.history_days)
    return due


def write_metrics(
    settings: Settings, exit_code: int, reporter: Reporter, snapshot: model.Snapshot | None = None
) -> None:
    """Rewrite the metrics file, if one is set, with this run's exit code and its snapshot (or,
    when it read none, the last one saved). Nothing read here can replace the run's error."""
    if settings.metrics_file is None:
        return
    from consolescrape import metrics

    if snapshot is None:
        # Only for the usage gauges: a damaged or missing file just leaves them out.
        with contextlib.suppress(OSError, ValueError, RecursionError):
            snapshot = store.load_snapshot(settings.data_file)
    items = 0
    with contextlib.suppress(OSError):
        items = len(store.Outbox(settings.outbox_dir, settings.outbox_cap).pending())
    try:
        reading = metrics.RunMetrics(snapshot, exit_code, items, home=str(settings.home))
        metrics.write(settings.metrics_file, metrics.render(reading))
    except metrics.SharedFile as exc:
        reporter.warn(f"metrics file not written: {exc}")
    except OSError as exc:
        reporter.warn(
            f"metrics file {settings.metrics_file} not written: {exc.strerror or exc} "
            "(fix: point CONSOLESCRAPE_METRICS_FILE into a directory you can write)"
        )


def afterwards(
    settings: Settings,
    reporter: Reporter,
    *,
    ok: bool | None,
    due: Sequence[Alert] = (),
    record: Record | None = None,
) -> None:
    """The alert commands and the health ping, side by side within one deadline for both
    (AFTER_RUN_SECONDS); whatever is still running then is stopped with its process group.
    `ok` None: the run ended neither well nor badly (the site's passing trouble), no ping."""
    until = time.monotonic() + AFTER_RUN_SECONDS
    if not due:
        ping(settings, reporter, ok=ok, until=until)
        return
    from consolescrape import alerts

    try:
        with alerts.started(due, settings.alert_command, reporter.warn, record) as running:
            ping(settings, reporter, ok=ok, until=until)
            alerts.finish(running, until, reporter.warn, record, seconds=AFTER_RUN_SECONDS)
    except Exception as exc:  # an alert's failure never changes how the run ends (a signal
        # does: Stopped is no Exception, and the groups were killed on the way out)
        reporter.warn(f"alerts not sent: internal error: {type(exc).__name__}: {exc}")


def ping(settings: Settings, reporter: Reporter, *, ok: bool | None, until: float) -> None:
    """The dead-man's-switch ping, if one is set (and `ok` says which way), ending by the
    monotonic time `until`.

    A request of this process (no child to leave behind), under the sync's hard deadline.
    """
    if not settings.healthcheck_url or ok is None:
        return
    seconds = max(0.5, until - time.monotonic())
    if not sync.ping_health(settings.healthcheck_url, ok=ok, timeout=seconds):
        reporter.warn("health ping failed (the run's result is unchanged)")
