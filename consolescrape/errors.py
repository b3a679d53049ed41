"""Exit codes and the errors shown to the user: each knows its code and its one-line advice."""

from __future__ import annotations

import errno as errnos
import os
import signal
from enum import IntEnum
from typing import Any


class ExitCode(IntEnum):
    """The process exit codes of every command (README, Exit codes)."""

    OK = 0
    INTERNAL = 1
    USAGE = 2
    LOGGED_OUT = 3
    SCRAPE_FAILED = 4
    SYNC_PENDING = 5
    #: The usage site is passing through trouble (an alias of 5: nothing to fix, try again).
    SITE_TROUBLE = 5
    SYNC_REFUSED = 6
    CONFIG = 7
    LOCKED = 8
    CHECK_FAILED = 9
    #: Stopped by a signal: 128 + its number, the convention cron and systemd understand.
    SIGHUP = 129
    SIGINT = 130
    SIGTERM = 143


#: What a plan with a spend cap instead of usage limits is told, by either source.
SPEND_CAP_ADVICE = "consolescrape reads plan usage limits (session, weekly); this plan has none"

#: What to do whenever the profile must be logged in (again): said the same way everywhere.
LOGIN_ADVICE = (
    "run `consolescrape login` (a window), or `consolescrape login --session-key-stdin` on a "
    "machine without a screen"
)


