"""`consolescrape status --watch`: one line per interval without a terminal, the status view
redrawn in place in one (a pseudo-terminal here), and Ctrl-C ends it with exit 0."""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from conftest import Spawn, processes_mentioning
from test_status import record_failure
from test_status_line import LINE, save, usage

from consolescrape import model

#: Generous: how long a busy machine may take to show what is awaited (never a measurement).
PATIENCE = 90.0


def _default_sigint() -> None:
    # Under nohup (or a CI runner) SIGINT may be ignored, and a child inherits that.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def watch_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "consolescrape", "status", "--watch", *args]


def stopped_by_sigint(proc: subprocess.Popen[str]) -> str:
    """Send SIGINT; what it printed after, once it has ended with exit 0 and no message."""
    proc.send_signal(signal.SIGINT)
    rest, errors = proc.communicate(timeout=PATIENCE)
    assert (proc.returncode, errors) == (0, "")
    return rest


def watching(spawn: Spawn, *args: str) -> subprocess.Popen[str]:
    """`consolescrape status --watch <args>` with its output on pipes (killed after the test)."""
    return spawn("status", "--watch", *args, stdout=subprocess.PIPE, preexec_fn=_default_sigint)


def test_without_a_terminal_it_prints_a_line_per_interval_until_sigint(
    home: Path, spawn: Spawn
) -> None:
    save(home, usage())
    proc = watching(spawn, "0.3")
    assert proc.stdout is not None
    assert [proc.stdout.readline(), proc.stdout.readline()] == [LINE + "\n"] * 2
    assert all(line == LINE for line in stopped_by_sigint(proc).splitlines())
    assert processes_mentioning(home) == [], "watching never starts a browser"


def test_watch_without_seconds_and_with_line_uses_the_default_and_the_template(
    home: Path, spawn: Spawn
) -> None:
    save(home, usage(age=timedelta(minutes=25, seconds=10)))
    proc = watching(spawn, "--format", "{session} {warning}")
    assert proc.stdout is not None
    assert proc.stdout.readline() == "47% (stale 25m)\n"
    stopped_by_sigint(proc)


def test_a_reader_that_goes_away_ends_the_watch_quietly(home: Path, spawn: Spawn) -> None:
    save(home, usage())
    proc = watching(spawn, "0.2")
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline() == LINE + "\n"
    proc.stdout.close()  # as `consolescrape status --watch | head -1` does
    assert proc.wait(timeout=PATIENCE) == 0
    assert proc.stderr.read() == ""


def test_sigterm_ends_the_watch_as_it_ends_every_command(home: Path, spawn: Spawn) -> None:
    save(home, usage())
    proc = watching(spawn, "0.3")
    assert proc.stdout is not None
    assert proc.stdout.readline() == LINE + "\n"
    proc.terminate()
    _, errors = proc.communicate(timeout=PATIENCE)
    assert proc.returncode == 128 + signal.SIGTERM
    assert "stopped by SIGTERM" in errors


class Terminal:
    """The controller side of a pseudo-terminal the watch runs in."""

    def __init__(self, fd: int, pid: int) -> None:
        self.fd = fd
        self.pid = pid
        self.screen = ""

    def read_until(self, done: Callable[[str], bool], *, to_the_end: bool = False) -> str:
        """Everything shown so far, once `done(it)` holds or, `to_the_end`, once the child has
        closed the terminal (fail after PATIENCE)."""
        deadline = time.monotonic() + PATIENCE
        while not done(self.screen):
            left = deadline - time.monotonic()
            assert left > 0, f"not shown in time; the terminal shows: {self.screen[-3000:]!r}"
            if select.select([self.fd], [], [], min(left, 1.0))[0]:
                try:
                    chunk = os.read(self.fd, 65536)
                except OSError:  # EIO: the child closed the terminal
                    chunk = b""
                if not chunk:
                    assert to_the_end, f"ended early: {self.screen[-3000:]!r}"
                    break
                self.screen += chunk.decode(errors="replace")
        return self.screen

    def ctrl_c(self) -> int:
        """Type Ctrl-C (the terminal sends SIGINT); the exit code once the child has ended."""
        os.write(self.fd, b"\x03")
        self.read_until(lambda _: False, to_the_end=True)
        _, status = os.waitpid(self.pid, 0)
        self.code = os.waitstatus_to_exitcode(status)
        return self.code

    code: int | None = None


@contextmanager
def terminal(*args: str) -> Iterator[Terminal]:
    """`consolescrape status --watch <args>` on a pseudo-terminal, killed if still running."""
    command = watch_command(*args)
    pid, fd = pty.fork()
    if pid == 0:  # the child: the terminal is its stdin, stdout and stderr
        try:
            _default_sigint()
            os.environ["COLUMNS"] = "120"
            os.execv(command[0], command)  # noqa: S606 (the test's own interpreter)
        finally:
            os._exit(127)
    shown = Terminal(fd, pid)
    try:
        yield shown
    finally:
        if shown.code is None:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)


def frames(screen: str) -> int:
    return screen.count("Claude usage · updated")


def test_in_a_terminal_it_redraws_the_status_in_place_and_ctrl_c_restores_it(
    home: Path,
) -> None:
    save(home, usage())
    with terminal("0.5") as shown:
        screen = shown.read_until(lambda s: frames(s) >= 3)
        assert "\x1b[1A\x1b[2K" in screen, "each frame is drawn over the previous one"
        assert "Current session" in screen and "47%" in screen and "Ctrl-C" in screen
        assert shown.ctrl_c() == 0
    assert shown.screen.endswith("\x1b[?25h"), "the cursor is shown again"
    assert "Traceback" not in shown.screen and "error" not in shown.screen


def test_in_a_terminal_countdowns_tick_and_a_new_snapshot_is_shown(home: Path) -> None:
    doc = usage()
    soon = datetime.now(UTC) + timedelta(seconds=50)
    doc["currentSession"]["resetsAt"] = model.format_time(soon)
    save(home, doc)

    def countdowns(screen: str) -> set[str]:
        return set(re.findall(r"resets in \d+ s|reset due", screen))

    with terminal("0.5") as shown:
        shown.read_until(lambda s: len(countdowns(s)) >= 2)  # the seconds go down by themselves
        assert "63%" not in shown.screen
        save(home, {**usage(), "currentSession": {"resetsIn": "1 hr", "percentageUsed": 63}})
        shown.read_until(lambda s: "63%" in s)  # a run wrote new data: it is read again
        assert shown.ctrl_c() == 0


def test_in_a_terminal_it_says_the_data_is_stale_and_the_last_run_failed(home: Path) -> None:
    save(home, usage(age=timedelta(minutes=40)))
    record_failure(home, "run", 3, "the usage page asks for a login")
    with terminal("0.5", "--max-age", "15") as shown:
        screen = shown.read_until(lambda s: "last run failed" in s and "data is stale" in s)
        assert "consolescrape login" in screen
        assert shown.ctrl_c() == 0


def test_in_a_terminal_with_a_template_it_prints_lines_instead(home: Path) -> None:
    save(home, usage())
    with terminal("0.5", "--format", "session {session}", "--no-color") as shown:
        screen = shown.read_until(lambda s: s.count("session 47%") >= 2)
        assert "Claude usage" not in screen
        assert shown.ctrl_c() == 0
