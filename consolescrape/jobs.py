"""The `run`, `sync` and `login` jobs: lock → scrape → save → queue → deliver, with state kept."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from consolescrape import model, progress, sanitize, signals, store, tracking, version
from consolescrape.config import Secret, Settings
from consolescrape.errors import (
    LOGIN_ADVICE,
    CheckFailed,
    ConsolescrapeError,
    ExitCode,
    Locked,
    LoggedOut,
    UsageError,
    environment_fault,
)
from consolescrape.output import Reporter

if TYPE_CHECKING:
    from consolescrape import sync as sync_module


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
        store.record_delivered(settings.state_file, report.newest_sent)


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


def run(settings: Settings, options: RunOptions, reporter: Reporter) -> Outcome:
    """One cron tick: scrape once, save, queue and deliver, then the health ping."""
    from consolescrape.config import unknown_warnings

    for warning in unknown_warnings(settings):
        reporter.warn(warning)
    with progress.shown(reporter):
        try:
            outcome = _run(settings, options, reporter)
        except Locked:
            raise  # the run that holds the lock will ping; an overlap is not a failure
        except BaseException as exc:
            _ping(settings, reporter, ok=False)
            tracking.after_run(settings, _as_error(exc).exit_code, reporter)
            raise
        _ping(settings, reporter, ok=outcome.exit_code == ExitCode.OK)
    tracking.after_run(settings, outcome.exit_code, reporter, outcome.data)
    return outcome


def _ping(settings: Settings, reporter: Reporter, *, ok: bool) -> None:
    if settings.healthcheck_url:
        from consolescrape import sync

        progress.phase("pinging the health check")
        if not sync.ping_health(settings.healthcheck_url, ok=ok):
            reporter.warn("health ping failed (the run's result is unchanged)")


def _run(settings: Settings, options: RunOptions, reporter: Reporter) -> Outcome:
    from consolescrape import browser

    started = time.monotonic()
    outcome = Outcome()
    with store.hold_home(settings.home):
        try:
            if not settings.profile.is_dir():
                # No profile means no login yet: say so without starting a browser for nothing.
                raise LoggedOut(
                    f"not logged in yet: there is no browser profile at {settings.profile}",
                    LOGIN_ADVICE,
                )
            tracking.preload(settings)
            snapshot = browser.scrape(settings, headed=options.headed)
            outcome.durations["browser"] = time.monotonic() - started
            target = options.output or settings.data_file
            progress.phase("saving")
            store.save_snapshot(target, snapshot)
            tracking.after_scrape(settings, snapshot, reporter)
            outcome.data = model.to_json(snapshot)
            tail = _queue_and_send(snapshot, settings, options, reporter, outcome)
        except BaseException as exc:
            outcome.error = _as_error(exc)
            outcome.exit_code = outcome.error.exit_code
            try:
                _record(settings, "run", outcome, started)
            except OSError as fault:  # the first failure is the one to report; say this too
                reporter.warn(f"not recorded in {settings.state_file}: {fault.strerror}")
            raise
        summary = outcome.summary = f"{model.summary(snapshot)} · {tail}"
        _record(settings, "run", outcome, started)
    if outcome.error is None:
        reporter.info(summary)
    else:
        reporter.warn(summary)
    return outcome


def _as_error(exc: BaseException) -> ConsolescrapeError:
    """What state.json records for a run that ended in `exc`."""
    if isinstance(exc, ConsolescrapeError):
        return exc
    if isinstance(exc, OSError):
        return environment_fault(exc)
    if isinstance(exc, SystemExit | KeyboardInterrupt):
        return ConsolescrapeError("stopped before it finished")
    return ConsolescrapeError(f"internal error: {type(exc).__name__}: {exc}")


def _queue_and_send(
    snapshot: model.Snapshot,
    settings: Settings,
    options: RunOptions,
    reporter: Reporter,
    outcome: Outcome,
) -> str:
    """Put the snapshot in the outbox and drain it; returns the summary's sync phrase."""
    # Whatever happens to the sync, the user learns that a model row waits for the setting.
    hint = model.model_row_hint(snapshot, settings.model_row)
    if hint:
        reporter.warn(hint)
    if settings.api_key is None:
        reporter.info("sync skipped: CLAUDE_SYNC_API_KEY is not set (data saved locally only)")
        return "saved (sync not configured)"
    payload = model.to_payload(snapshot, settings.model_row)
    problems = model.validate_payload(payload.body)
    if problems:
        reporter.warn("nothing the server would accept was found: " + "; ".join(problems))
        return "saved, not queued"
    outbox = store.Outbox(settings.outbox_dir, settings.outbox_cap)
    try:
        _, dropped = outbox.add(snapshot, payload.id)
    except OSError as exc:
        raise environment_fault(exc, "the snapshot was saved, but NOT queued for sync") from None
    if dropped:
        reporter.warn(
            f"outbox over its cap of {outbox.cap}: dropped the {len(dropped)} oldest snapshot(s)"
        )
    if options.no_sync:
        return f"queued ({len(outbox.pending())} pending, --no-sync)"
    progress.phase("syncing")
    _drain_into(outcome, settings, reporter, within_run=True, shown=hint)
    if outcome.error is None:
        return "synced"
    if outcome.exit_code == ExitCode.SYNC_PENDING:
        return f"sync pending ({len(outbox.pending())} queued)"
    return "not synced"


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
