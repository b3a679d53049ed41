"""The status line a person sees while `run` works in a terminal: the phase and the time so far.

Only in a terminal, and not with --quiet or --json: cron's log gets nothing extra. The line is
drawn on stderr by the same rich console as the log lines, which print above it, and it is
gone when the run ends. Code deep in a run names its phase with `phase(...)`, a no-op when no
line is shown (doctor --online, tests), so nothing has to be passed down for it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.live import Live

    from consolescrape.output import Reporter


class _Line:
    """What the line says, worked out each time rich redraws it (so the seconds tick)."""

    def __init__(self) -> None:
        self.began = time.monotonic()
        self.phase = "starting"

    def __rich__(self) -> str:
        return f"{self.phase} · {time.monotonic() - self.began:.0f} s"


_line: _Line | None = None
_live: Live | None = None


def phase(name: str) -> None:
    """The command is now doing `name` ("loading the page"); shown if a line is shown."""
    if _line is not None and _live is not None:
        _line.phase = name
        _live.refresh()


@contextlib.contextmanager
def shown(reporter: Reporter) -> Iterator[None]:
    """Show the status line for the duration of the block, when a person is watching."""
    global _line, _live
    if not reporter.tty or reporter.quiet or _live is not None:
        yield
        return
    from rich.live import Live
    from rich.spinner import Spinner

    line = _Line()
    spinner: Any = Spinner("dots", text=line, style="cyan")
    live = Live(
        spinner,
        console=reporter.messages,
        transient=True,
        refresh_per_second=4,
        redirect_stdout=False,
        redirect_stderr=False,
    )
    _line, _live = line, live
    try:
        with live:
            yield
    finally:
        _line, _live = None, None
