"""Exit codes and the errors shown to the user: each knows its code and its one-line advice."""

from __future__ import annotations

from enum import IntEnum
from typing import Any


class ExitCode(IntEnum):
    """The process exit codes of every command (SPEC §6)."""

    OK = 0
    INTERNAL = 1
    USAGE = 2
    LOGGED_OUT = 3
    SCRAPE_FAILED = 4
    SYNC_PENDING = 5
    SYNC_REFUSED = 6
    CONFIG = 7
    LOCKED = 8
    CHECK_FAILED = 9


class ConsolescrapeError(Exception):
    """An expected failure: printed as one line (plus advice), never with a traceback."""

    exit_code: ExitCode = ExitCode.INTERNAL

    def __init__(self, message: str, advice: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.advice = advice

    def to_json(self) -> dict[str, Any]:
        """The error in the --json result and in state.json."""
        return {"message": self.message, "advice": self.advice}


class UsageError(ConsolescrapeError):
    """Bad arguments or an unreadable/invalid input file; nothing was sent."""

    exit_code = ExitCode.USAGE


class LoggedOut(ConsolescrapeError):
    """The usage page asks for a login."""

    exit_code = ExitCode.LOGGED_OUT


class ScrapeFailed(ConsolescrapeError):
    """The browser phase failed: no start, timeout, bot check, no usage section."""

    exit_code = ExitCode.SCRAPE_FAILED


class NoPlanLimits(ScrapeFailed):
    """The account has no plan usage limits: a free plan, or a spend cap instead (Enterprise)."""

    def __init__(
        self, message: str, advice: str | None = None, *, spend: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message, advice)
        self.spend = spend

    def to_json(self) -> dict[str, Any]:
        doc = super().to_json()
        if self.spend is not None:
            doc["spend"] = self.spend
        return doc


class SyncPending(ConsolescrapeError):
    """A transient sync failure; the data stays in the outbox."""

    exit_code = ExitCode.SYNC_PENDING


class SyncRefused(ConsolescrapeError):
    """The server refused the key (401/403) or the data (400/413)."""

    exit_code = ExitCode.SYNC_REFUSED


class ConfigError(ConsolescrapeError):
    """A setting must be fixed before this can work."""

    exit_code = ExitCode.CONFIG


class Locked(ConsolescrapeError):
    """Another consolescrape process holds the lock."""

    exit_code = ExitCode.LOCKED


class CheckFailed(ConsolescrapeError):
    """`status --check` or `doctor` found a problem."""

    exit_code = ExitCode.CHECK_FAILED
