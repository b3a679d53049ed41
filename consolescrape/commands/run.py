"""`consolescrape run`, the job cron runs: lock → scrape → queue and save → deliver; then
state, metrics, alerts and the health ping, whatever ended the run."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from consolescrape import (
    children,
    config,
    headroom,
    model,
    progress,
    signals,
    sources,
    store,
    tracking,
)
from consolescrape.commands.sync import drain_into
from consolescrape.config import Settings, unknown_warnings
from consolescrape.errors import (
    ConsolescrapeError,
    ExitCode,
    Locked,
    SiteTrouble,
    Stopped,
    environment_fault,
)
from consolescrape.outcome import Outcome, as_error, record
from consolescrape.output import Reporter

if TYPE_CHECKING:
    # Only a run with alert thresholds imports alerts (tracking does, when it needs them).
    from consolescrape.alerts import Alert

#: The summary's sync phrase for a snapshot CONSOLESCRAPE_PARTIAL=hold keeps back.
HELD = "held (partial)"


@dataclass(frozen=True)
class RunOptions:
    output: Path | None = None
    headed: bool = False
    no_sync: bool = False


@dataclass
class _Done:
    """What a run has done so far, for its ending: the snapshot it read, the alerts it owes."""

    snapshot: model.Snapshot | None = None
    due: list[Alert] = field(default_factory=list)


@dataclass
class _Queued:
    """What became of the snapshot: the payload queued (None: not queued) and, when there is
    nothing to send, the summary's sync phrase."""

    payload: model.Payload | None = None
    tail: str | None = None


def run(settings: Settings, options: RunOptions, reporter: Reporter) -> Outcome:
    """One cron tick: scrape, queue and save, deliver; then state, metrics, alerts and the ping.

    The snapshot is in the outbox before anything optional runs, and whatever ends the run (an
    error, a signal, a full disk) is what state.json and the metrics file record.
    """
    for warning in unknown_warnings(settings):
        reporter.warn(warning)
    started = time.monotonic()
    outcome = Outcome()
    done = _Done()
    with (
        progress.shown(reporter),
        store.hold_home(settings.home),
        children.Record(settings.home) as children_record,
    ):
        headroom.keep(settings.home)
        try:
            _run(settings, options, reporter, outcome, done, children_record)
        except BaseException as exc:
            outcome.fail(as_error(exc))
            _end_run(settings, reporter, outcome, done, children_record, started, failure=exc)
            raise
        _end_run(settings, reporter, outcome, done, children_record, started)
    return outcome


def _run(
    settings: Settings,
    options: RunOptions,
    reporter: Reporter,
    outcome: Outcome,
    done: _Done,
    children_record: children.Record,
) -> None:
    started = time.monotonic()
    # The browser, or Claude Code's OAuth usage endpoint (CONSOLESCRAPE_SOURCE).
    snapshot = sources.scrape(
        settings, headed=options.headed, secrets=reporter.secrets, record=children_record
    )
    outcome.durations["browser"] = time.monotonic() - started
    done.snapshot = snapshot
    queued = _queue_and_save(snapshot, settings, options, reporter)
    done.due = tracking.after_scrape(settings, snapshot, reporter)
    outcome.data = model.to_json(snapshot)
    # Whatever happens to the sync, the user learns that a model row waits for the setting.
    hint = (
        queued.payload.hint
        if queued.payload is not None
        else model.model_row_hint(snapshot, settings.model_row)
    )
    if hint:
        reporter.warn(hint)
    tail = queued.tail
    if tail is None:
        tail = _send(settings, options, reporter, outcome, queued.payload, shown=hint)
    elif tail == HELD and not options.no_sync and _pending(settings):
        # What waits in the outbox from earlier runs still goes out.
        drain_into(outcome, settings, reporter, within_run=True, shown=hint)
    outcome.summary = f"{model.summary(snapshot)} · {tail}"


def _outbox(settings: Settings) -> store.Outbox:
    return store.Outbox(settings.outbox_dir, settings.outbox_cap)


def _pending(settings: Settings) -> bool:
    return bool(_outbox(settings).pending())


def _end_run(
    settings: Settings,
    reporter: Reporter,
    outcome: Outcome,
    done: _Done,
    children_record: children.Record,
    started: float,
    *,
    failure: BaseException | None = None,
) -> None:
    """Record how the run ended, then what is optional: the alert commands and the health ping
    (not after a signal, which must end the run now; not when another run holds the profile)."""
    try:
        _record_run(settings, reporter, outcome, started)
        tracking.write_metrics(settings, outcome.exit_code, reporter, done.snapshot)
        if failure is None and outcome.summary:
            (reporter.info if outcome.error is None else reporter.warn)(outcome.summary)
        if not isinstance(failure, Stopped | Locked):
            # The site's passing trouble pings neither way: a dead-man's switch then alarms
            # only when it lasts longer than its grace period, as `status --check` does.
            ok = None if isinstance(failure, SiteTrouble) else outcome.exit_code == ExitCode.OK
            tracking.afterwards(settings, reporter, ok=ok, due=done.due, record=children_record)
    except Stopped as stop:
        # A signal now is how the run ends after all: its code is what the files must say.
        outcome.fail(stop.as_error())
        with contextlib.suppress(Stopped), signals.deferred():
            _record_run(settings, reporter, outcome, started)
            tracking.write_metrics(settings, outcome.exit_code, reporter, done.snapshot)
        raise


