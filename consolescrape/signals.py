"""SIGTERM, SIGINT and SIGHUP end a command like any other failure, never half-way.

By default Python skips `finally` on SIGTERM and dies mid-write on SIGHUP; cron and systemd stop
jobs with these signals. While `handled()` is active, each of them raises `Stopped` (exit
128 + signal) from wherever the program is, so the error path runs: the state is recorded, locks
are released, the browser is torn down, one JSON result is printed. Inside `deferred()` (the
browser's tear-down, writing state) a signal is held and raised when the block ends.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

from consolescrape.errors import Stopped

NAMES = ("SIGTERM", "SIGINT", "SIGHUP")

_deferring = 0
_pending: int | None = None


def _handle(number: int, frame: FrameType | None) -> None:
    global _pending
    if _deferring:
        _pending = number
        return
    raise Stopped(number)


@contextlib.contextmanager
def handled() -> Iterator[None]:
    """Signals raise `Stopped` for the duration; the previous handlers come back after it.

    Only the main thread can install handlers; elsewhere (or when already handled) this does
    nothing. A signal someone ignores on purpose (`nohup`) stays ignored. One that comes while
    the handlers go in is held, and `raise_held()` raises it: call it first thing in the block
    that handles `Stopped` (a `with` cannot raise into its own block).
    """
    old: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        numbers = [getattr(signal, name) for name in NAMES if hasattr(signal, name)]
        wanted = [n for n in numbers if signal.getsignal(n) not in (signal.SIG_IGN, _handle)]
        if wanted:
            with _holding():  # so each old handler is known and comes back
                for number in wanted:
                    old[number] = signal.signal(number, _handle)
    try:
        yield
    finally:
        for number, handler in old.items():
            signal.signal(number, handler)


def raise_held() -> None:
    """Raise, as `Stopped`, a signal held while nothing defers it any more."""
    global _pending
    if not _deferring and _pending is not None:
        number, _pending = _pending, None
        raise Stopped(number)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """A signal during this block is held, and raised as `Stopped` once the block is done."""
    try:
        with _holding():
            yield
    finally:
        raise_held()


@contextlib.contextmanager
def _holding() -> Iterator[None]:
    """A signal during this block is held (`_pending`), not raised."""
    global _deferring
    _deferring += 1
    try:
        yield
    finally:
        _deferring -= 1
