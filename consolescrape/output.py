"""What a person reads (stderr) and what a machine reads (one JSON object on stdout)."""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any

from consolescrape import sanitize

if TYPE_CHECKING:
    from rich.console import Console

    from consolescrape.config import Secret


class Reporter:
    """Messages on stderr: rich in a terminal, plain timestamped lines in cron."""

    def __init__(
        self, *, quiet: bool = False, verbose: bool = False, stream: IO[str] | None = None
    ) -> None:
        self.quiet = quiet
        self.verbose = verbose
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self._console: Console | None = None
        #: values redacted from every line, whatever its origin (set once settings are known).
        self.secrets: list[Secret] = []
        _handler.reporter = self
        _ROOT.setLevel(logging.DEBUG if verbose else logging.INFO)

    def scrub(self, text: str) -> str:
        """The last line of defence: no control characters and no secret reach the output."""
        return sanitize.scrub(text, self.secrets)

    @property
    def console(self) -> Console:
        """The rich console, created on first use (importing rich costs start-up time)."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(file=self.stream, soft_wrap=True, highlight=False)
        return self._console

    def _emit(self, level: str, message: str, style: str) -> None:
        message = self.scrub(message)
        if self.tty:
            from rich.markup import escape

            prefix = f"[{style}]{level}:[/] " if level else ""
            self.console.print(prefix + escape(message))
        else:
            stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            prefix = f"{level}: " if level else ""
            self.stream.write(f"{stamp} consolescrape {prefix}{message}\n")
            self.stream.flush()

    def info(self, message: str) -> None:
        if not self.quiet:
            self._emit("", message, "")

    def debug(self, message: str) -> None:
        if self.verbose:
            self._emit("debug", message, "dim")

    def warn(self, message: str) -> None:
        self._emit("warning", message, "yellow")

    def error(self, message: str, advice: str | None = None) -> None:
        self._emit("error", message, "bold red")
        if advice:
            self._emit("fix", advice, "cyan")

    def line(self, text: str) -> None:
        """A plain line of a report (doctor's checks), printed even under --quiet."""
        self.console.print(self.scrub(text), markup=False)

    def exception(self, exc: BaseException) -> None:
        """An internal bug: one line, the traceback only with --verbose."""
        self.error(
            f"internal error: {type(exc).__name__}: {exc}",
            None if self.verbose else "run again with --verbose for the traceback",
        )
        if self.verbose:
            text = "".join(traceback.format_exception(exc))
            self.stream.write("".join(self.scrub(line) + "\n" for line in text.splitlines()))


class Streamed:
    """`data` too large to hold as one document (a year of `history --json` rows): it writes
    its own JSON text, in pieces, into the result object, each string in it scrubbed."""

    def write_json(self, write: Callable[[str], object], secrets: list[Secret]) -> None:
        raise NotImplementedError


def print_result(
    command: str,
    exit_code: int,
    *,
    data: Any = None,
    sync: Any = None,
    error: Any = None,
    secrets: list[Secret] | None = None,
) -> None:
    """The single --json result object on stdout, every text in it scrubbed."""
    doc: dict[str, Any] = {"ok": exit_code == 0, "exitCode": exit_code, "command": command}
    if isinstance(data, Streamed):
        _print_streamed(doc, data, sync, error, secrets or [])
        return
    if data is not None:
        doc["data"] = data
    if sync is not None:
        doc["sync"] = sync
    if error is not None:
        doc["error"] = error
    sys.stdout.write(sanitize.dumps(doc, secrets or []) + "\n")
    sys.stdout.flush()


def _print_streamed(
    doc: dict[str, Any], data: Streamed, sync: Any, error: Any, secrets: list[Secret]
) -> None:
    """The result object as print_result writes it, with `data` written by itself."""
    write = sys.stdout.write
    write(sanitize.dumps(doc, secrets)[:-1] + ', "data": ')
    data.write_json(write, secrets)
    for key, value in (("sync", sync), ("error", error)):
        if value is not None:
            write(f', "{key}": {sanitize.dumps(value, secrets)}')
    write("}\n")
    sys.stdout.flush()


class _ToReporter(logging.Handler):
    """Log records of consolescrape's modules, rendered by the current Reporter.

    DEBUG lines show with --verbose, INFO as messages (not with --quiet), WARNING and above
    always: the same look in a terminal and in cron as every other line.
    """

    reporter: Reporter | None = None

    def emit(self, record: logging.LogRecord) -> None:
        reporter = self.reporter
        if reporter is None:
            return
        message = record.getMessage()
        if record.levelno >= logging.WARNING:
            reporter.warn(message)
        elif record.levelno >= logging.INFO:
            reporter.info(message)
        else:
            reporter.debug(message)


_handler = _ToReporter()
_ROOT = logging.getLogger("consolescrape")
_ROOT.addHandler(_handler)