class ConsolescrapeError(Exception):
    """An expected failure: printed as one line (plus advice), never with a traceback."""

    exit_code: ExitCode = ExitCode.INTERNAL

    def __init_subclass__(cls, code: ExitCode | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if code is not None:
            cls.exit_code = code

    def __init__(
        self, message: str, advice: str | None = None, *, code: ExitCode | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.advice = advice
        if code is not None:
            self.exit_code = code

    def to_json(self) -> dict[str, Any]:
        """The error in the --json result and in state.json."""
        return {"message": self.message, "advice": self.advice}


class UsageError(ConsolescrapeError, code=ExitCode.USAGE):
    """Bad arguments or an unreadable/invalid input file; nothing was sent."""


class LoggedOut(ConsolescrapeError, code=ExitCode.LOGGED_OUT):
    """The usage page asks for a login."""


class ScrapeFailed(ConsolescrapeError, code=ExitCode.SCRAPE_FAILED):
    """The browser phase failed: no start, timeout, bot check, no usage section."""


class BotCheck(ScrapeFailed):
    """The site asks the browser to prove it is human (a Cloudflare challenge)."""


class NoPlanLimits(ScrapeFailed):
    """The account has no plan usage limits: a free plan, or a spend cap instead (Enterprise)."""

    def __init__(
        self, message: str, advice: str | None = None, *, spend: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message, advice)
        self.spend = spend

    @classmethod
    def spend_cap(cls, message: str, spend: dict[str, Any]) -> NoPlanLimits:
        """The plan shows a spend cap where the limits would be (Enterprise, credit plans)."""
        return cls(message, SPEND_CAP_ADVICE, spend=spend)

    def to_json(self) -> dict[str, Any]:
        doc = super().to_json()
        if self.spend is not None:
            doc["spend"] = self.spend
        return doc


class SiteTrouble(ConsolescrapeError, code=ExitCode.SITE_TROUBLE):
    """The usage site is passing through trouble (rate limited, a server error, an outage or
    maintenance page) and shows no numbers: the previous data is kept, the next run tries
    again. One line, no debug files; `status --check` stays quiet until the data is stale.
    Either source's endpoint (the site's, or Claude Code's OAuth one) meets it the same way."""

    def __init__(self, message: str, advice: str | None = None) -> None:
        super().__init__(message, advice)

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "siteTrouble": True}


class SyncPending(ConsolescrapeError, code=ExitCode.SYNC_PENDING):
    """A transient sync failure; the data stays in the outbox."""


class SyncRefused(ConsolescrapeError, code=ExitCode.SYNC_REFUSED):
    """The server refused the key (401/403) or the data (400/413)."""


class ConfigError(ConsolescrapeError, code=ExitCode.CONFIG):
    """A setting must be fixed before this can work."""


class Locked(ConsolescrapeError, code=ExitCode.LOCKED):
    """Another consolescrape process holds the lock."""


class CheckFailed(ConsolescrapeError, code=ExitCode.CHECK_FAILED):
    """`status --check` or `doctor` found a problem."""


class EnvironmentFault(ConfigError):
    """The machine refused a file operation (disk full, read-only, a directory in the way...).

    Not a bug: the path and the errno say what to fix, and --json keeps both.
    """

    def __init__(self, message: str, advice: str, *, path: str, errno: int | None) -> None:
        super().__init__(message, advice)
        self.path = path
        self.errno = errno

    def to_json(self) -> dict[str, Any]:
        name = errnos.errorcode.get(self.errno or 0)
        return {**super().to_json(), "path": self.path, "errno": name}


#: errno → the advice for it; {path} and {dir} are filled in.
_FIXES = {
    errnos.ENOSPC: "the disk holding {dir} is full: free some space, then run again",
    errnos.EDQUOT: "your disk quota for {dir} is used up: free some space, then run again",
    errnos.EROFS: "{dir} is on a read-only file system: remount it read-write, or set "
    "CONSOLESCRAPE_HOME to a writable directory",
    errnos.EISDIR: "a directory is where a file belongs: move {path} away",
    errnos.ENOTDIR: "a file is where a directory belongs: move {path} away",
    errnos.EEXIST: "a file is where a directory belongs: move {path} away",
    errnos.EACCES: "you may not write {path}: fix its owner or mode, or set CONSOLESCRAPE_HOME",
    errnos.EPERM: "you may not write {path}: fix its owner or mode, or set CONSOLESCRAPE_HOME",
}


def environment_fault(exc: OSError, doing: str = "") -> EnvironmentFault:
    """What the user is told when a file operation fails: the path, the reason, the fix.

    `doing` says what had been done already (e.g. "saved …, but not queued").
    """
    if exc.filename is None and exc.errno == errnos.ENOENT and _working_dir_gone():
        return EnvironmentFault(
            f"{doing + ': ' if doing else ''}the working directory no longer exists "
            "(it was deleted after this command started in it)",
            "cd to a directory that exists (cron: the job's directory), or pass --home as an "
            "absolute path",
            path=".",
            errno=exc.errno,
        )
    path = str(exc.filename) if exc.filename is not None else "(unknown path)"
    reason = exc.strerror or type(exc).__name__
    fix = _FIXES.get(exc.errno or 0, "check {path}: the system refused to use it")
    prefix = f"{doing}: " if doing else ""
    return EnvironmentFault(
        f"{prefix}{path}: {reason}",
        fix.format(path=path, dir=os.path.dirname(path) or path),
        path=path,
        errno=exc.errno,
    )


def _working_dir_gone() -> bool:
    try:
        os.getcwd()
    except FileNotFoundError:
        return True
    return False


class InternalError(ConsolescrapeError):
    """A bug: anything else a command ended in. Told in one line; the traceback with --verbose."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(f"internal error: {type(cause).__name__}: {cause}")
        self.cause = cause


class Stopped(BaseException):
    """SIGTERM, SIGINT or SIGHUP arrived: the command ends through the usual failure path.

    Not an `Exception`: no handler meant for failures (a debug dump, an optional extra) can
    swallow it; like KeyboardInterrupt it goes up to the one exit path, which tells it as an
    error with exit code 128 + N.
    """

    def __init__(self, signal_number: int) -> None:
        name = signal.Signals(signal_number).name
        self.message = f"stopped by {name} before it finished"
        super().__init__(self.message)
        self.advice = "nothing to fix if you stopped it; queued snapshots are kept for the next run"
        self.exit_code = ExitCode(128 + signal_number)

    def as_error(self) -> ConsolescrapeError:
        """The error told and recorded for it."""
        return ConsolescrapeError(self.message, self.advice, code=self.exit_code)
