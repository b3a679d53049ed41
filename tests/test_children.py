"""What a run starts (alert commands, chromedriver): one shared deadline, killed with its
group, recorded so that the next run ends what a SIGKILL left, and never a reused pid."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import CLI, processes_mentioning, sync_env
from runs import (
    Silent,
    alerts_logged,
    alive,
    assert_nothing_left,
    children_of,
    notifier,
    start_run,
    started_for,
    wait_until,
)
from support.oauth import OAuthStandIn
from support.receiver import ScriptedReceiver
from support.site import StandIn

from consolescrape import children, tracking
from consolescrape.sync import RUN_SYNC_SECONDS


@pytest.fixture
def env(site: StandIn, profile: Path, home: Path, tmp_path: Path) -> Iterator[dict[str, str]]:
    site.reset()
    yield {
        "CONSOLESCRAPE_USAGE_URL": site.url,
        "CONSOLESCRAPE_PROFILE_DIR": str(profile),
        "CONSOLESCRAPE_TIMEOUT": "30",
        "ALERT_LOG": str(tmp_path / "alerts.log"),
    }
    site.reset()
    assert_nothing_left(home, profile)


def every_limit_full() -> dict[str, object]:
    soon = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    week = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    return {
        "five_hour": {"utilization": 100, "resets_at": soon},
        "seven_day": {"utilization": 100, "resets_at": week},
        "seven_day_sonnet": {"utilization": 100, "resets_at": week},
        "seven_day_opus": {"utilization": 100, "resets_at": week},
    }


def test_hanging_alerts_and_ping_share_one_deadline_and_are_stopped_with_their_groups(
    env: dict[str, str],
    oauth_env: dict[str, str],
    oauth_endpoint: OAuthStandIn,
    home: Path,
    tmp_path: Path,
    receiver: ScriptedReceiver,
) -> None:
    oauth_endpoint.configure(body=every_limit_full())  # what follows the read is the same
    log = Path(env["ALERT_LOG"])
    with Silent() as silent:
        started = time.monotonic()
        proc = start_run(
            {
                **env,
                **oauth_env,
                **sync_env(receiver),
                "CONSOLESCRAPE_ALERT_AT": "50,80,100",
                "CONSOLESCRAPE_ALERT_COMMAND": str(notifier(tmp_path / "notify.py")),
                "CONSOLESCRAPE_HEALTHCHECK_URL": silent.url,
                "ALERT_SLEEP": "120",
            }
        )
        _, err = proc.communicate(timeout=120)
        ended = time.time()
        took = time.monotonic() - started
    assert proc.returncode == 0, err
    sent = alerts_logged(log)
    assert len(sent) == 4, "one alert per limit, the highest threshold each"
    # Four hanging notifiers and a silent health check: one deadline for all of them, where it
    # was 5 s per notifier plus 5 s for the ping (25 s).
    first = min(float(a["at"]) for a in sent)
    assert ended - first < tracking.AFTER_RUN_SECONDS + 3, f"{ended - first:.1f} s after the alerts"
    assert took < 30 + RUN_SYNC_SECONDS + tracking.AFTER_RUN_SECONDS + 10, f"took {took:.1f} s"
    assert err.count("took longer than 5 s and was stopped") == 4, err
    assert "health ping failed" in err and len(silent.connections) == 1
    for alert in sent:
        assert not alive(alert["pid"]) and not alive(alert["grandchild"]), "its group was killed"
    assert len(receiver.accepted) == 1, "the sync was not held by any of it"


def test_a_sigkill_before_chrome_starts_leaves_chromedriver_and_the_next_run_ends_it(
    cli: CLI, env: dict[str, str], home: Path, tmp_path: Path
) -> None:
    # A "Chrome" that answers --version like Chromium, then only sleeps: chromedriver waits on
    # it, and no process names the profile (what the profile clean-up looks for).
    chromium = shutil.which("chromium")
    assert chromium, "the tests need Chromium on PATH"
    slow = tmp_path / "slow-chrome"
    slow.write_text(
        f'#!/bin/sh\n[ "$1" = --version ] && exec {chromium} --version\nexec sleep 120\n'
    )
    slow.chmod(0o755)
    proc = start_run({**env, "CONSOLESCRAPE_CHROME_BINARY": str(slow)})
    record = home / "children.json"
    try:
        wait_until(
            "chromedriver is recorded",
            lambda: record.exists() and json.loads(record.read_text())["groups"],
            proc,
        )
        [driver] = children_of(proc.pid, "chromedriver")
        wait_until("the sleeping Chrome starts", lambda: children_of(driver, "sleep"), proc)
        [group] = json.loads(record.read_text())["groups"]
        assert group["pid"] == driver and group["what"] == "chromedriver"
        proc.kill()
        proc.communicate(timeout=30)
        time.sleep(0.5)
        assert alive(driver), "SIGKILL runs no clean-up: chromedriver is left"
        assert processes_mentioning(env["CONSOLESCRAPE_PROFILE_DIR"]) == []
        again = cli("run", env=env)
        assert again.code == 0, again.stderr
        assert not alive(driver), "the next run ended it, from the record"
        assert started_for(home) == [], "and what it had started"
        assert not record.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def _sleeper(env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """A process of the test's own, in its own session, like a recorded group leader; returned
    once it runs `sleep` (until the exec, /proc shows the test's own environment)."""
    proc = subprocess.Popen(["sleep", "60"], start_new_session=True, env=env)
    deadline = time.monotonic() + 10
    while Path(f"/proc/{proc.pid}/comm").read_text().strip() != "sleep":
        assert time.monotonic() < deadline, "sleep did not start"
        time.sleep(0.01)
    return proc


def test_the_record_never_ends_a_process_whose_start_time_differs(tmp_path: Path) -> None:
    stranger, ours = _sleeper(), _sleeper()
    try:
        record = tmp_path / children.RECORD
        groups = [
            # A pid the system reused: the recorded start time is another process's.
            {"pid": stranger.pid, "start": "1", "what": "alert command notify.py"},
            {"pid": ours.pid, "start": children.start_time(ours.pid), "what": "chromedriver"},
        ]
        record.write_text(json.dumps({"token": "0" * 32, "pid": 1, "groups": groups}))
        assert children.end_leftovers(record) == [ours.pid]
        assert ours.wait(timeout=10) == -signal.SIGTERM
        assert stranger.poll() is None, "a reused pid is never killed"
        assert not record.exists()
    finally:
        for proc in (stranger, ours):
            proc.kill()
            proc.wait()


def test_a_process_carrying_the_run_token_is_ended_even_outside_any_recorded_group(
    tmp_path: Path,
) -> None:
    token = "f" * 32
    escaped = _sleeper({**os.environ, children.MARKER: token})
    other = _sleeper({**os.environ, children.MARKER: "e" * 32})
    try:
        record = tmp_path / children.RECORD
        record.write_text(json.dumps({"token": token, "pid": 1, "groups": []}))
        assert children.end_leftovers(record) == [escaped.pid]
        assert escaped.wait(timeout=10) == -signal.SIGTERM
        assert other.poll() is None, "another run's token is not this record's"
    finally:
        for proc in (escaped, other):
            proc.kill()
            proc.wait()


def test_a_damaged_record_costs_only_the_clean_up(tmp_path: Path) -> None:
    record = tmp_path / children.RECORD
    record.write_bytes(b"\x00not json")
    assert children.end_leftovers(record) == []
    assert not record.exists()
