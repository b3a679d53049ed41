"""`consolescrape sync`: deliver the outbox oldest first, or resend exactly one file."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import TYPE_CHECKING

from consolescrape import model, store
from consolescrape import sync as delivery
from consolescrape.config import Settings
from consolescrape.errors import ConsolescrapeError, Stopped
from consolescrape.outcome import Outcome, as_error, record
from consolescrape.output import Reporter

if TYPE_CHECKING:
    from consolescrape.execution import Job


def job(file: Path | None) -> Job:
    """`sync`'s work as both doors run it (`cli` and `fast`): resend `file`, or drain the outbox."""
    return lambda settings, reporter: sync(settings, file, reporter)


def sync(settings: Settings, file: Path | None, reporter: Reporter) -> Outcome:
    """Drain the outbox, or send `file` (the outbox untouched); state.json records it."""
    started = time.monotonic()
    outcome = Outcome()
    if file is not None:
        # Validate before taking the lock or touching the network: a bad file is exit 2.
        payload = delivery.load_file_payload(file, settings.model_row)
    with store.hold_home(settings.home):
        try:
            if file is not None:
                _warn_if_older_than_delivered(settings, file, payload, reporter)
                report = delivery.send_file(settings, file, payload)
                take_report(outcome, report, settings, reporter)
            else:
                drain_into(outcome, settings, reporter)
        except BaseException as exc:
            # However it ends (a signal mid-POST included), state.json says so.
            outcome.fail(as_error(exc))
            with contextlib.suppress(Stopped):
                record(settings, "sync", outcome, started)
            raise
        sent = (outcome.sync or {}).get("sent", 0)
        summary = f"synced {sent} snapshot(s)" if sent else "nothing to sync"
        if outcome.error is None:
            outcome.summary = summary
        record(settings, "sync", outcome, started)
    if outcome.error is None:
        reporter.info(summary)
    return outcome


def drain_into(
    outcome: Outcome,
    settings: Settings,
    reporter: Reporter,
    *,
    within_run: bool = False,
    fresh: model.Payload | None = None,
    shown: str | None = None,
) -> None:
    """Deliver the outbox into `outcome`. `fresh`: the payload `run` just queued (sent as built,
    not read back); `shown`: a hint the caller printed already."""
    started = time.monotonic()
    try:
        report = delivery.drain(settings, within_run=within_run, fresh=fresh)
    except ConsolescrapeError as exc:
        outcome.fail(exc)
        outcome.sync = {"error": exc.message}
        return
    finally:
        outcome.durations["sync"] = time.monotonic() - started
    take_report(outcome, report, settings, reporter, shown=shown)


def take_report(
    outcome: Outcome,
    report: delivery.SyncReport,
    settings: Settings,
    reporter: Reporter,
    *,
    shown: str | None = None,
) -> None:
    """Fold a sync's report into the command's outcome, and remember what was delivered."""
    outcome.sync = report.to_json()
    for hint in report.hints:
        if hint != shown:
            reporter.warn(hint)
    if report.error is not None:
        outcome.fail(report.error)
    if report.newest_sent is not None:
        store.record_delivered(settings.state_file, report.newest_sent, len(report.sent))


def _warn_if_older_than_delivered(
    settings: Settings, file: Path, payload: model.Payload, reporter: Reporter
) -> None:
    """The server keeps the last body it receives: resending old data makes it the "latest"."""
    newest = store.newest_delivered(settings.state_file)
    sending = str(payload.body["lastUpdated"])
    if newest is not None and sending < newest:
        reporter.warn(
            f"{file} holds data from {sending}, older than the newest this home has delivered "
            f"({newest}): the server will show this older data as its latest"
        )
