"""History, alerts and metrics through real runs: the real CLI reading changing percentages
without a browser (conftest.oauth_env: what a run does with a snapshot is the same whichever
source read it), the real receiver, a real alert command that records its stdin."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import CLI, file_mode, metric_samples, sync_env
from support.oauth import OAuthStandIn
from support.receiver import ScriptedReceiver

from consolescrape import history

# Views, parsing and JSON run in this process; run, sync and login in their own (inprocess.py).
pytestmark = pytest.mark.inprocess

#: The notifier: appends what it read on stdin (and its pid, and whether it saw the key) to
#: $ALERT_LOG, then sleeps $ALERT_SLEEP seconds and exits $ALERT_EXIT.
NOTIFIER = """
import json, os, sys, time
doc = json.loads(sys.stdin.read())
doc["pid"] = os.getpid()
doc["sawKey"] = "CLAUDE_SYNC_API_KEY" in os.environ
with open(os.environ["ALERT_LOG"], "a") as log:
    log.write(json.dumps(doc) + "\\n")
time.sleep(float(os.environ.get("ALERT_SLEEP", "0")))
sys.exit(int(os.environ.get("ALERT_EXIT", "0")))
"""


@pytest.fixture
def env(oauth_env: dict[str, str], home: Path, tmp_path: Path) -> dict[str, str]:
    notifier = tmp_path / "notify.py"
    notifier.write_text(f"#!{sys.executable}\n{NOTIFIER}")
    notifier.chmod(0o755)
    (tmp_path / "metrics").mkdir()  # node_exporter's textfile directory exists before us
    return {
        **oauth_env,
        "CONSOLESCRAPE_TIMEOUT": "30",
        "CONSOLESCRAPE_ALERT_AT": "80,100",
        "CONSOLESCRAPE_ALERT_COMMAND": f"{notifier} --from-consolescrape",
        "CONSOLESCRAPE_METRICS_FILE": str(tmp_path / "metrics" / "consolescrape.prom"),
        "ALERT_LOG": str(tmp_path / "alerts.log"),
    }


def usage(session: float, resets_at: datetime) -> dict[str, object]:
    """The usage endpoint's answer with the session at `session` %."""
    week = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    return {
        "five_hour": {"utilization": session, "resets_at": resets_at.isoformat()},
        "seven_day": {"utilization": 31, "resets_at": week},
        "seven_day_sonnet": {"utilization": 10, "resets_at": week},
    }


def alerts_sent(env: dict[str, str]) -> list[dict[str, object]]:
    log = Path(env["ALERT_LOG"])
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines()]


def metrics(env: dict[str, str]) -> dict[str, str]:
    return metric_samples(Path(env["CONSOLESCRAPE_METRICS_FILE"]))


def test_crossings_alert_once_re_arm_after_a_reset_and_feed_history_and_metrics(
    cli: CLI,
    env: dict[str, str],
    oauth_endpoint: OAuthStandIn,
    home: Path,
    receiver: ScriptedReceiver,
) -> None:
    first = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)
    second = first + timedelta(hours=5)
    minute = timedelta(minutes=1)
    # The reset time drifts by a minute between reads, as a page countdown does.
    steps = [(70, first), (85, first + minute), (86, first - minute), (100, first)]
    steps += [(3, second), (82, second + minute)]
    run_env = {**env, **sync_env(receiver)}
    outputs = []
    for percent, resets_at in steps:
        oauth_endpoint.configure(body=usage(percent, resets_at))
        result = cli("run", env=run_env)
        assert result.code == 0, result.stderr
        outputs.append(result.stderr)
    sent = [(a["kind"], a["threshold"], a["percentageUsed"]) for a in alerts_sent(env)]
    assert sent == [
        ("crossed", 80, 85),
        ("crossed", 100, 100),
        ("reset", 100, 3),
        ("crossed", 80, 82),
    ]
    [one] = [a for a in alerts_sent(env) if a["percentageUsed"] == 85]
    assert one["limit"] == "currentSession" and one["label"] == "Current session"
    assert one["resetsIn"] and str(one["resetsAt"]).endswith("Z") and one["sawKey"] is False
    assert [o.count("alert: ") for o in outputs] == [0, 1, 0, 1, 1, 1]
    assert "alert: Current session at 85%, crossed 80%" in outputs[1]
    assert len(receiver.accepted) == len(steps), "alerts never get in the way of sync"

    rows = cli("history", "--json").json["data"]["rows"]
    session = [r["percentageUsed"] for r in rows if r["limit"] == "currentSession"]
    assert session == [70, 85, 86, 100, 3, 82]
    found = metrics(env)
    assert found['consolescrape_usage_percent{limit="currentSession"}'] == "82"
    assert found["consolescrape_last_run_exit_code"] == "0"
    assert found["consolescrape_outbox_items"] == "0"

    # A resend is not a scrape: it alerts nobody, even with a threshold it would cross.
    resend = cli(
        "sync",
        "--file",
        str(home / "usage-data.json"),
        env={**run_env, "CONSOLESCRAPE_ALERT_AT": "50"},
    )
    assert resend.code == 0 and len(alerts_sent(env)) == 4

    oauth_endpoint.configure(body=b"<html>not the usage</html>")
    assert cli("run", env=run_env).code == 4
    found = metrics(env)
    assert found["consolescrape_last_run_exit_code"] == "4"
    assert found['consolescrape_usage_percent{limit="currentSession"}'] == "82", "last data"


