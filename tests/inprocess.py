"""`consolescrape` run in the test's own process, for CLI behaviour that needs no process.

A subprocess costs ~0.2 s before the command does anything (the interpreter, typer, rich). What
a view prints, how options are parsed, a usage error, help and the `--json` object are the same
when the command runs here through typer's CliRunner, as `python -m consolescrape` would run it
(`consolescrape.__main__.main`: the `status --line` fast path, then the typer app).

What only a real process shows keeps one: a run's exit code (`run`, `sync`, `login`, `demo`),
signals, locks and deadlines, the browser, the crontab and systemd (`schedule install|remove`),
a stderr pointed at a file (`--log-file`), the live view (`--watch`), and the completion script.
`can_run` says which; the `cli` fixture (conftest.py) asks it in tests marked `inprocess`.

The command must leave this process as it found it: the environment, the working directory,
the signal handlers (the command installs its own, consolescrape.signals), sys.argv and the
standard streams (and fds 0-2), logging, and no thread of its own still running. `run` checks
each and fails the test when one changed. One thing the package does not undo is put back
here: a Reporter makes itself the log handler's target and sets the package logger's level.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from typer._click import formatting
from typer.main import get_command
from typer.testing import CliRunner

import consolescrape.__main__
from consolescrape import output, progress, signals, status_line
from consolescrape.cli import app
from consolescrape.invocation import with_interval

#: Commands whose behaviour is the process's: exit code of a real run, signals, locks, browser.
REAL_COMMANDS = frozenset({"run", "sync", "login", "demo"})
#: `schedule` subcommands that change the machine's crontab or systemd units.
REAL_SCHEDULE = frozenset({"install", "remove"})
#: Options that act on the process itself (its stderr, a terminal, a browser, the shell).
REAL_OPTIONS = frozenset(
    {"--log-file", "--watch", "--online", "--show-completion", "--install-completion"}
)
#: How click names the program for `python -m consolescrape` (usage lines, help).
PROG_NAME = "python -m consolescrape"
#: Signals whose handlers a command may change, and must put back.
SIGNALS = ("SIGTERM", "SIGINT", "SIGHUP", "SIGALRM", "SIGPIPE", "SIGCHLD")
#: How long a thread the command started may take to end after it returned.
THREAD_GRACE = 5.0


def can_run(args: Sequence[str]) -> bool:
    """Whether `consolescrape *args` shows all it does without a process of its own."""
    words = [arg for arg in args if not arg.startswith("-")]
    command = words[0] if words else None
    if command in REAL_COMMANDS or any(arg.split("=")[0] in REAL_OPTIONS for arg in args):
        return False
    return not (command == "schedule" and len(words) > 1 and words[1] in REAL_SCHEDULE)


def run(
    args: Sequence[str], *, env: dict[str, str] | None = None, stdin: str | None = None
) -> tuple[int, str, str]:
    """`python -m consolescrape *args` here: (exit code, stdout, stderr)."""
    assert can_run(args), f"`consolescrape {' '.join(args)}` needs a process of its own"
    before = _State.now()
    runner = CliRunner()
    try:
        with (
            _as_launched(args),
            _logging_put_back(),
            runner.isolation(input=stdin, env=env) as (out, err, _),
        ):
            # CliRunner wraps help at 80 columns; the real process at what the terminal has.
            formatting.FORCED_WIDTH = None
            try:
                code = _main(list(args))
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
            stdout, stderr = out.getvalue().decode(), err.getvalue().decode()
    finally:
        _State.now().assert_same_as(before)
    return code, stdout, stderr


def _main(args: list[str]) -> int:
    """What `consolescrape.__main__.main` does with `args`, as an exit code."""
    try:
        if args[:1] == ["status"]:
            code = status_line.fast(args[1:])
            if code is not None:
                return code
        get_command(app).main(args=with_interval(args), prog_name=PROG_NAME)
    except SystemExit as exit:
        return _exit_code(exit.code)
    return 0


def _exit_code(code: object) -> int:
    """As the interpreter turns SystemExit's argument into the process's exit status."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    sys.stderr.write(f"{code}\n")
    return 1


@contextlib.contextmanager
def _as_launched(args: Sequence[str]) -> Iterator[None]:
    """sys.argv as `python -m consolescrape` has it (`schedule` writes the program's path)."""
    saved = sys.argv
    sys.argv = [consolescrape.__main__.__file__, *args]
    try:
        yield
    finally:
        sys.argv = saved


@contextlib.contextmanager
def _logging_put_back() -> Iterator[None]:
    """The log handler's Reporter and the package logger's level, as they were: a Reporter
    sets both and leaves them (in a process that ends with the command, nothing else runs)."""
    package = logging.getLogger("consolescrape")
    reporter, level = output._handler.reporter, package.level
    try:
        yield
    finally:
        output._handler.reporter = reporter
        package.setLevel(level)


def _fd(number: int) -> tuple[int, int] | None:
    try:
        found = os.fstat(number)
    except OSError:
        return None
    return found.st_dev, found.st_ino


@dataclass
class _State:
    """What a command run here must leave as it found it."""

    environ: dict[str, str]
    cwd: str
    handlers: dict[str, Any]
    streams: tuple[object, ...]
    argv: list[str]
    fds: tuple[tuple[int, int] | None, ...]
    loggers: dict[str, tuple[list[logging.Handler], int, bool]]
    threads: set[threading.Thread]
    module_state: tuple[object, ...]

    @classmethod
    def now(cls) -> _State:
        names = ["", "consolescrape", *sorted(logging.root.manager.loggerDict)]
        loggers = {}
        for name in names:
            logger = logging.getLogger(name)
            loggers[name] = (list(logger.handlers), logger.level, logger.propagate)
        return cls(
            environ=dict(os.environ),
            cwd=os.getcwd(),
            handlers={
                name: signal.getsignal(getattr(signal, name))
                for name in SIGNALS
                if hasattr(signal, name)
            },
            streams=(sys.stdin, sys.stdout, sys.stderr, sys.excepthook),
            argv=list(sys.argv),
            fds=tuple(_fd(n) for n in (0, 1, 2)),
            loggers=loggers,
            threads=set(threading.enumerate()),
            module_state=(signals._deferring, signals._pending, progress._line, progress._live),
        )

    def assert_same_as(self, before: _State) -> None:
        started = [t for t in self.threads - before.threads if t.is_alive()]
        for thread in started:
            thread.join(THREAD_GRACE)
        assert not [t for t in started if t.is_alive()], f"threads left running: {started}"
        changed = {
            key: value for key, value in self.environ.items() if before.environ.get(key) != value
        }
        gone = set(before.environ) - set(self.environ)
        assert not changed and not gone, f"the environment changed: {sorted(changed)} {gone}"
        assert self.cwd == before.cwd, "the working directory changed"
        assert self.handlers == before.handlers, "signal handlers were not put back"
        assert self.streams == before.streams, "sys.stdin/stdout/stderr/excepthook replaced"
        assert self.argv == before.argv, "sys.argv changed"
        assert self.fds == before.fds, "a standard file descriptor was redirected"
        for name, kept in before.loggers.items():
            assert self.loggers.get(name) == kept, f"logger {name!r} changed"
        assert self.module_state == before.module_state, "signal or progress state left set"
