"""The in-process CLI of the tests (inprocess.py): what it runs here, that it shows what the
real process shows, and that a command that leaves the process changed fails the test."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import inprocess
import pytest
from conftest import write_snapshot

from consolescrape import model, signals

#: Numbers: clock times, ages and log timestamps differ between two runs a moment apart.
_NUMBERS = re.compile(r"\d+")


@pytest.mark.parametrize(
    ("args", "here"),
    [
        (["status"], True),
        (["status", "--line"], True),
        (["history", "--json"], True),
        (["doctor"], True),
        (["schedule", "show", "--with", "cron"], True),
        (["schedule", "status"], True),
        (["--version"], True),
        (["run"], False),
        (["sync", "--file", "x"], False),
        (["login", "--session-key-stdin"], False),
        (["demo"], False),
        (["schedule", "install"], False),
        (["schedule", "remove", "--with", "cron"], False),
        (["status", "--watch", "1"], False),
        (["doctor", "--online"], False),
        (["--show-completion", "bash"], False),
        (["run", "--log-file", "x"], False),
    ],
)
def test_what_runs_here_and_what_gets_a_process(args: list[str], here: bool) -> None:
    assert inprocess.can_run(args) is here


@pytest.fixture
def saved(home: Path) -> Path:
    home.mkdir(mode=0o700)
    write_snapshot(home / "usage-data.json", lastUpdated=model.format_time(datetime.now(UTC)))
    return home


@pytest.mark.parametrize(
    "args",
    [
        ["status"],
        ["status", "--json"],
        ["status", "--line"],
        ["status", "--check", "--max-age", "0"],
        ["history"],
        ["schedule", "show", "--with", "cron"],
        ["status", "-h"],
        ["status", "--bogus"],
        ["--json", "--bogus"],
        ["--version"],
    ],
)
def test_a_command_here_shows_what_the_real_process_shows(saved: Path, args: list[str]) -> None:
    here = inprocess.run(args)
    real = subprocess.run(
        [sys.executable, "-m", "consolescrape", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert here[0] == real.returncode
    assert _NUMBERS.sub("#", here[1]) == _NUMBERS.sub("#", real.stdout)
    assert _NUMBERS.sub("#", here[2]) == _NUMBERS.sub("#", real.stderr)


def test_a_command_that_leaves_its_signal_handlers_fails_the_test(
    saved: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    previous = signal.getsignal(signal.SIGTERM)

    @contextlib.contextmanager
    def handled() -> Iterator[None]:
        signal.signal(signal.SIGTERM, _stray)  # and never put back
        yield

    monkeypatch.setattr(signals, "handled", handled)
    try:
        with pytest.raises(AssertionError, match="signal handlers were not put back"):
            inprocess.run(["status"])
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_a_command_that_changes_the_environment_fails_the_test(
    saved: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    @contextlib.contextmanager
    def handled() -> Iterator[None]:
        os.environ["CONSOLESCRAPE_LEFT_BEHIND"] = "1"
        yield

    monkeypatch.setattr(signals, "handled", handled)
    monkeypatch.delenv("CONSOLESCRAPE_LEFT_BEHIND", raising=False)  # undone after the test
    with pytest.raises(AssertionError, match="the environment changed"):
        inprocess.run(["status"])


def _stray(number: int, frame: FrameType | None) -> None:
    """A handler a command forgot to take out."""
