"""One command's life once its options are known: load the settings, run the job, tell its
outcome, and return its exit code (README's table).

Both doors come here: typer's (`cli`) and the one that answers `sync` before typer is imported
(`fast`). Nothing here imports typer.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from consolescrape.errors import (
    CheckFailed,
    ConfigError,
    ConsolescrapeError,
    ExitCode,
    InternalError,
    Stopped,
)

if TYPE_CHECKING:
    from consolescrape.config import Settings
    from consolescrape.outcome import Outcome
    from consolescrape.output import Reporter


@dataclass(frozen=True)
class Common:
    """The options every command takes."""

    home: Path | None = None
    env_file: Path | None = None
    json: bool = False
    quiet: bool = False
    verbose: bool = False


#: A command's work: what it does with the settings loaded, or without (`needs_settings=False`).
Job = Callable[..., "Outcome"]


def execute(
    command: str,
    common: Common,
    job: Job,
    *,
    flags: dict[str, Any] | None = None,
    needs_settings: bool = True,
    log_file: Path | None = None,
    checking: bool = False,
    unloaded: Callable[[BaseException, Reporter], None] | None = None,
) -> int:
    """Load settings, run the job, tell its outcome; the exit code.

    `job(settings, reporter)`, or `job(reporter)` when it loads its own settings (several
    homes). `checking`: the command is a check (`status --check`), whose answer to a bad
    setting is its own exit code (9), not the configuration error's (7) that cron would read
    as a run's. `unloaded` is told when the settings themselves stop the command.
    """
    # Loaded when a command runs, not for --help: state.json's writer comes with the outcome.
    from consolescrape import signals
    from consolescrape.outcome import Outcome, as_error
    from consolescrape.output import Reporter, options_to_repeat

    unlogged = None
    if log_file is not None:
        from consolescrape import logfile

        unlogged = logfile.redirect_stderr(log_file)
    reporter = Reporter(
        quiet=common.quiet or common.json, verbose=common.verbose, as_json=common.json
    )
    reporter.invocation = options_to_repeat(common.home, common.env_file)
    if unlogged:
        reporter.warn(unlogged)
    # From here a signal is an error like any other (exit 128 + N), and while the result is
    # being told it waits, so the one JSON object is always whole.
    told = False
    with signals.handled():
        try:
            signals.raise_held()  # one that came while the handlers went in
            outcome = _outcome(
                common, flags or {}, job, reporter, needs_settings, checking, unloaded
            )
            with signals.deferred():
                _tell(command, common, reporter, outcome)
                told = True
        except Stopped as stop:
            # A signal after the result was told changes nothing: the command had finished.
            # One before it (between the job's end and the telling) is the command's result.
            if not told:
                outcome = Outcome.failed(as_error(stop))
                with contextlib.suppress(Stopped), signals.deferred():
                    _tell(command, common, reporter, outcome)
    return int(outcome.exit_code)


def _outcome(
    common: Common,
    flags: dict[str, Any],
    job: Job,
    reporter: Reporter,
    needs_settings: bool,
    checking: bool,
    unloaded: Callable[[BaseException, Reporter], None] | None,
) -> Outcome:
    """Run the job; every way it can end, but a signal, becomes its outcome (`as_error`)."""
    from consolescrape.outcome import Outcome, as_error

    try:
        if not needs_settings:
            return job(reporter)
        try:
            settings = _load_settings(common, flags, checking)
        except (ConsolescrapeError, OSError) as exc:
            if unloaded is not None:
                unloaded(exc, reporter)
            raise
        reporter.secrets = [settings.api_key] if settings.api_key else []
        return job(settings, reporter)
    except (Exception, KeyboardInterrupt) as exc:  # Stopped is neither: execute tells it
        return Outcome.failed(as_error(exc))


def _load_settings(common: Common, flags: dict[str, Any], checking: bool) -> Settings:
    from consolescrape import config

    try:
        return config.load({"home": common.home, **flags}, env_file=common.env_file)
    except ConfigError as exc:
        if not checking:
            raise
        # The message names the setting; a monitor reads the check's own exit code.
        raise CheckFailed(f"a setting is invalid: {exc.message}", exc.advice) from None


def _tell(command: str, common: Common, reporter: Reporter, outcome: Outcome) -> None:
    from consolescrape.output import print_result

    error = outcome.error
    if isinstance(error, InternalError):
        reporter.exception(error.cause)  # in its own words, the traceback with --verbose
    elif error is not None:
        if outcome.exit_code == ExitCode.LOCKED:
            # Cron started a run while the last one still works: normal, not a failure to fix.
            reporter.info(error.message)
        else:
            reporter.error(error.message, error.advice)
    if common.json:
        shown = error.to_json() if error else None
        if shown and shown.get("advice"):
            shown["advice"] = reporter.advise(shown["advice"])
        print_result(
            command,
            int(outcome.exit_code),
            data=outcome.data,
            sync=outcome.sync,
            error=shown,
            secrets=reporter.secrets,
        )
