"""The `run`, `sync` and `login` jobs: lock → scrape → save → queue → deliver, with state kept."""

from __future__ import annotations

import contextlib
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from consolescrape import (
    children,
    headroom,
    model,
    progress,
    sanitize,
    signals,
    sources,
    store,
    tracking,
    version,
)
from consolescrape.config import Secret, Settings, unknown_warnings
from consolescrape.errors import (
    CheckFailed,
    ConsolescrapeError,
    ExitCode,
    Locked,
    SiteTrouble,
    Stopped,
    UsageError,
    environment_fault,
)
from consolescrape.output import Reporter

if TYPE_CHECKING:
    from consolescrape import sync as sync_module
    from consolescrape.alerts import Alert


@dataclass
class Outcome:
    """What a command ended with: its exit code, its data, and the error that set the code."""

    exit_code: ExitCode = ExitCode.OK
    data: Any = None
    sync: dict[str, Any] | None = None
    error: ConsolescrapeError | None = None
    #: the one-line result a person reads, also recorded in state.json
    summary: str | None = None
    #: seconds spent per phase ("browser", "sync")
    durations: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class RunOptions:
    output: Path | None = None
    headed: bool = False
    no_sync: bool = False


def _record(settings: Settings, command: str, outcome: Outcome, started: float) -> None:
    message = outcome.error.message if outcome.error else (outcome.summary or "ok")
    doc: dict[str, Any] = {
        "ok": outcome.exit_code == ExitCode.OK,
        "exitCode": int(outcome.exit_code),
        "message": message,
        "durations": {k: round(v, 3) for k, v in outcome.durations.items()},
    }
    doc["durations"]["total"] = round(time.monotonic() - started, 3)
    if outcome.sync is not None:
        doc["sync"] = outcome.sync
    if outcome.error is not None:
        # What the error knows beyond its message (its advice, a spend cap seen instead of limits).
        doc.update({k: v for k, v in outcome.error.to_json().items() if k != "message"})
    with signals.deferred():  # a signal now must not leave state.json half-written
        store.record_outcome(
            settings.state_file, command, sanitize.scrub_all(doc, [settings.api_key])
        )


def _drain_into(
    outcome: Outcome,
    settings: Settings,
    reporter: Reporter,
    *,
    within_run: bool = False,
    shown: str | None = None,
) -> None:
    """Deliver the outbox into `outcome`; `shown` is a hint already printed by the caller."""
    from consolescrape import sync

    started = time.monotonic()
    try:
        report = sync.drain(settings, within_run=within_run)
    except ConsolescrapeError as exc:
        outcome.error, outcome.exit_code = exc, exc.exit_code
        outcome.sync = {"error": exc.message}
        return
    finally:
        outcome.durations["sync"] = time.monotonic() - started
    _take_report(outcome, report, settings, reporter, shown=shown)


def _take_report(
    outcome: Outcome,
    report: sync_module.SyncReport,
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
        outcome.error, outcome.exit_code = report.error, report.exit_code
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


@dataclass
class _Done:
    """What a run has done so far, for its ending: the snapshot it read, the alerts it owes."""

    snapshot: model.Snapshot | None = None
    due: list[Alert] = field(default_factory=list)


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
        children.Record(settings.home) as record,
    ):
        headroom.keep(settings.home)
        try:
            _run(settings, options, reporter, outcome, done, record)
        except BaseException as exc:
            outcome.error = _as_error(exc)
            outcome.exit_code = outcome.error.exit_code
            _end_run(settings, reporter, outcome, done, record, started, failure=exc)
            raise
        _end_run(settings, reporter, outcome, done, record, started)
    return outcome


def _run(
    settings: Settings,
    options: RunOptions,
    reporter: Reporter,
    outcome: Outcome,
    done: _Done,
    record: children.Record,
) -> None:
    started = time.monotonic()
    tracking.preload(settings)
    # The browser, or Claude Code's OAuth usage endpoint (CONSOLESCRAPE_SOURCE).
    snapshot = sources.scrape(
        settings, headed=options.headed, secrets=reporter.secrets, record=record
    )
    outcome.durations["browser"] = time.monotonic() - started
    done.snapshot = snapshot
    tail = _queue_and_save(snapshot, settings, options, reporter)
    done.due = tracking.after_scrape(settings, snapshot, reporter)
    outcome.data = model.to_json(snapshot)
    # Whatever happens to the sync, the user learns that a model row waits for the setting.
    hint = model.model_row_hint(snapshot, settings.model_row)
    if hint:
        reporter.warn(hint)
    if tail is None:
        tail = _send(settings, options, reporter, outcome, shown=hint)
    elif tail == HELD and not options.no_sync and _pending(settings):
        # What waits in the outbox from earlier runs still goes out.
        _drain_into(outcome, settings, reporter, within_run=True, shown=hint)
    outcome.summary = f"{model.summary(snapshot)} · {tail}"


def _pending(settings: Settings) -> bool:
    return bool(store.Outbox(settings.outbox_dir, settings.outbox_cap).pending())


