"""A signal that lands while the handlers go in (cron's SIGTERM the moment a command starts) is
the command's result like any later one: exit 128 + N, one JSON object, every handler put back.
Before, it escaped as a traceback (exit 1) and left the handlers half-installed."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import inprocess
import pytest
from conftest import write_snapshot

from consolescrape import model, signals
from consolescrape.errors import Stopped

NUMBERS = [getattr(signal, name) for name in signals.NAMES]


def landing_during_install(monkeypatch: pytest.MonkeyPatch, number: int) -> None:
    """Send `number` to this process right after our handler for it is in place."""
    real: Callable[..., Any] = signal.signal
    sent = False

    def installing(signum: int, handler: Any) -> Any:
        nonlocal sent
        previous = real(signum, handler)
        if handler is signals._handle and signum == number and not sent:
            sent = True
            os.kill(os.getpid(), number)
        return previous

    monkeypatch.setattr(signal, "signal", installing)


@pytest.mark.parametrize("number", NUMBERS, ids=signals.NAMES)
def test_a_signal_while_the_handlers_go_in_is_raised_in_the_block(
    monkeypatch: pytest.MonkeyPatch, number: int
) -> None:
    before = {n: signal.getsignal(n) for n in NUMBERS}
    landing_during_install(monkeypatch, number)
    try:
        handlers = signals.handled()
        handlers.__enter__()
    except Stopped:
        pytest.fail("the signal escaped from the handlers' installation")
    try:
        with pytest.raises(Stopped) as stopped:
            signals.raise_held()
    finally:
        handlers.__exit__(None, None, None)
    assert stopped.value.exit_code == 128 + number
    assert {n: signal.getsignal(n) for n in NUMBERS} == before
    assert signals._pending is None


def test_nothing_held_raises_nothing() -> None:
    with signals.handled():
        signals.raise_held()
        with signals.deferred():
            pass
    assert signals._pending is None


def test_a_command_stopped_as_it_starts_tells_it_once_with_exit_143(
    monkeypatch: pytest.MonkeyPatch, home: Path
) -> None:
    write_snapshot(home / "usage-data.json", lastUpdated=model.format_time(datetime.now(UTC)))
    landing_during_install(monkeypatch, signal.SIGTERM)
    code, out, err = inprocess.run(["status", "--json"])
    assert code == 128 + signal.SIGTERM, err
    shown = json.loads(out)  # one whole object, nothing else
    assert shown["ok"] is False
    assert "stopped by SIGTERM" in shown["error"]["message"]
    assert "Traceback" not in err
