"""history.db, reset windows, the forecast and alert claims, on real SQLite files."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import file_mode

from consolescrape import alerts, forecast, history, model

T0 = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
RESET = T0 + timedelta(hours=5)


def snap(
    at: datetime, session: float, resets_at: datetime | None = RESET, weekly: float | None = None
) -> model.Snapshot:
    weekly_limits = {}
    if weekly is not None:
        weekly_limits["allModels"] = model.Limit("Thu 7:00 AM", weekly, T0 + timedelta(days=4))
    return model.Snapshot(
        last_updated=at,
        session=model.Limit("2 hr 42 min", session, resets_at),
        weekly=weekly_limits,
        source="api",
    )


def record(path: Path, *snapshots: model.Snapshot, at: tuple[int | float, ...] = ()) -> list[str]:
    """Record snapshots as consecutive runs would; the alerts each run claimed, as lines."""
    lines = []
    for snapshot in snapshots:
        with history.open_for_writing(path) as db, db.transaction():
            readings = db.record(snapshot)
            lines += [a.line() for a in alerts.claim(db, readings, at)]
    return lines


def test_a_new_database_is_private_versioned_and_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "home" / "history.db"
    record(path, snap(T0, 10, weekly=5))
    assert file_mode(path) == 0o600
    with history.open_for_writing(path) as db:
        assert db.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.db.execute("PRAGMA user_version").fetchone()[0] == history.SCHEMA_VERSION
        for sidecar in (path.with_name("history.db-wal"), path.with_name("history.db-shm")):
            assert file_mode(sidecar) == 0o600
    with history.open_for_reading(path) as reader:  # type: ignore[union-attr]
        rows = [p.to_json() for p in reader.points(T0 - timedelta(days=1))]
    assert rows == [
        {
            "scrapedAt": "2026-11-29T08:00:00.000Z",
            "limit": "currentSession",
            "percentageUsed": 10,
            "resetsAt": "2026-11-29T13:00:00.000Z",
            "resetsIn": "2 hr 42 min",
            "source": "api",
        },
        {
            "scrapedAt": "2026-11-29T08:00:00.000Z",
            "limit": "allModels",
            "percentageUsed": 5,
            "resetsAt": "2026-12-03T08:00:00.000Z",
            "resetsIn": "Thu 7:00 AM",
            "source": "api",
        },
    ]


def test_integers_stay_integers_and_fractions_stay_fractions(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    record(path, snap(T0, 47), snap(T0 + timedelta(minutes=5), 55.5))
    with history.open_for_reading(path) as reader:  # type: ignore[union-attr]
        percents = [p.percent for p in reader.points(T0)]
    assert percents == [47, 55.5] and isinstance(percents[0], int)


def test_an_older_schema_is_migrated_and_a_newer_one_refused(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    sqlite3.connect(path).close()  # version 0: an empty file from before the first migration
    record(path, snap(T0, 10))
    with history.open_for_reading(path) as reader:  # type: ignore[union-attr]
        assert len(reader.points(T0)) == 1
    with sqlite3.connect(path) as raw:
        raw.execute(f"PRAGMA user_version = {history.SCHEMA_VERSION + 1}")
    with pytest.raises(history.HistoryError, match="newer"):
        history.open_for_writing(path)


def test_retention_prunes_old_rows_at_most_once_a_day(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    now = T0 + timedelta(days=40)
    # A run every 5 days; the last (day 40) is the run that prunes, right after recording.
    record(path, *(snap(T0 + timedelta(days=d), 10, None) for d in range(0, 41, 5)))
    with history.open_for_writing(path) as db:
        # 30 days before the newest row it trusts (day 35, the run before): day 0 goes.
        assert db.prune(30, now) == 1
        record(path, snap(T0 - timedelta(days=400), 10, None))  # an old row after the prune
        assert db.prune(30, now + timedelta(hours=1)) == 0, "pruned again within a day"
        record(path, snap(now + timedelta(days=1), 10, None))  # the next day's run
        # A day later: the old row, and day 5 (30 days before day 40).
        assert db.prune(30, now + timedelta(days=1, minutes=1)) == 2


def _session_times(path: Path) -> list[datetime]:
    with history.open_for_reading(path) as reader:  # type: ignore[union-attr]
        return [p.scraped_at for p in reader.points(T0 - timedelta(days=9999))]


def test_a_clock_400_days_ahead_prunes_nothing_and_does_not_stop_pruning(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    runs = [T0 + timedelta(minutes=5 * i) for i in range(9)]
    record(path, *(snap(at, 10 + i) for i, at in enumerate(runs)))
    future = T0 + timedelta(days=400)
    record(path, snap(future, 30, future + timedelta(hours=5)))
    with history.open_for_writing(path) as db:
        assert db.prune(365, future) == 0, "a clock ahead pruned the real rows"
    assert len(_session_times(path)) == 10

    # The clock is right again the next day: pruning goes on (not held off for 400 days) and
    # drops what really is old, the rows from the future are kept.
    sane = T0 + timedelta(days=1)
    record(path, snap(T0 - timedelta(days=500), 5, None), snap(sane, 20, sane + timedelta(hours=5)))
    with history.open_for_writing(path) as db:
        assert db.prune(365, sane) == 1
    assert _session_times(path) == [*runs, sane, future]


def test_rows_from_the_future_are_not_the_latest_once_the_clock_is_right(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    lines = record(path, snap(T0, 70), snap(T0 + timedelta(minutes=5), 81), at=(80,))
    assert lines == ["alert: Current session at 81%, crossed 80% (resets in 2 hr 42 min)"]
    future = T0 + timedelta(days=400)
    record(path, snap(future, 85, future + timedelta(hours=5)), at=(80,))
    # Back in the real window: it goes on (no second alert for it), and the reading of the
    # future is neither the current window nor among the rows up to now.
    now = T0 + timedelta(minutes=10)
    assert record(path, snap(now, 83), at=(80,)) == []
    with history.open_for_reading(path) as reader:  # type: ignore[union-attr]
        window, points = reader.window_points(model.SESSION, now)
        assert window is not None and window.resets_at == RESET and window.last_percent == 83
        assert [p.percent for p in points] == [70, 81, 83]
        assert reader.points(T0, until=now)[-1].percent == 83


def test_a_damaged_file_and_a_busy_one_are_typed_errors_with_a_fix(tmp_path: Path) -> None:
    damaged = tmp_path / "history.db"
    damaged.write_bytes(b"this is not sqlite " * 400)
    with pytest.raises(history.HistoryError) as caught:
        record(damaged, snap(T0, 10))
    assert "damaged" in caught.value.message and f"mv {damaged}" in (caught.value.advice or "")

    busy = tmp_path / "busy.db"
    record(busy, snap(T0, 10))
    holder = sqlite3.connect(busy, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(history.HistoryError, match="held by another program"):
            record(busy, snap(T0 + timedelta(minutes=5), 12))
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_readers_do_not_wait_for_a_writer_in_the_middle_of_a_transaction(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    record(path, snap(T0, 10))
    with history.open_for_writing(path) as writer, writer.transaction():
        writer.record(snap(T0 + timedelta(minutes=5), 20))
        reader = history.open_for_reading(path)
        assert reader is not None
        assert [p.percent for p in reader.points(T0)] == [10], "sees the last commit only"
        reader.close()


# --- reset windows ----------------------------------------------------------------------------


def windows(path: Path) -> list[tuple[int, int | float]]:
    with history.open_for_reading(path) as reader:  # type: ignore[union-attr]
        rows = reader.db.execute("SELECT id, peak FROM windows ORDER BY id").fetchall()
    return [(row[0], row[1]) for row in rows]


def test_a_drifting_countdown_stays_one_window(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    drifts = [0, 1, -1, 2, -2, 1]  # minutes, as "2 hr 42 min" read at different seconds gives
    record(
        path,
        *(
            snap(T0 + timedelta(minutes=5 * i), 10 + i, RESET + timedelta(minutes=d))
            for i, d in enumerate(drifts)
        ),
    )
    assert windows(path) == [(1, 15)]


@pytest.mark.parametrize(
    ("second", "why"),
    [
        (snap(RESET + timedelta(minutes=10), 3, RESET + timedelta(hours=5)), "new reset time"),
        (snap(RESET + timedelta(minutes=10), 0, None), "reset passed, no reset time shown"),
        (snap(T0 + timedelta(minutes=30), 4, None), "percentage fell back, no reset time"),
    ],
)
def test_a_window_ends_when_its_reset_passed_or_the_percentage_falls(
    tmp_path: Path, second: model.Snapshot, why: str
) -> None:
    path = tmp_path / "history.db"
    record(path, snap(T0, 60), second)
    assert len(windows(path)) == 2, why


def test_a_stale_page_after_the_reset_time_does_not_open_window_after_window(
    tmp_path: Path,
) -> None:
    path = tmp_path / "history.db"
    late = [snap(RESET + timedelta(minutes=5 * i), 60, RESET) for i in range(1, 4)]
    record(path, snap(T0, 60), *late)
    assert len(windows(path)) == 1


def test_usage_that_wobbles_within_one_reset_time_is_one_window_and_alerts_once(
    tmp_path: Path,
) -> None:
    path = tmp_path / "history.db"
    percents = [79, 81, 79, 81, 79, 81]  # endpoint and page, or a refund, around a threshold
    runs = [snap(T0 + timedelta(minutes=5 * i), p) for i, p in enumerate(percents)]
    lines = record(path, *runs, at=(80,))
    assert lines == ["alert: Current session at 81%, crossed 80% (resets in 2 hr 42 min)"]
    assert windows(path) == [(1, 81)]


def test_a_rounding_difference_between_sources_is_not_a_reset(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    record(path, snap(T0, 55.5), snap(T0 + timedelta(minutes=5), 55))
    assert len(windows(path)) == 1


# --- alerts ---------------------------------------------------------------------------------


def test_a_threshold_fires_once_per_window_and_re_arms_after_the_reset(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    percents = [70, 81, 85, 90, 96]  # one run every 5 minutes
    first = [snap(T0 + timedelta(minutes=5 * i), p) for i, p in enumerate(percents)]
    lines = record(path, *first, at=(80, 95))
    assert lines == [
        "alert: Current session at 81%, crossed 80% (resets in 2 hr 42 min)",
        "alert: Current session at 96%, crossed 95% (resets in 2 hr 42 min)",
    ]
    later = RESET + timedelta(minutes=1)
    second = [
        snap(later, 10, RESET + timedelta(hours=5)),
        snap(later, 82, RESET + timedelta(hours=5)),
    ]
    assert record(path, *second, at=(80, 95)) == [
        "alert: Current session at 82%, crossed 80% (resets in 2 hr 42 min)"
    ]


def test_a_jump_over_several_thresholds_sends_one_alert_and_records_all(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    assert record(path, snap(T0, 10), snap(T0, 97), snap(T0, 98), at=(50, 80, 95)) == [
        "alert: Current session at 97%, crossed 95% (resets in 2 hr 42 min)"
    ]


def test_a_full_limit_that_resets_alerts_once(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    after = RESET + timedelta(minutes=3)
    lines = record(
        path,
        snap(T0, 100),
        snap(after, 0, None),
        snap(after + timedelta(minutes=5), 0, None),
        at=(100,),
    )
    assert lines == [
        "alert: Current session at 100%, crossed 100% (resets in 2 hr 42 min)",
        "alert: Current session has reset (now 0%, was at 100%)",
    ]


def test_an_alert_claimed_before_a_crash_is_not_sent_again(tmp_path: Path) -> None:
    """The claim commits with the rows; a run killed before sending never sends it twice."""
    path = tmp_path / "history.db"
    with history.open_for_writing(path) as db, db.transaction():
        claimed = alerts.claim(db, db.record(snap(T0, 85)), (80,))
    assert len(claimed) == 1  # ... and the process dies here, before alerts.send
    assert record(path, snap(T0 + timedelta(minutes=5), 86), at=(80,)) == []


def test_a_crash_before_the_commit_records_nothing_so_the_next_run_alerts(tmp_path: Path) -> None:
    path = tmp_path / "history.db"

    def killed_before_commit() -> None:
        with history.open_for_writing(path) as db, db.transaction():
            alerts.claim(db, db.record(snap(T0, 85)), (80,))
            raise KeyboardInterrupt  # killed between recording and the commit

    with pytest.raises(KeyboardInterrupt):
        killed_before_commit()
    assert record(path, snap(T0 + timedelta(minutes=5), 86), at=(80,)) == [
        "alert: Current session at 86%, crossed 80% (resets in 2 hr 42 min)"
    ]


RECORDER = """
import json, os, sys, time
doc = json.loads(sys.stdin.read())
with open(os.environ["ALERT_LOG"], "a") as log:
    log.write(json.dumps({**doc, "key": os.environ.get("CLAUDE_SYNC_API_KEY")}) + "\\n")
