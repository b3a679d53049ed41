"""`consolescrape status --watch [SECONDS]`: the status kept up to date until Ctrl-C.

In a terminal, the normal `status` view redrawn in place (rich `Live`) every second, so the
countdowns tick; the files are looked at every SECONDS and read again only when they changed.
Without a terminal (or with `--line`), one `status --line` per interval. It never scrapes and
takes no lock: it only reads what `run` writes (atomically).
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from consolescrape import config, signals, status_line
from consolescrape import status as facts
from consolescrape.errors import ExitCode, Stopped
from consolescrape.outcome import Outcome
from consolescrape.status import Status
from consolescrape.status_line import LineOptions
from consolescrape.views import status as view

if TYPE_CHECKING:
    from pathlib import Path

    from consolescrape.config import Settings

#: How often the view is redrawn at most, seconds: the countdowns' pace.
TICK = 1.0


def watch(options: LineOptions, *, every: float, lines: bool) -> Outcome:
    """Show until SIGINT (exit 0); another signal ends it as it ends every command."""
    try:
        if lines or not sys.stdout.isatty():
            _print_lines(options, every)
        else:
            _redraw(options, every)
    except Stopped as stop:
        if stop.exit_code != ExitCode.SIGINT:
            raise
    except BrokenPipeError:  # `… --watch | head -3`: the reader has seen enough
        _silence_stdout()
    return Outcome()


def _print_lines(options: LineOptions, every: float) -> None:
    if options.template is not None:
        status_line.check_template(options.template)
    settings = status_line.settings_for(options.homes, options.env_file)
    color = status_line.wants_color(options.color)
    while True:
        line = status_line.text(
            [status_line.read(one) for one in settings],
            datetime.now(UTC),
            max_age=options.max_age * 60,
            template=options.template,
            color=color,
        )
        with signals.deferred():  # a line is printed whole or not at all
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
        time.sleep(every)


class _Watched:
    """One home's status: read again when its files change, its clock moved on every frame."""

    def __init__(self, settings: Settings, max_age: float) -> None:
        self.settings = settings
        self.max_age = max_age
        self._seen: tuple[tuple[int, int, int] | None, ...] | None = None
        self._status: Status | None = None

    def _files(self) -> tuple[tuple[int, int, int] | None, ...]:
        """What `run` and `sync` change: the snapshot, state.json, the outbox, the history."""
        s = self.settings
        return tuple(_stamp(p) for p in (s.data_file, s.state_file, s.outbox_dir, s.history_file))

    def look(self) -> None:
        seen = self._files()
        if seen != self._seen:
            self._status = facts.collect(self.settings, max_age=self.max_age)
            self._seen = seen

    def now(self, moment: datetime) -> Status:
        """The status as of `moment`: countdowns, the data's age and staleness recomputed."""
        if self._status is None:
            self.look()
        assert self._status is not None
        current = dataclasses.replace(self._status, now=moment, problems=[], hint=None)
        facts.assess(current, self.settings)
        return current


def _stamp(path: Path) -> tuple[int, int, int] | None:
    """Enough to see a change, an atomic replace included (a new inode)."""
    try:
        found = path.stat()
    except OSError:
        return None
    return (found.st_ino, found.st_mtime_ns, found.st_size)


class _Collect:
    """Stands in for the console `status.render` prints to, keeping each thing it prints for
    one frame of the live view."""

    def __init__(self, console: Any) -> None:
        self._console = console
        self.parts: list[Any] = []

    def print(self, *objects: Any, markup: bool | None = None, **_: Any) -> None:
        for thing in objects:
            if isinstance(thing, str):
                thing = self._console.render_str(thing, markup=markup)
            self.parts.append(thing)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._console, name)


def _frame(watched: list[_Watched], every: float, console: Any, *, last: bool = False) -> Any:
    from rich.console import Group
    from rich.text import Text

    moment = datetime.now(UTC)
    collect = _Collect(console)
    for one in watched:
        if len(watched) > 1:
            collect.print(f"── {one.settings.home} ──", markup=False, soft_wrap=True)
        view.render(one.now(moment), collect)
    if not last:
        collect.print(Text(f"watching: files checked every {every:g} s · Ctrl-C to stop", "dim"))
    return Group(*collect.parts)


def _redraw(options: LineOptions, every: float) -> None:
    from rich.console import Console
    from rich.live import Live

    homes: list[Path | None] = list(options.homes) or [None]
    watched = [
        _Watched(config.load({"home": home}, env_file=options.env_file), options.max_age * 60)
        for home in homes
    ]
    console = Console(highlight=False)
    next_look = 0.0
    with Live(
        console=console, auto_refresh=False, redirect_stdout=False, redirect_stderr=False
    ) as live:
        try:
            while True:
                if time.monotonic() >= next_look:
                    for one in watched:
                        one.look()
                    next_look = time.monotonic() + every
                frame = _frame(watched, every, console)
                with signals.deferred():  # a frame is drawn whole
                    live.update(frame, refresh=True)
                time.sleep(min(TICK, every))
        finally:  # the screen keeps the data, without "Ctrl-C to stop"
            with signals.deferred():
                live.update(_frame(watched, every, console, last=True))


def _silence_stdout() -> None:
    """After the reader went away, the interpreter's last flush must not complain about it."""

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
