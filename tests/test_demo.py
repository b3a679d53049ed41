"""`consolescrape demo`: the README's first command, end to end, leaving nothing behind."""

from __future__ import annotations

import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from conftest import CLI, Spawn, processes_mentioning

# The demo's temporary homes and browsers are looked for machine-wide: one worker runs them all.
pytestmark = pytest.mark.xdist_group("demo")


def demo_dirs() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("consolescrape-demo-*"))


def test_demo_runs_the_pipeline_and_shows_what_the_receiver_stored(cli: CLI, home: Path) -> None:
    result = cli("demo", "--json")
    assert result.code == 0, result.stderr
    doc = result.json
    assert doc["ok"] is True and doc["command"] == "demo"
    snapshot = doc["data"]["snapshot"]
    assert snapshot["currentSession"]["percentageUsed"] == 47
    [stored] = doc["data"]["receiverStored"]
    assert stored["weeklyLimits"]["sonnetOnly"]["percentageUsed"] == 10
    assert doc["sync"]["sent"] == 1
    assert not Path(doc["data"]["home"]).exists(), "the temporary home must be removed"
    assert doc["data"]["home"].startswith(str(Path(tempfile.gettempdir()) / "consolescrape-demo-"))
    assert processes_mentioning(doc["data"]["home"]) == []
    assert not home.exists(), "the demo never touches the user's home"


def test_demo_human_output_shows_status_and_the_stored_payload(cli: CLI) -> None:
    result = cli("demo")
    assert result.code == 0, result.stderr
    assert "Current session" in result.stdout and "47%" in result.stdout, "the views on stdout"
    assert "receiver stored 1 snapshot" in result.stderr
    assert '"sonnetOnly"' in result.stdout


def test_ctrl_c_during_the_demo_leaves_no_process_or_temp_dir(spawn: Spawn, home: Path) -> None:
    before = demo_dirs()
    proc = spawn("demo", stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    # Only this demo's own home and browser count: other demos may run on the same machine
    # (another worktree's suite), so a new home counts once a browser of this demo uses it.
    mine: set[Path] = set()
    while not (mine := {d for d in demo_dirs() - before if processes_in({d}, under=proc.pid)}):
        assert time.monotonic() < deadline and proc.poll() is None, "no browser started"
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=30)
    # Killed on the way out; under load a killed process may take a moment to be gone from
    # /proc. One that was never killed is still there after the grace, and fails the test.
    grace = time.monotonic() + 5
    while processes_in(mine) and time.monotonic() < grace:
        time.sleep(0.1)
    assert processes_in(mine) == set()
    assert not any(path.exists() for path in mine)


def processes_in(dirs: set[Path], under: int | None = None) -> set[int]:
    """Processes using one of `dirs`; with `under`, only descendants of that process."""
    found = {pid for path in dirs for pid in processes_mentioning(path)}
    return found if under is None else {pid for pid in found if descends(pid, under)}


def descends(pid: int, ancestor: int) -> bool:
    while pid > 1:
        try:
            with open(f"/proc/{pid}/stat") as handle:
                pid = int(handle.read().rpartition(")")[2].split()[1])
        except (OSError, ValueError, IndexError):
            return False
        if pid == ancestor:
            return True
    return False
