"""What a run does with its snapshot once read: queue it, send it, keep it when the server is
down, hangs or cannot be reached, say plainly what could not be written, and ping a health
check. The real CLI and the real receiver; the runs read without a browser
(conftest.oauth_env), since from the save on a browser run goes the same way."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import CLI, SECRET_KEY, Spawn, sync_env
from runs import lock_is_free
from support.oauth import OAuthStandIn
from support.receiver import Fault, ScriptedReceiver

# Views, parsing and JSON run in this process; run, sync and login in their own (inprocess.py).
pytestmark = pytest.mark.inprocess


@pytest.fixture
def env(oauth_env: dict[str, str]) -> dict[str, str]:
    return {**oauth_env, "CONSOLESCRAPE_TIMEOUT": "30"}


def test_outage_keeps_the_snapshot_queued_and_exit_5_then_sync_delivers(
    cli: CLI, env: dict[str, str], home: Path, receiver: ScriptedReceiver
) -> None:
    receiver.script(*[Fault.answer(503)] * 50)
    result = cli("run", env={**env, **sync_env(receiver, CLAUDE_SYNC_DEADLINE="2")})
    assert result.code == 5
    assert (home / "usage-data.json").exists()
    assert len(list((home / "outbox").glob("*.json"))) == 1
    receiver.script()
    receiver_ok = ScriptedReceiver(api_key=SECRET_KEY).start()
    try:
        assert cli("sync", env=sync_env(receiver_ok)).code == 0
        assert len(receiver_ok.accepted) == 1
    finally:
        receiver_ok.stop()
    assert list((home / "outbox").glob("*.json")) == []


def test_no_sync_queues_for_a_later_sync(
    cli: CLI, env: dict[str, str], home: Path, receiver: ScriptedReceiver
) -> None:
    result = cli("run", "--no-sync", env={**env, **sync_env(receiver)})
    assert result.code == 0
    assert receiver.received == []
    assert len(list((home / "outbox").glob("*.json"))) == 1
    assert cli("sync", env=sync_env(receiver)).code == 0
    assert len(receiver.accepted) == 1


def test_health_ping_on_success_and_on_failure(
    cli: CLI, env: dict[str, str], oauth_endpoint: OAuthStandIn, receiver: ScriptedReceiver
) -> None:
    ping = {"CONSOLESCRAPE_HEALTHCHECK_URL": receiver.base_url + "/ping/abc"}
    assert cli("run", env={**env, **ping}).code == 0
    oauth_endpoint.configure(body=b"<html>not the usage</html>")
    assert cli("run", env={**env, **ping}).code == 4
    assert [r.path for r in receiver.received] == ["/ping/abc", "/ping/abc/fail"]


def test_run_with_the_server_down_gives_up_fast_and_keeps_the_snapshot_queued(
    cli: CLI, env: dict[str, str], home: Path, receiver: ScriptedReceiver
) -> None:
    down = sync_env(
        receiver,
        CLAUDE_SYNC_URL="http://127.0.0.1:9/api/claude/console-usage",
        CLAUDE_SYNC_DEADLINE="60",
    )
    started = time.monotonic()
    result = cli("run", env={**env, **down})
    took = time.monotonic() - started
    assert result.code == 5, result.stderr
    assert took < 25, f"run's sync phase has a short budget, took {took:.0f} s"
    assert len(list((home / "outbox").glob("*.json"))) == 1, "queued for the next run"


def test_run_against_a_hanging_server_ends_within_its_own_sync_budget(
    cli: CLI, env: dict[str, str], home: Path, receiver: ScriptedReceiver
) -> None:
    receiver.script(*[Fault.hang_for(30)] * 5)
    started = time.monotonic()
    result = cli("run", env={**env, **sync_env(receiver, CLAUDE_SYNC_DEADLINE="60")})
    assert result.code == 5, result.stderr
    assert time.monotonic() - started < 25
    assert len(list((home / "outbox").glob("*.json"))) == 1


def test_saved_but_not_queued_is_said_plainly(
    cli: CLI, env: dict[str, str], home: Path, receiver: ScriptedReceiver
) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "outbox").write_text("a file where the outbox directory belongs")
    result = cli("run", "--json", env={**env, **sync_env(receiver)})
    assert result.code == 7, result.stderr
    assert "saved, but NOT queued" in result.stderr
    assert str(home / "outbox") in result.stderr and "move" in result.stderr
    assert json.loads((home / "usage-data.json").read_text())["currentSession"]
    assert result.json["error"]["path"] == str(home / "outbox")
    assert receiver.received == []


def test_a_directory_where_the_snapshot_belongs_is_exit_7_naming_it(
    cli: CLI, env: dict[str, str], home: Path
) -> None:
    (home / "usage-data.json").mkdir(parents=True)
    result = cli("run", "--json", env=env)
    assert result.code == 7, result.stderr
    assert str(home / "usage-data.json") in result.stderr and "internal" not in result.stderr
    assert result.json["error"]["errno"] == "EISDIR"


def test_a_signal_during_the_post_ends_like_any_failure_and_keeps_the_queue(
    cli: CLI, spawn: Spawn, env: dict[str, str], home: Path, receiver: ScriptedReceiver
) -> None:
    assert cli("run", "--no-sync", env={**env, **sync_env(receiver)}).code == 0
    [queued] = (home / "outbox").glob("*.json")
    receiver.script(Fault.hang_for(30))
    proc = spawn(
        "sync",
        "--json",
        env={**env, **sync_env(receiver, CLAUDE_SYNC_DEADLINE="60")},
        stdout=subprocess.PIPE,
    )
    receiver.wait_for(1, timeout=20)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 143, err
    assert json.loads(out)["exitCode"] == 143
    state = json.loads((home / "state.json").read_text())
    assert state["sync"]["exitCode"] == 143 and "SIGTERM" in state["sync"]["message"]
    assert queued.exists(), "the snapshot stays queued"
    assert lock_is_free(home / "run.lock")