def test_a_failing_alert_command_is_one_warning_and_the_run_still_succeeds(
    cli: CLI, env: dict[str, str], oauth_endpoint: OAuthStandIn, home: Path
) -> None:
    oauth_endpoint.configure(body=usage(90, datetime.now(UTC) + timedelta(hours=2)))
    result = cli("run", "--json", env={**env, "ALERT_EXIT": "3"})
    assert result.code == 0 and result.json["ok"] is True
    assert "alert command notify.py exited 3" in result.stderr
    assert len(alerts_sent(env)) == 1


def test_an_alert_script_with_crlf_line_endings_is_named_as_such(
    cli: CLI, env: dict[str, str], oauth_endpoint: OAuthStandIn, tmp_path: Path
) -> None:
    script = tmp_path / "notify-from-windows.sh"
    script.write_bytes(b"#!/bin/sh\r\ncat > /dev/null\r\n")
    script.chmod(0o755)
    oauth_endpoint.configure(body=usage(90, datetime.now(UTC) + timedelta(hours=2)))
    result = cli("run", env={**env, "CONSOLESCRAPE_ALERT_COMMAND": str(script)})
    assert result.code == 0, result.stderr
    [line] = [line for line in result.stderr.splitlines() if "could not start" in line]
    assert "Windows line endings (CRLF)" in line and "No such file" not in line
    assert f"sed -i 's/\\r$//' {script}" in line


def test_a_run_killed_after_recording_an_alert_never_sends_it_twice(
    cli: CLI, env: dict[str, str], oauth_endpoint: OAuthStandIn, home: Path
) -> None:
    oauth_endpoint.configure(body=usage(85, datetime.now(UTC) + timedelta(hours=2)))
    proc = subprocess.Popen(
        [sys.executable, "-m", "consolescrape", "run"],
        env={**os.environ, **env, "ALERT_SLEEP": "30"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    notifier = None
    try:
        deadline = time.monotonic() + 60
        while not alerts_sent(env):
            assert time.monotonic() < deadline and proc.poll() is None, "no alert was sent"
            time.sleep(0.05)
        [alert] = alerts_sent(env)
        notifier = int(str(alert["pid"]))
        proc.kill()  # SIGKILL while its alert command runs: no clean-up code runs
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if notifier is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(notifier, signal.SIGKILL)
    again = cli("run", env=env)
    assert again.code == 0, again.stderr
    assert len(alerts_sent(env)) == 1, "the alert was recorded before it was sent"
    assert "alert:" not in again.stderr


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """Make `path` unwritable even for root (who ignores file modes): the immutable flag.

    Fails rather than skips where that cannot be done: a skipped test would check nothing.
    """
    if os.geteuid() != 0:
        path.chmod(0o400)
        yield
        path.chmod(0o600)
        return
    if shutil.which("chattr") is None:
        pytest.fail("running as root without chattr (Debian: e2fsprogs): cannot make it read-only")
    done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False)
    if done.returncode != 0:
        pytest.fail(f"chattr +i refused here: {done.stderr.decode().strip()}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


@pytest.mark.parametrize(
    "fault", ["damaged", "read-only", "link to a file", "dangling link", "FIFO", "-shm directory"]
)
def test_a_broken_history_never_fails_a_run(
    cli: CLI,
    env: dict[str, str],
    oauth_endpoint: OAuthStandIn,
    home: Path,
    receiver: ScriptedReceiver,
    fault: str,
    tmp_path: Path,
) -> None:
    path = home / "history.db"
    home.mkdir(parents=True, mode=0o700)
    guard: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
    elsewhere = tmp_path / "elsewhere.txt"
    if fault == "damaged":
        path.write_bytes(b"not a database " * 500)
    elif fault == "read-only":
        with history.open_for_writing(path):
            pass
        guard = read_only(path)
    elif fault == "link to a file":
        elsewhere.write_text("someone's notes\n")
        elsewhere.chmod(0o644)
        path.symlink_to(elsewhere)
    elif fault == "dangling link":
        path.symlink_to(elsewhere)
    elif fault == "FIFO":
        os.mkfifo(path)
    else:
        (home / "history.db-shm").mkdir()
    oauth_endpoint.configure(body=usage(90, datetime.now(UTC) + timedelta(hours=2)))
    with guard:
        result = cli("run", env={**env, **sync_env(receiver)})
        doctor = cli("doctor", env=env)
    assert result.code == 0, result.stderr
    assert json.loads((home / "usage-data.json").read_text())["currentSession"]
    assert len(receiver.accepted) == 1
    warnings = [line for line in result.stderr.splitlines() if "history not updated" in line]
    assert len(warnings) == 1, result.stderr
    assert "fix:" in warnings[0]
    assert alerts_sent(env) == [], "without a record of it, an alert could repeat: none is sent"
    assert "✗ history:" in doctor.stdout and "fix:" in doctor.stdout.split("✗ history:")[1]
    if fault == "link to a file":  # never followed: the file is as it was, and still 0644
        assert elsewhere.read_text() == "someone's notes\n" and file_mode(elsewhere) == 0o644
    if fault == "dangling link":
        assert not elsewhere.exists(), "a database was made outside the home"
    if fault not in ("damaged", "read-only"):
        assert "not a regular file of yours" in warnings[0] and "fix: move it" in warnings[0]
        assert "chmod" not in doctor.stdout
        assert "`consolescrape doctor` checks it" not in warnings[0]
