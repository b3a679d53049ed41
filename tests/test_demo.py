"""`consolescrape demo`: the README's first command, end to end, leaving nothing behind."""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from conftest import CLI, processes_mentioning


def demo_dirs() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("consolescrape-demo-*"))


def chrome_pids() -> set[int]:
    return set(processes_mentioning("consolescrape-demo-"))


def test_demo_runs_the_pipeline_and_shows_what_the_receiver_stored(cli: CLI, home: Path) -> None:
    before = demo_dirs()
    result = cli("demo", "--json")
    assert result.code == 0, result.stderr
    doc = result.json
    assert doc["ok"] is True and doc["command"] == "demo"
    snapshot = doc["data"]["snapshot"]
    assert snapshot["currentSession"]["percentageUsed"] == 47
    [stored] = doc["data"]["receiverStored"]
    assert stored["weeklyLimits"]["sonnetOnly"]["percentageUsed"] == 10
    assert doc["sync"]["sent"] == 1
    assert demo_dirs() == before, "the temporary home must be removed"
    assert chrome_pids() == set()
    assert not home.exists(), "the demo never touches the user's home"


def test_demo_human_output_shows_status_and_the_stored_payload(cli: CLI) -> None:
    result = cli("demo")
    assert result.code == 0, result.stderr
    assert "Current session" in result.stdout and "47%" in result.stdout, "the views on stdout"
    assert "receiver stored 1 snapshot" in result.stderr
    assert '"sonnetOnly"' in result.stdout


def test_ctrl_c_during_the_demo_leaves_no_process_or_temp_dir(home: Path) -> None:
    before = demo_dirs()
    proc = subprocess.Popen(
        [sys.executable, "-m", "consolescrape", "demo"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while not chrome_pids():
        assert time.monotonic() < deadline and proc.poll() is None, "no browser started"
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=30)
    assert chrome_pids() == set()
    assert demo_dirs() == before
