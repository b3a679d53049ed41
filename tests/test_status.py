"""`consolescrape status`: fresh, stale, failed-run and pending-outbox states."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import CLI, SAMPLE, SECRET_KEY, sync_env
from support.receiver import ScriptedReceiver

from consolescrape import model, store

# Views, parsing and JSON run in this process; run, sync and login in their own (inprocess.py).
pytestmark = pytest.mark.inprocess


def save(home: Path, age: timedelta, doc: dict[str, object] | None = None) -> model.Snapshot:
    stamp = datetime.now(UTC) - age
    resets = model.format_time(datetime.now(UTC) + timedelta(hours=2, minutes=30))
    base = dict(doc or SAMPLE)
    base["currentSession"] = {"resetsIn": "2 hr 30 min", "percentageUsed": 47, "resetsAt": resets}
    snapshot = model.from_json({**base, "lastUpdated": model.format_time(stamp)})
    store.save_snapshot(home / "usage-data.json", snapshot)
    return snapshot


def record_failure(home: Path, command: str, exit_code: int, message: str, **more: object) -> None:
    """state.json says the last `command` failed with this exit code and message."""
    outcome = {"ok": False, "exitCode": exit_code, "message": message, **more}
    store.record_outcome(home / "state.json", command, outcome)


def test_fresh_data_shows_a_bar_per_limit_and_check_passes(cli: CLI, home: Path) -> None:
    save(home, timedelta(minutes=2))
    store.record_outcome(
        home / "state.json", "run", {"ok": True, "exitCode": 0, "message": "session 47% · synced"}
    )
    result = cli("status", "--check")
    assert result.code == 0, result.stderr
    for label in ("Current session", "All models", "Sonnet", "47%", "31%", "10%"):
        assert label in result.stdout
    assert "█" in result.stdout
    assert "resets in 2 hr 2" in result.stdout  # live countdown from resetsAt
    assert "updated 2 min ago" in result.stdout
    assert "Outbox" in result.stdout and "empty" in result.stdout


def test_stale_data_fails_the_check_with_advice(cli: CLI, home: Path) -> None:
    save(home, timedelta(minutes=40))
    result = cli("status", "--check", "--max-age", "15")
    assert result.code == 9
    assert "stale" in result.stdout and "40 min" in result.stdout
    assert "cron" in result.stdout


def test_no_data_yet_fails_the_check(cli: CLI, home: Path) -> None:
    home.mkdir()
    result = cli("status", "--check")
    assert result.code == 9
    assert "no usage data yet" in result.stdout
    assert "consolescrape login" in result.stdout, "a new user logs in before the first run"


def test_status_without_check_only_reports(cli: CLI, home: Path) -> None:
    save(home, timedelta(hours=3))
    assert cli("status").code == 0


def test_failed_last_run_fails_the_check_and_names_the_fix(cli: CLI, home: Path) -> None:
    save(home, timedelta(minutes=1))
    record_failure(home, "run", 3, "the usage page asks for a login")
    result = cli("status", "--check")
    assert result.code == 9
    assert "last run failed (exit 3)" in result.stdout
    assert "consolescrape login" in result.stdout


def test_pending_outbox_and_failed_sync_show_in_json(cli: CLI, home: Path) -> None:
    snapshot = save(home, timedelta(minutes=1))
    outbox = store.Outbox(home / "outbox")
    outbox.add(snapshot, "a" * 32)
    outbox.add(snapshot, "b" * 32)
    record_failure(home, "sync", 5, "sync failed: connection refused")
    result = cli("status", "--json", "--check", env={"CLAUDE_SYNC_API_KEY": SECRET_KEY})
    assert result.code == 9
    doc = result.json
    assert doc["command"] == "status" and doc["exitCode"] == 9
    data = doc["data"]
    assert data["outbox"]["pending"] == 2 and data["outbox"]["oldest"].endswith("Z")
    assert data["stale"] is False and 0 <= data["ageSeconds"] < 120
    assert data["lastSync"] is None, "nothing was ever delivered"
    assert data["lastSyncAttempt"]["exitCode"] == 5
    assert data["snapshot"]["currentSession"]["percentageUsed"] == 47
    assert [p["problem"] for p in data["problems"]] == [
        "last sync failed (exit 5): sync failed: connection refused"
    ]
    assert result.stdout.count("\n") == 1, "exactly one JSON object on stdout"


def test_model_row_mismatch_is_shown_with_the_setting_that_fixes_it(cli: CLI, home: Path) -> None:
    save(
        home,
        timedelta(minutes=1),
        {
            **SAMPLE,
            "weeklyLimits": {
                "allModels": {"resetsIn": "Thu 7:00 AM", "percentageUsed": 31},
                "fableOnly": {"resetsIn": "Thu 7:00 AM", "percentageUsed": 12},
            },
        },
    )
    result = cli("status")
    assert "CONSOLESCRAPE_MODEL_ROW=Fable" in result.stdout
    assert cli("status", env={"CONSOLESCRAPE_MODEL_ROW": "Fable"}).stdout.count("hint") == 0


def test_an_old_sync_failure_is_no_problem_when_sync_is_off(cli: CLI, home: Path) -> None:
    save(home, timedelta(minutes=1))
    record_failure(home, "sync", 7, "no API key: CLAUDE_SYNC_API_KEY is not set")
    assert cli("status", "--check").code == 0
    assert cli("status", "--check", env={"CLAUDE_SYNC_API_KEY": "k"}).code == 9


def test_escape_sequences_in_stored_page_text_and_messages_are_not_shown(
    cli: CLI, home: Path
) -> None:
    hostile = "\x1b]0;pwned\x07\x1b[2J"
    save(
        home,
        timedelta(minutes=1),
        {
            **SAMPLE,
            "weeklyLimits": {
                "allModels": {"resetsIn": f"Thu{hostile} 7:00 AM", "percentageUsed": 31},
                "sonnetOnly": {"resetsIn": "Sat 12:00 PM", "percentageUsed": 10},
            },
        },
    )
    record_failure(home, "run", 6, f"refused{hostile}")
    result = cli("status", "--check")
    assert result.code == 9
    assert "Thu 7:00 AM" in result.stdout and "refused" in result.stdout
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "pwned" not in result.stdout


def test_a_run_whose_sync_failed_shows_resolved_after_a_later_sync_succeeds(
    cli: CLI, home: Path, receiver: ScriptedReceiver
) -> None:
    snapshot = save(home, timedelta(minutes=1))
    store.Outbox(home / "outbox").add(snapshot, "c" * 32)
    # What `run` records when the server refused the key in its sync phase.
    record_failure(
        home,
        "run",
        6,
        "the server refused the API key (HTTP 401: AUTH_INVALID)",
        sync={"sent": 0, "rejected": 0, "pending": 1, "attempts": 1, "error": "refused"},
    )
    env = sync_env(receiver)
    assert cli("status", "--check", env=env).code == 9
    assert cli("sync", env=env).code == 0  # the key was fixed
    result = cli("status", "--check", env=env)
    assert result.code == 0, result.stderr
    assert "resolved" in result.stdout
    assert cli("status", "--json", env=env).json["data"]["lastRun"]["resolved"] is True


def test_last_sync_is_the_last_delivery_and_survives_later_failures(
    cli: CLI, home: Path, tmp_path: Path, receiver: ScriptedReceiver
) -> None:
    save(home, timedelta(minutes=1))
    sent = cli("sync", "--file", str(home / "usage-data.json"), env=sync_env(receiver))
    assert sent.code == 0, sent.stderr
    # Then a run fails before its sync (no login), and a sync fails (server gone).
    assert cli("run", env=sync_env(receiver)).code == 3
    down = sync_env(
        receiver,
        CLAUDE_SYNC_URL="http://127.0.0.1:9/api/claude/console-usage",
        CLAUDE_SYNC_DEADLINE="1",  # a refused connection is retried until the deadline
    )
    assert cli("sync", "--file", str(home / "usage-data.json"), env=down).code == 5
    result = cli("status", "--json", env=sync_env(receiver))
    data = result.json["data"]
    assert data["lastSync"]["ok"] is True and data["lastSync"]["sent"] == 1
    assert data["lastSync"]["message"].startswith("delivered 1 snapshot(s)")
    assert data["lastSyncAttempt"]["ok"] is False and data["lastSyncAttempt"]["exitCode"] == 5
    assert data["lastSyncAttempt"]["at"] > data["lastSync"]["at"]
    shown = cli("status", env=sync_env(receiver))
    text = shown.stdout + shown.stderr
    assert "Last sync  ✓" in text and "delivered 1 snapshot(s)" in text
    assert "last sync failed (exit 5)" in text, "the later failure is still a problem"


def test_a_home_that_does_not_exist_is_exit_7_not_an_empty_status(
    cli: CLI, home: Path, tmp_path: Path
) -> None:
    typo = tmp_path / "nonexistent"
    result = cli("status", "--home", str(typo), "--json")
    assert result.code == 7
    assert result.json["error"]["message"] == f"no such home: {typo}"
    assert "--home" in result.json["error"]["advice"]
    assert not typo.exists(), "status creates nothing"
    by_env = cli("status", env={"CONSOLESCRAPE_HOME": str(typo)})
    assert by_env.code == 7 and "no such home" in by_env.stderr
    assert "CONSOLESCRAPE_HOME" in by_env.stderr
    several = cli("status", "--home", str(typo), "--home", str(typo), "--json")
    assert several.code == 9, "each account says why; the verdict names both"
    assert several.json["data"]["accounts"][0]["exitCode"] == 7


def test_the_view_is_on_stdout_and_fits_80_columns_with_one_countdown_per_limit(
    cli: CLI, home: Path
) -> None:
    snapshot = save(home, timedelta(minutes=2))
    summary = f"{model.summary(snapshot)} · synced"  # as `run` records it: with its countdowns
    store.record_outcome(
        home / "state.json", "run", {"ok": True, "exitCode": 0, "message": summary}
    )
    result = cli("status", env={"COLUMNS": "80"})
    assert result.code == 0
    assert result.stderr == "", "nothing but the view, and the view is on stdout"
    lines = result.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), lines
    assert not any(line != line.rstrip() for line in lines), "no trailing blanks"
    assert result.stdout.count("resets in 2 hr") == 1, "one countdown for the session"
    assert "100 %" not in result.stdout
    assert "Last run   ✓" in result.stdout and "session 47% · all models 31%" in result.stdout
    wide = cli("status", env={"COLUMNS": "120"}).stdout
    assert wide.count("resets in 2 hr") == 1 and all(len(x) <= 120 for x in wide.splitlines())


def test_status_json_data_has_the_documented_keys_and_no_nested_data(cli: CLI, home: Path) -> None:
    save(home, timedelta(minutes=2))
    result = cli("status", "--json")
    assert result.stderr == "" and result.stdout.count("\n") == 1
    data = result.json["data"]
    assert set(data) == {
        "snapshot",
        "ageSeconds",
        "stale",
        "lastRun",
        "lastSync",
        "lastSyncAttempt",
        "outbox",
        "problems",
        "hint",
        "forecasts",
    }
    assert data["snapshot"]["currentSession"]["percentageUsed"] == 47
    docs = (Path(__file__).parent.parent / "docs" / "json.md").read_text()
    for key in data:
        assert f"`{key}`" in docs, f"docs/json.md does not describe status's {key}"


def test_several_homes_answer_the_same_whichever_holds_a_bad_setting_first(
    cli: CLI, home: Path, tmp_path: Path
) -> None:
    good = tmp_path / "good"
    save(good, timedelta(minutes=1))
    bad = tmp_path / "bad"
    bad.mkdir(mode=0o700)
    (bad / ".env").write_text("CONSOLESCRAPE_TIMEOUT=soon\n")
    answers = []
    for first, second in ((bad, good), (good, bad)):
        result = cli("status", "--json", "--home", str(first), "--home", str(second))
        accounts = {a["home"]: a for a in result.json["data"]["accounts"]}
        assert result.code == 9, "one verdict for the lot: an account needs attention"
        assert accounts[str(bad)]["exitCode"] == 7
        assert "CONSOLESCRAPE_TIMEOUT" in accounts[str(bad)]["error"]["message"]
        assert accounts[str(good)]["exitCode"] == 0
        assert accounts[str(good)]["status"]["snapshot"]["currentSession"]["percentageUsed"] == 47
        answers.append(sorted(accounts))
    assert answers[0] == answers[1]
