"""What a person reads and what a machine reads.

The view a command was asked for (`status`, `history`, `doctor`, `schedule show`) goes to
stdout, through `Reporter.console`; log lines, warnings, advice and progress go to stderr.
With --json, stdout holds only the one JSON object, and a view printed anyway goes to stderr.
"""

from __future__ import annotations

import logging
import re
import shlex
import sys
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

from consolescrape import sanitize

if TYPE_CHECKING:
    from rich.console import Console

    from consolescrape.config import Secret


#: The commands advice names; `schedule` takes a subcommand word of its own.
_COMMAND = re.compile(
    r"\bconsolescrape (?:schedule (?:show|install|remove|status)|"
    r"run|sync|login|status|doctor|history)\b(?! --home)"
)


def repeat_options(text: str, options: list[str]) -> str:
    """`text` with `options` after each `consolescrape <command>` it names."""
    if not options:
        return text
    extra = " " + " ".join(options)
    return _COMMAND.sub(lambda found: found.group(0) + extra, text)


def options_to_repeat(home: Path | None, env_file: Path | None) -> list[str]:
    """The --home/--env-file given on the command line, shell-quoted, as advice repeats them."""
    found: list[str] = []
    if home is not None:
        found += ["--home", shlex.quote(str(home))]
    if env_file is not None:
        found += ["--env-file", shlex.quote(str(env_file))]
    return found


class Reporter:
    """Messages on stderr (rich in a terminal, plain timestamped lines in cron); the view on
    stdout (`console`, `line`), or on stderr with --json (`as_json`)."""

    def __init__(
        self,
        *,
        quiet: bool = False,
        verbose: bool = False,
        stream: IO[str] | None = None,
        as_json: bool = False,
    ) -> None:
        self.quiet = quiet
        self.verbose = verbose
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.as_json = as_json
        self._console: Console | None = None
        self._messages: Console | None = None
        #: the options the command ran with that advice must repeat (`--home DIR`, ...).
        self.invocation: list[str] = []
        #: values redacted from every line, whatever its origin (set once settings are known).
        self.secrets: list[Secret] = []
        _handler.reporter = self
        _ROOT.setLevel(logging.DEBUG if verbose else logging.INFO)

    def scrub(self, text: str) -> str:
        """The last line of defence: no control characters and no secret reach the output."""
        return sanitize.scrub(text, self.secrets)

    @property
    def console(self) -> Console:
        """The view's rich console on stdout (stderr with --json), created on first use
        (importing rich costs start-up time). Lines reach the stream without trailing blanks,
        and wrap at word boundaries to the terminal's width (COLUMNS honoured)."""
        if self._console is None:
            from rich.console import Console

            target = self.stream if self.as_json else sys.stdout
            trimmed = cast("IO[str]", TrimmedLines(target))
            self._console = Console(file=trimmed, highlight=False)
        return self._console

    @property
    def messages(self) -> Console:
        """The rich console of log lines and progress, on stderr."""
        if self._messages is None:
            from rich.console import Console

            self._messages = Console(file=self.stream, soft_wrap=True, highlight=False)
        return self._messages

    def advise(self, text: str) -> str:
        """`text` with every `consolescrape <command>` in it given the options this command ran
        with (`--home`, `--env-file`), so advice followed literally acts on the same home."""
        return repeat_options(text, self.invocation)

    def _emit(self, level: str, message: str, style: str) -> None:
        message = self.scrub(message)
        if self.tty:
            from rich.markup import escape

            prefix = f"[{style}]{level}:[/] " if level else ""
            self.messages.print(prefix + escape(message))
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
            self._emit("fix", self.advise(advice), "cyan")

    def line(self, text: str) -> None:
        """A plain line of the view (doctor's checks), printed even under --quiet; never broken
        by the view's wrapping, so a path or a command in it can be copied whole."""
        self.console.print(self.scrub(text), markup=False, soft_wrap=True)

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


#: Blanks at the end of a line, before any closing colour codes (kept).
_TRAILING_BLANKS = re.compile(r"[ \t]+((?:\x1b\[[0-9;]*m)*)$", re.MULTILINE)


class TrimmedLines:
    """A text stream that drops the blanks rich pads a table's last column with."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self._pending = ""

    def write(self, text: str) -> int:
        done, newline, self._pending = (self._pending + text).rpartition("\n")
        if newline:
            self.stream.write(_TRAILING_BLANKS.sub(r"\1", done) + "\n")
        return len(text)

    def flush(self) -> None:
        if self._pending:
            self.stream.write(_TRAILING_BLANKS.sub(r"\1", self._pending))
            self._pending = ""
        self.stream.flush()

    def isatty(self) -> bool:
        return self.stream.isatty()

    def fileno(self) -> int:
        return self.stream.fileno()

    @property
    def encoding(self) -> str:
        return getattr(self.stream, "encoding", "utf-8")


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
