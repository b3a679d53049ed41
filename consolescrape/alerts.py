"""Threshold alerts: once per limit, threshold and reset window, and once when a full limit resets.

Alerts are claimed in history.db in the same transaction as the rows that caused them, and only
then sent: a run killed in between loses that alert rather than sending it twice.
Annotations are not postponed here, for the reason given at the top of history.py.
"""

import contextlib
import errno
import json
import os
import re
import shlex
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import IO, NamedTuple

from consolescrape import model
from consolescrape.children import Child, Record, ended, spawn, wait
from consolescrape.history import History, Recorded
from consolescrape.words import limit_label

#: The alert commands' one deadline, all of them together: a hanging notifier must not hold the
#: run (and its lock). A run shares it with the health ping (tracking.AFTER_RUN_SECONDS).
TIMEOUT = 5.0
CROSSED = "crossed"
RESET = "reset"


class Alert(NamedTuple):
    limit: str
    label: str
    percent: int | float
    threshold: int | float
    resets_at: datetime | None
    resets_in: str
    kind: str

    def to_json(self) -> dict[str, object]:
        """The object the alert command reads on stdin (documented in the README)."""
        return {
            "limit": self.limit,
            "label": self.label,
            "percentageUsed": self.percent,
            "threshold": self.threshold,
            "resetsAt": model.format_time(self.resets_at) if self.resets_at else None,
            "resetsIn": self.resets_in,
            "kind": self.kind,
        }

    def line(self) -> str:
        if self.kind == RESET:
            return f"alert: {self.label} has reset (now {self.percent:g}%, was at 100%)"
        # "2 hr 10 min" is a countdown, "Thu 7:00 AM" a day: the page's own two forms.
        when = f"in {self.resets_in}" if self.resets_in[:1].isdigit() else self.resets_in
        return (
            f"alert: {self.label} at {self.percent:g}%, crossed {self.threshold:g}% (resets {when})"
        )


def claim(
    history: History, readings: Sequence[Recorded], thresholds: Sequence[int | float]
) -> list[Alert]:
    """Record the alerts this run's readings call for; returns only those not recorded before.

    Call inside the transaction that recorded the readings. When a jump crosses several
    thresholds at once, each is recorded but one alert (the highest) is sent.
    """
    found = []
    for reading in readings:
        point, ended = reading.point, reading.ended
        # Claimed only when due: `and` keeps the claim from running for every reading.
        was_full = ended is not None and ended.peak >= 100 > point.percent
        if was_full and history.claim_alert(reading.window_id, RESET, 100):
            found.append(_alert(reading, 100, RESET))
        crossed = [t for t in thresholds if point.percent >= t]
        new = [t for t in crossed if history.claim_alert(reading.window_id, CROSSED, t)]
        if new:
            found.append(_alert(reading, max(new), CROSSED))
    return found


def _alert(reading: Recorded, threshold: int | float, kind: str) -> Alert:
    point = reading.point
    return Alert(
        point.limit,
        limit_label(point.limit),
        point.percent,
        threshold,
        point.resets_at,
        point.resets_in,
        kind,
    )


def send(
    alerts: Sequence[Alert],
    command: str | None,
    warn: Callable[[str], None],
    *,
    record: Record | None = None,
    seconds: float = TIMEOUT,
) -> None:
    """Log each alert and run the alert command for it, all within `seconds` together; nothing
    here changes the exit code."""
    with started(alerts, command, warn, record) as running:
        finish(running, time.monotonic() + seconds, warn, record, seconds=seconds)


def _child_env() -> dict[str, str]:
    """Our environment without the sync key: a notifier has no business with it."""
    return {k: v for k, v in os.environ.items() if "API_KEY" not in k.upper()}


def _excerpt(raw: bytes) -> str:
    text = "".join(c if c.isprintable() else " " for c in raw.decode(errors="replace")[:300])
    return re.sub(r"\s+", " ", text).strip()[:160] or "(no output)"


def why_not_started(program: str, exc: OSError) -> str:
    """Why a command did not start, in words that point at the fix: the kernel says "No such
    file or directory" both for a missing program and for a script whose #! interpreter is
    missing, which a CRLF line ending ("/bin/sh\\r") makes of every interpreter."""

    reason = str(exc.strerror or exc)
    path = program if os.sep in program else shutil.which(program)
    if exc.errno != errno.ENOENT or path is None or not os.path.isfile(path):
        return reason
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            first = os.read(fd, 256).split(b"\n", 1)[0]
        finally:
            os.close(fd)
    except OSError:
        return reason
    if not first.startswith(b"#!"):
        return reason
    interpreter = first[2:].decode(errors="replace").strip(" \t")
    if interpreter.endswith("\r"):
        return (
            f"{path} has Windows line endings (CRLF): its #! line names "
            f"{interpreter[:-1].strip()!r} followed by a carriage return, which does not exist "
            f"(fix: sed -i 's/\\r$//' {shlex.quote(path)})"
        )
    named = interpreter.split()[0] if interpreter else "(none)"
    return f"its interpreter {named} (the #! line of {path}) is not installed"


def _start(
    command: str,
    doc: dict[str, object],
    warn: Callable[[str], None],
    record: Record | None,
    errors: IO[bytes],
) -> Child | None:
    """Start `command` (split like a shell, run without one), `doc` as JSON on its stdin."""

    argv = shlex.split(command)
    try:
        return spawn(argv, json.dumps(doc).encode() + b"\n", _child_env(), record, errors)
    except OSError as exc:
        warn(
            f"alert command {os.path.basename(argv[0])} could not start: "
            f"{why_not_started(argv[0], exc)}"
        )
        return None


@contextlib.contextmanager
def started(
    alerts: Sequence[Alert],
    command: str | None,
    warn: Callable[[str], None],
    record: Record | None = None,
) -> Iterator[list[Child]]:
    """Log each alert and start the alert command for each, side by side, each in its own
    process group: however the block ends (a signal included), every group is killed."""
    running: list[Child] = []
    with contextlib.ExitStack() as stack:
        for alert in alerts:
            warn(alert.line())
            if command:
                errors = stack.enter_context(tempfile.TemporaryFile())
                child = _start(command, alert.to_json(), warn, record, errors)
                running += [child] if child is not None else []
        with ended(running, record):
            yield running


def finish(
    running: Sequence[Child],
    until: float,
    warn: Callable[[str], None],
    record: Record | None,
    *,
    seconds: float = TIMEOUT,
) -> bool:
    """Wait for the alert commands until the monotonic time `until` (`seconds` after they were
    given), stop those still running with their groups, warn about each that failed; True if
    all worked."""
    wait(list(running), until)
    ok = True
    for child in running:
        code = child.end(record)
        if child.stopped:
            warn(f"alert command {child.name} took longer than {seconds:g} s and was stopped")
        elif code != 0:
            child.errors.seek(0)
            warn(f"alert command {child.name} exited {code}: {_excerpt(child.errors.read(300))}")
        else:
            continue
        ok = False
    return ok


def run_command(command: str, doc: dict[str, object], warn: Callable[[str], None]) -> bool:
    """Run `command` without a shell, `doc` as JSON on stdin, within TIMEOUT; True if it worked."""
    with tempfile.TemporaryFile() as errors:
        child = _start(command, doc, warn, None, errors)
        if child is None:
            return False
        with ended([child], None):
            return finish([child], time.monotonic() + TIMEOUT, warn, None, seconds=TIMEOUT)
