"""What a command ended with, and the one way anything it ended in becomes the error it tells.

Every command returns an `Outcome`; every exception on the way out goes through `as_error`, so
what is printed, what `--json` says and what state.json records (`record`) are the same error.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from consolescrape import sanitize, signals, store
from consolescrape.config import Settings
from consolescrape.errors import (
    ConsolescrapeError,
    ExitCode,
    InternalError,
    Stopped,
    environment_fault,
)


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

    @classmethod
    def failed(cls, error: ConsolescrapeError, **more: Any) -> Outcome:
        return cls(exit_code=error.exit_code, error=error, **more)

    def fail(self, error: ConsolescrapeError) -> None:
        """This error sets the outcome's code from now on."""
        self.error, self.exit_code = error, error.exit_code


def as_error(exc: BaseException) -> ConsolescrapeError:
    """The error a command that ended in `exc` tells and records.

    Ours as they are; a signal with its 128 + N; the machine refusing a file (disk full,
    read-only) as the environment's fault with the path and the fix; anything else is a bug.
    """
    if isinstance(exc, ConsolescrapeError):
        return exc
    if isinstance(exc, Stopped):
        return exc.as_error()
    if isinstance(exc, OSError):
        return environment_fault(exc)
    if isinstance(exc, KeyboardInterrupt | SystemExit):
        return ConsolescrapeError("stopped before it finished", code=ExitCode.INTERNAL)
    return InternalError(exc)


def record(settings: Settings, command: str, outcome: Outcome, started: float) -> None:
    """state.json gets how `command` ended (`started`: its monotonic start), key scrubbed."""
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