def _end_run(
    settings: Settings,
    reporter: Reporter,
    outcome: Outcome,
    done: _Done,
    record: children.Record,
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
            tracking.afterwards(settings, reporter, ok=ok, due=done.due, record=record)
    except Stopped as stop:
        # A signal now is how the run ends after all: its code is what the files must say.
        outcome.error, outcome.exit_code = stop, stop.exit_code
        with contextlib.suppress(Stopped), signals.deferred():
            _record_run(settings, reporter, outcome, started)
            tracking.write_metrics(settings, outcome.exit_code, reporter, done.snapshot)
        raise


def _record_run(settings: Settings, reporter: Reporter, outcome: Outcome, started: float) -> None:
    """state.json gets this run's outcome, on a full disk too (in the space held back for it);
    when it cannot be written the run says so, and a run that was fine fails with that."""
    try:
        try:
            _record(settings, "run", outcome, started)
        except OSError as fault:
            if not headroom.release(settings.home, fault):
                raise
            _record(settings, "run", outcome, started)
    except OSError as fault:
        reporter.warn(
            f"this run is not recorded in {settings.state_file}: {fault.strerror or fault} "
            "(`consolescrape status` cannot show it)"
        )
        if outcome.error is None:
            outcome.error = environment_fault(fault, "the run's outcome could not be recorded")
            outcome.exit_code = outcome.error.exit_code


def record_unloaded_run(
    flags: dict[str, Any], env_file: Path | None, exc: BaseException, reporter: Reporter
) -> None:
    """A run stopped by its own settings (a bad value: exit 7) is recorded like any other run:
    in state.json, the metrics file and the health ping, as far as the home can be found."""
    from consolescrape import config

    try:
        settings = config.load(flags, env_file=env_file, only=config.RECORDING)
    except (ConsolescrapeError, OSError):
        return  # nothing says where the home is
    error = _as_error(exc)
    outcome = Outcome(exit_code=error.exit_code, error=error)
    try:
        with store.hold_home(settings.home):
            _record_run(settings, reporter, outcome, time.monotonic())
            tracking.write_metrics(settings, outcome.exit_code, reporter)
            tracking.afterwards(settings, reporter, ok=False)
    except (ConsolescrapeError, OSError):
        pass  # another run holds the home, or the home is refused: that run (or error) tells


def _as_error(exc: BaseException) -> ConsolescrapeError:
    """What state.json records for a run that ended in `exc`."""
    if isinstance(exc, ConsolescrapeError):
        return exc
    if isinstance(exc, OSError):
        return environment_fault(exc)
    if isinstance(exc, SystemExit | KeyboardInterrupt):
        return ConsolescrapeError("stopped before it finished")
    return ConsolescrapeError(f"internal error: {type(exc).__name__}: {exc}")


def _queue_and_save(
    snapshot: model.Snapshot, settings: Settings, options: RunOptions, reporter: Reporter
) -> str | None:
    """Queue the snapshot, then save it, with signals held: once it is saved it is queued.

    Returns the summary's sync phrase when there is nothing to send, else None.
    """
    target = options.output or settings.data_file
    progress.phase("saving")
    with signals.deferred():
        try:
            tail = _queue(snapshot, settings, reporter)
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
            doing = "the snapshot was queued for sync, but NOT saved" if tail is None else ""
            raise environment_fault(exc, doing) from None
    return tail


def _queue(snapshot: model.Snapshot, settings: Settings, reporter: Reporter) -> str | None:
    """Put the snapshot in the outbox; the summary's sync phrase when it is not queued."""
    if settings.api_key is None:
        reporter.info("sync skipped: CLAUDE_SYNC_API_KEY is not set (data saved locally only)")
        return "saved (sync not configured)"
    payload = model.to_payload(snapshot, settings.model_row)
    problems = model.validate_payload(payload.body)
    if problems:
        reporter.warn("nothing the server would accept was found: " + "; ".join(problems))
        return "saved, not queued"
    outbox = store.Outbox(settings.outbox_dir, settings.outbox_cap)
    gaps = model.card_gaps(payload) if settings.partial == "hold" else []
    if gaps:
        reporter.warn(
            f"{HELD}: missing {', '.join(gaps)}; saved locally, not sent "
            "(CONSOLESCRAPE_PARTIAL=hold)"
        )
        return HELD
    _, dropped = outbox.add(snapshot, payload.id)
    if dropped:
        reporter.warn(
            f"outbox over its cap of {outbox.cap}: dropped the {len(dropped)} oldest snapshot(s)"
        )
    return None


def _send(
    settings: Settings,
    options: RunOptions,
    reporter: Reporter,
    outcome: Outcome,
    *,
    shown: str | None,
) -> str:
    """Drain the outbox (the snapshot is in it); returns the summary's sync phrase."""
    outbox = store.Outbox(settings.outbox_dir, settings.outbox_cap)
    if options.no_sync:
        return f"queued ({len(outbox.pending())} pending, --no-sync)"
    progress.phase("syncing")
    _drain_into(outcome, settings, reporter, within_run=True, shown=shown)
    if outcome.error is None:
        return "synced"
    if outcome.exit_code == ExitCode.SYNC_PENDING:
        return f"sync pending ({len(outbox.pending())} queued)"
    return "not synced"


HELD = "held (partial)"


def sync(settings: Settings, file: Path | None, reporter: Reporter) -> Outcome:
    """`consolescrape sync`: drain the outbox, or resend exactly one file."""
    from consolescrape import sync as delivery

    started = time.monotonic()
    outcome = Outcome()
    if file is not None:
        # Validate before taking the lock or touching the network: a bad file is exit 2.
        payload = delivery.load_file_payload(file, settings.model_row)
    with store.hold_home(settings.home):
        if file is not None:
            _warn_if_older_than_delivered(settings, file, payload, reporter)
            report = delivery.send_file(settings, file)
            _take_report(outcome, report, settings, reporter)
        else:
            _drain_into(outcome, settings, reporter)
        sent = (outcome.sync or {}).get("sent", 0)
        summary = f"synced {sent} snapshot(s)" if sent else "nothing to sync"
        if outcome.error is None:
            outcome.summary = summary
        _record(settings, "sync", outcome, started)
    if outcome.error is None:
        reporter.info(summary)
    return outcome


def login(
    settings: Settings,
    reporter: Reporter,
    *,
    session_key_stdin: bool,
    timeout: float,
) -> Outcome:
    """Log the persistent profile in: interactively, or from a sessionKey on stdin."""
    from consolescrape import browser

    if session_key_stdin and sys.stdin is None:  # started with its stdin closed (`<&-`)
        raise UsageError(
            "--session-key-stdin: stdin is closed, so there is no session key to read",
            "pipe the value in: consolescrape login --session-key-stdin < FILE",
        )
    with store.hold_home(settings.home):
        if session_key_stdin:
            value = _read_session_key()
            if not value:
                raise UsageError("--session-key-stdin: nothing was read from standard input")
            # Like the API key, the session value is redacted from every line and the result.
            reporter.secrets.append(Secret(value))
            browser.login_with_session_key(settings, value)
        else:
            from consolescrape.browser.chrome import HEADLESS_LOGIN_ADVICE, check_display

            # No screen: say so first, rather than announce a window that cannot open.
            check_display(HEADLESS_LOGIN_ADVICE)
            reporter.info(
                f"a browser window opens on the usage page: log in there (within {timeout:g} s); "
                "it closes by itself once the usage page shows"
            )
            browser.login_interactive(settings, timeout=timeout)
    reporter.info(f"logged in: the profile at {settings.profile} can read the usage page")
    return Outcome(data={"profile": str(settings.profile)})


def _read_session_key() -> str:
    """The sessionKey from stdin: asked for without echo at a terminal, read as is from a pipe."""
    if sys.stdin.isatty():
        import getpass

        # getpass writes the prompt to the terminal itself, never to stdout.
        return getpass.getpass("sessionKey cookie value (not shown as you type): ").strip()
    return sys.stdin.readline().strip()


def status(
    settings: Settings, reporter: Reporter, *, check: bool, max_age: float, as_json: bool
) -> Outcome:
    """`consolescrape status`: show; with --check, a problem is exit 9."""
    from consolescrape import status as view

    found = view.collect(settings, max_age=max_age)
    found.problems = [(what, reporter.advise(fix)) for what, fix in found.problems]
    if not as_json:
        view.render(found, reporter.console)
    outcome = Outcome(data=view.to_json(found))
    if check and found.problems:
        if as_json:
            what = "; ".join(problem for problem, _ in found.problems)
            outcome.error = CheckFailed(what, found.problems[0][1])
        else:  # each problem and its fix are already on screen
            outcome.error = CheckFailed(f"status check failed: {len(found.problems)} problem(s)")
        outcome.exit_code = outcome.error.exit_code
    return outcome


def doctor(settings: Settings, reporter: Reporter, *, online: bool) -> Outcome:
    """`consolescrape doctor`: every check with ✓/✗ and its fix; exit 9 if a required one fails."""
    from consolescrape import doctor as checks

    results = checks.run_checks(settings, online=online)
    for check in results:
        mark = "✓" if check.ok else ("✗" if check.required else "!")
        reporter.line(f"{mark} {check.name}: {check.detail}")
        if not check.ok and check.fix:
            reporter.line(f"    fix: {reporter.advise(check.fix)}")
    if reporter.verbose:
        reporter.console.print(f"  consolescrape {version()}", markup=False)
        for name, value, origin in checks.resolved_settings(settings):
            reporter.line(f"  {name}={value}  ({origin})")
    failed = [c for c in results if c.required and not c.ok]
    outcome = Outcome(
        data={
            "checks": [c.to_json() for c in results],
            "settings": {name: value for name, value, _ in checks.resolved_settings(settings)},
            "version": version(),
        }
    )
    if failed:
        # Each failed check printed its own fix above.
        outcome.error = CheckFailed(
            f"{len(failed)} check(s) failed: {', '.join(c.name for c in failed)}"
        )
        outcome.exit_code = outcome.error.exit_code
    return outcome