def _record_run(settings: Settings, reporter: Reporter, outcome: Outcome, started: float) -> None:
    """state.json gets this run's outcome, on a full disk too (in the space held back for it);
    when it cannot be written the run says so, and a run that was fine fails with that."""
    try:
        try:
            record(settings, "run", outcome, started)
        except OSError as fault:
            if not headroom.release(settings.home, fault):
                raise
            record(settings, "run", outcome, started)
    except OSError as fault:
        reporter.warn(
            f"this run is not recorded in {settings.state_file}: {fault.strerror or fault} "
            "(`consolescrape status` cannot show it)"
        )
        if outcome.error is None:
            outcome.fail(environment_fault(fault, "the run's outcome could not be recorded"))


def record_unloaded_run(
    flags: dict[str, Any], env_file: Path | None, exc: BaseException, reporter: Reporter
) -> None:
    """A run stopped by its own settings (a bad value: exit 7) is recorded like any other run:
    in state.json, the metrics file and the health ping, as far as the home can be found."""
    try:
        settings = config.load(flags, env_file=env_file, only=config.RECORDING)
    except (ConsolescrapeError, OSError):
        return  # nothing says where the home is
    outcome = Outcome.failed(as_error(exc))
    try:
        with store.hold_home(settings.home):
            _record_run(settings, reporter, outcome, time.monotonic())
            tracking.write_metrics(settings, outcome.exit_code, reporter)
            tracking.afterwards(settings, reporter, ok=False)
    except (ConsolescrapeError, OSError):
        pass  # another run holds the home, or the home is refused: that run (or error) tells


def _queue_and_save(
    snapshot: model.Snapshot, settings: Settings, options: RunOptions, reporter: Reporter
) -> _Queued:
    """Queue the snapshot, then save it, with signals held: once it is saved it is queued."""
    target = options.output or settings.data_file
    progress.phase("saving")
    with signals.deferred():
        try:
            queued = _queue(snapshot, settings, reporter)
        except OSError as exc:
            doing = "the snapshot was saved, but NOT queued for sync"
            try:
                store.save_snapshot(target, snapshot)  # saving it matters still
            except OSError:
                doing = "the snapshot was NOT queued for sync, nor saved"
            raise environment_fault(exc, doing) from None
        try:
            store.save_snapshot(target, snapshot)
        except OSError as exc:
            doing = "the snapshot was queued for sync, but NOT saved" if queued.payload else ""
            raise environment_fault(exc, doing) from None
    return queued


def _queue(snapshot: model.Snapshot, settings: Settings, reporter: Reporter) -> _Queued:
    """Put the snapshot's payload in the outbox, built and checked once here."""
    if settings.api_key is None:
        reporter.info("sync skipped: CLAUDE_SYNC_API_KEY is not set (data saved locally only)")
        return _Queued(tail="saved (sync not configured)")
    payload = model.to_payload(snapshot, settings.model_row)
    problems = model.validate_payload(payload.body)
    if problems:
        reporter.warn("nothing the server would accept was found: " + "; ".join(problems))
        return _Queued(tail="saved, not queued")
    gaps = model.card_gaps(payload) if settings.partial == "hold" else []
    if gaps:
        reporter.warn(
            f"{HELD}: missing {', '.join(gaps)}; saved locally, not sent "
            "(CONSOLESCRAPE_PARTIAL=hold)"
        )
        return _Queued(payload=None, tail=HELD)
    outbox = _outbox(settings)
    _, dropped = outbox.add(snapshot, payload.id)
    if dropped:
        reporter.warn(
            f"outbox over its cap of {outbox.cap}: dropped the {len(dropped)} oldest snapshot(s)"
        )
    return _Queued(payload=payload)


def _send(
    settings: Settings,
    options: RunOptions,
    reporter: Reporter,
    outcome: Outcome,
    payload: model.Payload | None,
    *,
    shown: str | None,
) -> str:
    """Drain the outbox (the snapshot is in it); returns the summary's sync phrase."""
    if options.no_sync:
        return f"queued ({len(_outbox(settings).pending())} pending, --no-sync)"
    progress.phase("syncing")
    drain_into(outcome, settings, reporter, within_run=True, fresh=payload, shown=shown)
    if outcome.error is None:
        return "synced"
    if outcome.exit_code == ExitCode.SYNC_PENDING:
        return f"sync pending ({len(_outbox(settings).pending())} queued)"
    return "not synced"