time.sleep(float(os.environ.get("ALERT_SLEEP", "0")))
sys.exit(int(os.environ.get("ALERT_EXIT", "0")))
"""


def recorder(path: Path) -> Path:
    """A real notifier: an executable script that appends its stdin to $ALERT_LOG."""
    path.write_text(f"#!{sys.executable}\n{RECORDER}")
    path.chmod(0o755)
    return path


def test_the_alert_command_reads_one_json_object_without_a_shell_or_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = recorder(tmp_path / "notify me.py")  # a space: split as one word, not by a shell
    log = tmp_path / "alerts.log"
    monkeypatch.setenv("ALERT_LOG", str(log))
    monkeypatch.setenv("CLAUDE_SYNC_API_KEY", "sk-never-to-a-notifier")
    warnings: list[str] = []
    alert = alerts.Alert("currentSession", "Current session", 81, 80, RESET, "2 hr", "crossed")
    command = f"'{script}' --flag"
    alerts.send([alert], command, warnings.append)
    assert warnings == ["alert: Current session at 81%, crossed 80% (resets in 2 hr)"]
    [line] = log.read_text().splitlines()
    assert json.loads(line) == {
        "limit": "currentSession",
        "label": "Current session",
        "percentageUsed": 81,
        "threshold": 80,
        "resetsAt": "2026-11-29T13:00:00.000Z",
        "resetsIn": "2 hr",
        "kind": "crossed",
        "key": None,
    }


def test_a_failing_hanging_or_missing_command_is_one_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = recorder(tmp_path / "notify.py")
    monkeypatch.setenv("ALERT_LOG", str(tmp_path / "alerts.log"))
    monkeypatch.setattr(alerts, "TIMEOUT", 1.0)  # 5 s in a run: the test is about the stopping
    doc: dict[str, object] = {"kind": "crossed"}
    warnings: list[str] = []
    monkeypatch.setenv("ALERT_EXIT", "3")
    assert not alerts.run_command(str(script), doc, warnings.append)
    monkeypatch.setenv("ALERT_EXIT", "0")
    monkeypatch.setenv("ALERT_SLEEP", "60")
    started = datetime.now(UTC)
    assert not alerts.run_command(str(script), doc, warnings.append)
    assert datetime.now(UTC) - started < timedelta(seconds=alerts.TIMEOUT + 3)
    assert not alerts.run_command(str(tmp_path / "no-such-notifier"), doc, warnings.append)
    assert [w.split(":")[0] for w in warnings] == [
        "alert command notify.py exited 3",
        "alert command notify.py took longer than 1 s and was stopped",
        "alert command no-such-notifier could not start",
    ]


# --- forecast -------------------------------------------------------------------------------


def points(*pairs: tuple[int, float]) -> list[history.Point]:
    return [
        history.Point(T0 + timedelta(minutes=m), "currentSession", p, RESET, "x", "api")
        for m, p in pairs
    ]


def test_the_forecast_names_when_100_is_reached_next_to_the_reset() -> None:
    now = T0 + timedelta(minutes=20)
    # 10 % per 10 min = 60 %/hr; at 40 % now, 100% is an hour away; the reset is 4 hr 40 away.
    found = forecast.forecast(points((0, 20), (10, 30), (20, 40)), RESET, now)
    assert found is not None
    assert round(found.pace_per_hour) == 60
    assert forecast.describe(found, now) == "at this pace 100% in ~1 hr — resets in 4 hr 40 min"
    # Where the limit's row already counts down (status), the forecast does not repeat it.
    assert forecast.describe(found, now, with_reset=False) == "at this pace 100% in ~1 hr"
    assert found.to_json()["reachesLimitBeforeReset"] is True


def test_a_slow_pace_wont_reach_it_before_the_reset() -> None:
    now = T0 + timedelta(minutes=20)
    found = forecast.forecast(points((0, 20), (10, 21), (20, 22)), RESET, now)
    assert found is not None
    assert forecast.describe(found, now) == (
        "at this pace it won't reach 100% before the reset — resets in 4 hr 40 min"
    )


@pytest.mark.parametrize(
    "few",
    [points((0, 20), (10, 30)), points((0, 20), (1, 21), (2, 22))],
    ids=["two points", "right after a reset"],
)
def test_no_forecast_from_too_few_points(few: list[history.Point]) -> None:
    assert forecast.forecast(few, RESET, T0 + timedelta(minutes=20)) is None


def test_help_does_not_load_sqlite() -> None:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "consolescrape", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "Usage" in done.stdout and "typer" in done.stderr
    assert "sqlite3" not in done.stderr


# --- settings ---------------------------------------------------------------------------------


def test_history_and_alert_settings_are_read_and_checked(home: Path) -> None:
    from consolescrape import config
    from consolescrape.errors import ConfigError

    settings = config.load()
    assert (settings.history_days, settings.alert_at, settings.alert_command) == (365, (), None)
    assert settings.history_file == home / "history.db" and settings.metrics_file is None
    env = {
        "CONSOLESCRAPE_HISTORY_DAYS": "30",
        "CONSOLESCRAPE_ALERT_AT": "95, 80,80,99.5",
        "CONSOLESCRAPE_ALERT_COMMAND": "notify-send 'Claude usage'",
        "CONSOLESCRAPE_METRICS_FILE": "~/metrics/consolescrape.prom",
    }
    settings = config.load(environ=env)
    assert settings.history_days == 30 and settings.alert_at == (80, 95, 99.5)
    assert settings.alert_command == "notify-send 'Claude usage'"
    assert settings.metrics_file == Path("~/metrics/consolescrape.prom").expanduser()
    for name, bad in [
        ("CONSOLESCRAPE_HISTORY_DAYS", "0"),
        ("CONSOLESCRAPE_HISTORY_DAYS", "1e9"),
        ("CONSOLESCRAPE_HISTORY_DAYS", "99999"),
        ("CONSOLESCRAPE_ALERT_AT", "0"),
        ("CONSOLESCRAPE_ALERT_AT", "80,101"),
        ("CONSOLESCRAPE_ALERT_AT", "80,,95"),
        ("CONSOLESCRAPE_ALERT_AT", "nan"),
        ("CONSOLESCRAPE_ALERT_COMMAND", "notify-send 'unbalanced"),
    ]:
        with pytest.raises(ConfigError, match=name):
            config.load(environ={name: bad})
